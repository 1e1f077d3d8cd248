//! Offline verification of a recording, a folder or its exported ZIP: the one check behind
//! `accord verify`, the review page's integrity result and the check after finalising.
//!
//! It needs no server and no database: the signature names its public key, the manifest
//! names every file with its SHA-256, and the segment chain proves what the logs held while
//! the recording ran. Every problem names the file it is about.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::archive::RecordingSource;
use crate::chain::{CHAIN_FILE, ChainCheck, check_chain, is_plain_name};
use crate::error::Result;
use crate::manifest::{
    FORMAT, MANIFEST_FILE, Manifest, ManifestStatus, SIGNATURE_FILE, hash_reader, parse_signature,
};
use crate::signing::{PublicKeyInfo, Signature, decode_public_key, verify_signature};

/// Manifests and signatures are small; anything bigger is not one.
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// One thing wrong with a recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The file it is about, by its name in the recording (`manifest.json`, `manifest.sig`,
    /// `chain.jsonl` or a media file or log).
    pub file: String,
    /// What is wrong, for people.
    pub problem: String,
}

impl Problem {
    /// A problem with `file`.
    pub fn new(file: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            problem: problem.into(),
        }
    }
}

/// How much of one log the segment chain proves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCoverage {
    /// The log.
    pub file: String,
    /// Bytes from its start that verified against the chain.
    pub chained_bytes: u64,
    /// Its size, as the manifest lists it.
    pub size: u64,
}

/// The result of [`verify_recording`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Nothing is wrong.
    pub ok: bool,
    /// The recording, as its manifest names it (empty when the manifest is unreadable).
    pub recording_id: String,
    /// How it ended, as its manifest says.
    pub status: Option<ManifestStatus>,
    /// The key that signed the manifest (empty when there is no readable signature).
    pub key_id: String,
    /// SHA-256 of that public key (hex), to compare with a key published elsewhere.
    pub key_fingerprint: String,
    /// Whether that key is one of the trusted keys given; `None`: not checked against a
    /// published key.
    pub key_trusted: Option<bool>,
    /// Files the manifest lists.
    pub files: usize,
    /// Segments of the chain that verified.
    pub segments: u64,
    /// What the chain proves of each log.
    pub coverage: Vec<LogCoverage>,
    /// Everything wrong, each naming its file.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// What `accord verify` prints: one `FAIL <file>: <problem>` line per problem, or one
    /// `OK` line; a note follows when the key was not checked against a published one.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .problems
            .iter()
            .map(|p| format!("FAIL {}: {}", p.file, p.problem))
            .collect();
        if self.ok {
            let status = self.status.map_or("unknown", ManifestStatus::as_str);
            lines.push(format!(
                "OK {} ({status}, {} files, signed by key {})",
                self.recording_id, self.files, self.key_id
            ));
            if self.status == Some(ManifestStatus::Interrupted) {
                for log in &self.coverage {
                    lines.push(format!(
                        "  {}: first {} of {} bytes proven by the segment chain",
                        log.file, log.chained_bytes, log.size
                    ));
                }
            }
        }
        if self.key_trusted.is_none() && !self.key_id.is_empty() {
            lines.push(format!(
                "  key {} (fingerprint {}) not checked against a published key",
                self.key_id, self.key_fingerprint
            ));
        }
        lines
    }

    fn fail(&mut self, file: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(Problem::new(file, problem));
    }
}

/// Verifies the recording at `path` (its folder, or its ZIP): the signature over
/// `manifest.json` (and, when `trusted` is given, that the key is one of them); every listed
/// file's size and SHA-256; that no file is there unlisted; that the segment chain verifies
/// against the logs and ends where the manifest says; for a complete recording, that the chain
/// covers every log whole (an interrupted one's chain covers a prefix).
///
/// Problems with the recording are in the report; an `Err` means the input could not be read
/// as a recording at all (no such path, not a ZIP).
pub fn verify_recording(path: &Path, trusted: Option<&[PublicKeyInfo]>) -> Result<VerifyReport> {
    let mut source = RecordingSource::open(path)?;
    let mut report = VerifyReport::default();
    let manifest_bytes = read_small(&mut source, MANIFEST_FILE, &mut report)?;
    let signature_bytes = read_small(&mut source, SIGNATURE_FILE, &mut report)?;
    let signature = signature_bytes.and_then(|bytes| match parse_signature(&bytes) {
        Ok(signature) => Some(signature),
        Err(e) => {
            report.fail(SIGNATURE_FILE, e.to_string());
            None
        }
    });
    if let Some(signature) = &signature {
        check_key(signature, trusted, &mut report);
        if let Some(bytes) = &manifest_bytes
            && let Err(problem) = verify_signature(signature, bytes)
        {
            report.fail(SIGNATURE_FILE, problem);
        }
    }
    let Some(manifest_bytes) = manifest_bytes else {
        return Ok(finish(report));
    };
    let manifest = match Manifest::parse(&manifest_bytes) {
        Ok(manifest) => manifest,
        Err(e) => {
            report.fail(MANIFEST_FILE, e.to_string());
            return Ok(finish(report));
        }
    };
    report.recording_id.clone_from(&manifest.recording_id);
    report.status = Some(manifest.status);
    report.files = manifest.files.len();
    if manifest.format != FORMAT {
        report.fail(
            MANIFEST_FILE,
            format!("format {:?} is not {FORMAT}", manifest.format),
        );
    }
    if let Some(signature) = &signature
        && signature.key_id != manifest.key_id
    {
        report.fail(
            SIGNATURE_FILE,
            format!(
                "signed by key {}, the manifest names key {}",
                signature.key_id, manifest.key_id
            ),
        );
    }
    check_listing(&manifest, &mut report);
    check_files(&mut source, &manifest, &mut report)?;
    let chain = check_chain(&mut source);
    check_chain_against(&manifest, &chain, &mut report);
    Ok(finish(report))
}

