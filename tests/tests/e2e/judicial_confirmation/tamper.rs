//! Tampering with a real confirmation package the way a forger would: change bytes, drop or
//! add files, swap signatures, and re-hash and re-sign the manifest (with a key of their own,
//! or, to prove the deeper checks hold even then, with the platform's key), then run
//! `accord verify` on the result.

use std::io::{Cursor, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer as _;
use serde_json::{Value, json};

use super::world::Device;
use accord_cases::agreements::signing::Payload;
use sha2::Digest as _;

pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_SIGNATURE: &str = "manifest.sig.json";

/// A package's entries, in ZIP order.
#[derive(Clone)]
pub struct Entries(pub Vec<(String, Vec<u8>)>);

impl Entries {
    /// Reads every entry of `zip`.
    pub fn read(zip: &[u8]) -> Result<Entries> {
        let mut archive = zip::ZipArchive::new(Cursor::new(zip)).context("not a ZIP")?;
        let mut out = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let mut file = archive.by_index(i)?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            out.push((file.name().to_owned(), bytes));
        }
        Ok(Entries(out))
    }

    /// The ZIP of these entries (DEFLATE, as the server writes them).
    pub fn write(&self) -> Result<Vec<u8>> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in &self.0 {
            writer.start_file(name.as_str(), options)?;
            writer.write_all(bytes)?;
        }
        Ok(writer.finish()?.into_inner())
    }

    /// The bytes of `name`.
    pub fn get(&self, name: &str) -> Result<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
            .with_context(|| format!("no {name} in the package"))
    }

    /// Replaces the bytes of `name`.
    pub fn set(&mut self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let entry = self
            .0
            .iter_mut()
            .find(|(n, _)| n == name)
            .with_context(|| format!("no {name} in the package"))?;
        entry.1 = bytes;
        Ok(())
    }

    /// Flips one byte in the middle of `name`.
    pub fn flip_byte(&mut self, name: &str) -> Result<()> {
        let mut bytes = self.get(name)?.to_vec();
        let middle = bytes.len() / 2;
        let byte = bytes
            .get_mut(middle)
            .with_context(|| format!("{name} is empty"))?;
        *byte ^= 0x01;
        self.set(name, bytes)
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| n != name);
    }

    /// Every name matching `pred`, in ZIP order.
    pub fn names(&self, pred: impl Fn(&str) -> bool) -> Vec<String> {
        self.0
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| pred(n))
            .collect()
    }

    /// The signer directories (`signatures/<NN>-<signer>/`).
    pub fn signature_dirs(&self) -> Vec<String> {
        self.names(|n| n.starts_with("signatures/") && n.ends_with("/signature.json"))
            .into_iter()
            .map(|n| n.trim_end_matches("signature.json").to_owned())
            .collect()
    }

    /// Writes every listed file's current SHA-256 and size into the manifest, as a forger
    /// covering their tracks would.
    pub fn rehash_manifest(&mut self) -> Result<()> {
        let mut manifest: Value = serde_json::from_slice(self.get(MANIFEST)?)?;
        let files = manifest["files"]
            .as_array_mut()
            .context("the manifest has no files")?;
        for file in files.iter_mut() {
            let path = file["path"].as_str().context("a file without a path")?;
            if let Ok(bytes) = self.get(path) {
                file["sha256"] = Value::from(hex::encode(sha2::Sha256::digest(bytes)));
                file["size"] = Value::from(bytes.len());
            }
        }
        self.set(MANIFEST, serde_json::to_vec_pretty(&manifest)?)
    }

    /// Signs the manifest again: `sign(bytes)` gives (key id, public key b64, signature b64).
    pub fn resign_manifest(
        &mut self,
        sign: impl Fn(&[u8]) -> (String, String, String),
    ) -> Result<()> {
        let (key_id, public_key, signature) = sign(self.get(MANIFEST)?);
        let file = serde_json::json!({
            "algorithm": "Ed25519", "key_id": key_id, "public_key": public_key, "signature": signature,
        });
        self.set(MANIFEST_SIGNATURE, serde_json::to_vec_pretty(&file)?)
    }
}

/// An Ed25519 key that is not the platform's: what a forger has.
pub fn forger_signer() -> impl Fn(&[u8]) -> (String, String, String) {
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    move |bytes: &[u8]| {
        let public = key.verifying_key().to_bytes();
        (
            accord_cases::confirmation::package::key_id_of(&public),
            B64.encode(public),
            B64.encode(key.sign(bytes).to_bytes()),
        )
    }
}

/// The platform's own key, read from the server's data directory.
pub fn platform_signer(
    data_dir: &Path,
) -> Result<impl Fn(&[u8]) -> (String, String, String) + use<>> {
    let keys = accord_recordings::signing::PlatformKeys::load_or_create(
        &accord_recordings::signing::signing_dir(data_dir),
    )
    .map_err(|e| anyhow::anyhow!("the platform keys: {e}"))?;
    Ok(move |bytes: &[u8]| {
        let signature = keys.sign(bytes);
        (signature.key_id, signature.public_key, signature.signature)
    })
}

/// What `accord verify` said.
#[derive(Debug)]
pub struct Verdict {
    /// Its exit code.
    pub code: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Verdict {
    /// Whether a line reports a problem whose code starts with `code` at a path starting
    /// with `path` (`FAIL <path>: … [code]`).
    pub fn names(&self, path: &str, code: &str) -> bool {
        self.stdout.lines().any(|line| {
            line.starts_with(&format!("FAIL {path}")) && line.contains(&format!("[{code}"))
        })
    }

    /// Whether some line reports `code`.
    pub fn has_code(&self, code: &str) -> bool {
        self.stdout
            .lines()
            .any(|line| line.starts_with("FAIL ") && line.ends_with(&format!("[{code}]")))
    }
}

/// Runs `accord verify <package> <args…>`, for at most a minute.
pub async fn verify(package: &Path, args: &[&str]) -> Result<Verdict> {
    let bin = accord_tests::server::accord_binary()?;
    let mut command = tokio::process::Command::new(&bin);
    command
        .arg("verify")
        .arg(package)
        .args(args)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .context("accord verify ran for more than a minute")??;
    let Some(code) = output.status.code() else {
        bail!("accord verify ended by a signal: {:?}", output.status);
    };
    Ok(Verdict {
        code,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Writes `bytes` as `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// One tampered package and what `accord verify` must say of it.
pub struct Tampered {
    /// What was done.
    pub what: &'static str,
    /// The package's entries after it.
    pub entries: Entries,
    /// (path prefix, code prefix) pairs each reported.
    pub expect: Vec<(String, &'static str)>,
    /// Codes that must not be reported: the check that should catch it is the one named.
    pub forbid: Vec<&'static str>,
}

type Sign<'a> = &'a dyn Fn(&[u8]) -> (String, String, String);

/// The ways a forger alters `original`; `platform` signs as the platform does, `devices`
/// are the signers' own keys.
pub fn tampered_variants(
    original: &Entries,
    platform: Sign<'_>,
    devices: &[Device],
) -> Result<Vec<Tampered>> {
    let dirs = original.signature_dirs();
    anyhow::ensure!(
        dirs.len() >= 3,
        "two parties and the mediator signed: {dirs:?}"
    );
    let first_signature = format!("{}signature.json", dirs[0]);
    let second_signature = format!("{}signature.json", dirs[1]);
    let mut out = Vec::new();
    let mut variant = |what,
                       change: &dyn Fn(&mut Entries) -> Result<()>,
                       expect: Vec<(String, &'static str)>,
                       forbid: Vec<&'static str>|
     -> Result<()> {
        let mut entries = original.clone();
        change(&mut entries)?;
        out.push(Tampered {
            what,
            entries,
            expect,
            forbid,
        });
        Ok(())
    };
    variant(
        "a byte of the agreement PDF",
        &|e| e.flip_byte("agreement/agreement.pdf"),
        vec![("agreement/agreement.pdf".into(), "file_hash")],
        vec!["manifest_signature"],
    )?;
    variant(
        "a byte of a signature.json",
        &|e| e.flip_byte(&first_signature),
        vec![(first_signature.clone(), "file_hash")],
        vec!["manifest_signature"],
    )?;
    variant(
        "a byte of the audit trail",
        &|e| e.flip_byte("audit/audit.json"),
        vec![("audit/audit.json".into(), "file_hash")],
        vec!["manifest_signature"],
    )?;
    variant(
        "a file removed",
        &|e| {
            e.remove("index.zh.txt");
            Ok(())
        },
        vec![("index.zh.txt".into(), "file_missing")],
        vec!["manifest_signature"],
    )?;
    variant(
        "a file added",
        &|e| {
            e.0.push((
                "evidence/files/99-extra.txt".into(),
                "后加的材料".as_bytes().to_vec(),
            ));
            Ok(())
        },
        vec![("evidence/files/99-extra.txt".into(), "file_unlisted")],
        vec!["manifest_signature"],
    )?;
    // Two parties' signatures swapped and the manifest re-hashed: signed by a forger's key
    // the trusted list lacks, then, to show the deeper checks hold anyway, by the platform's.
    let swap = |e: &mut Entries| -> Result<()> {
        let (first, second) = (
            e.get(&first_signature)?.to_vec(),
            e.get(&second_signature)?.to_vec(),
        );
        e.set(&first_signature, second)?;
        e.set(&second_signature, first)?;
        e.rehash_manifest()
    };
    let forger = forger_signer();
    variant(
        "signatures swapped, the manifest signed by another key",
        &|e| {
            swap(e)?;
            e.resign_manifest(&forger)
        },
        vec![(MANIFEST_SIGNATURE.into(), "manifest_signature")],
        vec![],
    )?;
    variant(
        "signatures swapped, the manifest signed by the platform key",
        &|e| {
            swap(e)?;
            e.resign_manifest(platform)
        },
        vec![
            (first_signature.clone(), "signature_mismatch"),
            (second_signature.clone(), "signature_mismatch"),
        ],
        vec!["manifest_signature", "file_hash"],
    )?;
    // A signature over an outdated version, validly made by the signer's own key over a
    // payload in the exact form phones sign.
    let payload_path = format!("{}payload.json", dirs[0]);
    variant(
        "a signature over an outdated version",
        &|e| {
            let mut payload =
                Payload::parse(std::str::from_utf8(e.get(&payload_path)?)?).map_err(|rule| {
                    anyhow::anyhow!("the package's payload does not parse: {rule:?}")
                })?;
            payload.version -= 1;
            payload.text_sha256 = hex::encode(sha2::Sha256::digest("an earlier text"));
            let payload = payload.to_json();
            let device = devices
                .iter()
                .find(|d| dirs[0].contains(&d.signer))
                .context("the signer's device")?;
            let mut signature: Value = serde_json::from_slice(e.get(&first_signature)?)?;
            signature["signature_b64"] = json!(device.sign(payload.as_bytes()));
            e.set(&payload_path, payload.into_bytes())?;
            e.set(&first_signature, serde_json::to_vec(&signature)?)?;
            e.rehash_manifest()?;
            e.resign_manifest(platform)
        },
        vec![(payload_path.clone(), "signature_mismatch")],
        vec!["signature_invalid", "manifest_signature", "file_hash"],
    )?;
    // An audit entry altered, the manifest re-hashed and re-signed: the chain breaks.
    variant(
        "an audit entry altered",
        &|e| {
            let mut audit: Value = serde_json::from_slice(e.get("audit/audit.json")?)?;
            let entry = audit
                .as_array_mut()
                .and_then(|a| a.first_mut())
                .context("audit entries")?;
            entry["actor"] = json!("system:forged");
            e.set("audit/audit.json", serde_json::to_vec(&audit)?)?;
            e.rehash_manifest()?;
            e.resign_manifest(platform)
        },
        vec![("audit/audit.json".into(), "audit_chain")],
        vec!["manifest_signature", "file_hash"],
    )?;
    Ok(out)
}