fn finish(mut report: VerifyReport) -> VerifyReport {
    report.ok = report.problems.is_empty();
    report
}

fn read_small(
    source: &mut RecordingSource,
    name: &str,
    report: &mut VerifyReport,
) -> Result<Option<Vec<u8>>> {
    match source.read_small(name, MAX_MANIFEST_BYTES) {
        Ok(Some(bytes)) => Ok(Some(bytes)),
        Ok(None) => {
            report.fail(name, "missing");
            Ok(None)
        }
        Err(crate::Error::Malformed(problem)) => {
            report.fail(name, problem);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn check_key(signature: &Signature, trusted: Option<&[PublicKeyInfo]>, report: &mut VerifyReport) {
    report.key_id.clone_from(&signature.key_id);
    let Ok(key) = decode_public_key(&signature.public_key) else {
        // verify_signature reports the bad key itself.
        return;
    };
    report.key_fingerprint = hex::encode(Sha256::digest(key.as_bytes()));
    let Some(trusted) = trusted else {
        return;
    };
    let known = trusted
        .iter()
        .any(|t| decode_public_key(&t.public_key).is_ok_and(|k| k.as_bytes() == key.as_bytes()));
    report.key_trusted = Some(known);
    if !known {
        report.fail(
            SIGNATURE_FILE,
            format!(
                "signed by key {}, which is not one of the trusted keys",
                signature.key_id
            ),
        );
    }
}

/// The manifest's own consistency: names are plain and unique, and what the tracks and the
/// mixed audio name is listed.
fn check_listing(manifest: &Manifest, report: &mut VerifyReport) {
    let mut seen = BTreeSet::new();
    for entry in &manifest.files {
        if !is_plain_name(&entry.name)
            || entry.name == MANIFEST_FILE
            || entry.name == SIGNATURE_FILE
        {
            report.fail(
                MANIFEST_FILE,
                format!("lists {:?}, which cannot be a recording file", entry.name),
            );
        } else if !seen.insert(entry.name.as_str()) {
            report.fail(MANIFEST_FILE, format!("lists {} twice", entry.name));
        }
    }
    let named = manifest
        .tracks
        .iter()
        .flat_map(|t| std::iter::once(&t.log).chain(t.file.as_ref()))
        .chain(manifest.mixed_audio.as_ref().map(|m| &m.file));
    for name in named {
        if !manifest.lists(name) {
            report.fail(
                MANIFEST_FILE,
                format!("names {name}, which it does not list"),
            );
        }
    }
}

/// Every listed file is there with its size and hash; nothing else is there.
fn check_files(
    source: &mut RecordingSource,
    manifest: &Manifest,
    report: &mut VerifyReport,
) -> Result<()> {
    for entry in &manifest.files {
        if !is_plain_name(&entry.name) {
            continue;
        }
        let reader = match source.open_file(&entry.name) {
            Ok(Some(reader)) => reader,
            Ok(None) => {
                report.fail(&entry.name, "missing");
                continue;
            }
            // A damaged ZIP entry is that file's problem, not the end of the check.
            Err(e) => {
                report.fail(&entry.name, format!("cannot be read: {e}"));
                continue;
            }
        };
        match hash_reader(reader) {
            Ok((size, _)) if size != entry.size => {
                report.fail(
                    &entry.name,
                    format!("{size} bytes, the manifest says {}", entry.size),
                );
            }
            Ok((_, sha256)) if sha256 != entry.sha256 => {
                report.fail(&entry.name, "SHA-256 does not match the manifest");
            }
            Ok(_) => {}
            Err(e) => report.fail(&entry.name, format!("cannot be read: {e}")),
        }
    }
    for name in source.file_names()? {
        let companion = name == MANIFEST_FILE || name == SIGNATURE_FILE;
        if !companion && !manifest.lists(&name) {
            report.fail(&name, "not listed in the manifest");
        }
    }
    Ok(())
}

/// The chain verifies, ends where the manifest says, and covers the logs as the status
/// requires.
fn check_chain_against(manifest: &Manifest, chain: &ChainCheck, report: &mut VerifyReport) {
    report.segments = chain.segments;
    if let Some(problem) = &chain.problem {
        report.problems.push(problem.clone());
    } else if chain.segments != manifest.chain.segments || chain.head != manifest.chain.head {
        report.fail(
            CHAIN_FILE,
            format!(
                "ends at segment {} (head {}), the manifest says segment {} (head {})",
                chain.segments, chain.head, manifest.chain.segments, manifest.chain.head
            ),
        );
    }
    for entry in manifest.files.iter().filter(|f| is_log(manifest, &f.name)) {
        let chained_bytes = chain.covered.get(&entry.name).copied().unwrap_or(0);
        report.coverage.push(LogCoverage {
            file: entry.name.clone(),
            chained_bytes,
            size: entry.size,
        });
        if manifest.status == ManifestStatus::Complete && chained_bytes != entry.size && chain.ok()
        {
            report.fail(
                &entry.name,
                format!(
                    "bytes {chained_bytes}..{} are not in the segment chain of a complete recording",
                    entry.size
                ),
            );
        }
    }
}

fn is_log(manifest: &Manifest, name: &str) -> bool {
    name.ends_with(".rtplog") || manifest.tracks.iter().any(|t| t.log == name)
}
