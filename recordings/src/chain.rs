//! The segment chain (`chain.jsonl`): while a recording runs, every few seconds each RTP log
//! that grew gets one entry hashing its new bytes, linked to the entry before. The server
//! stores the head as it goes, so a recording cut by a crash still proves its prefix: the
//! bytes the chain covers are the bytes that were there before the crash.
//!
//! An entry is `{seq, file, offset, length, sha256, prev, head}` with
//! `head = SHA-256(prev ‖ seq (u64 BE) ‖ file ‖ offset (u64 BE) ‖ length (u64 BE) ‖ sha256)`
//! over raw bytes (not hex), starting from the all-zero genesis head; `seq` counts from 1.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::archive::RecordingSource;
use crate::error::{Error, Result};
use crate::manifest::hash_reader;
use crate::verify::Problem;

/// The chain's file name in a recording folder.
pub const CHAIN_FILE: &str = "chain.jsonl";
/// The head before the first entry.
pub const GENESIS_HEAD: [u8; 32] = [0; 32];

/// One chained segment: `length` bytes of `file` from `offset`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainEntry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// The log's name in the folder.
    pub file: String,
    /// Where the segment starts in the log.
    pub offset: u64,
    /// Its bytes.
    pub length: u64,
    /// SHA-256 of those bytes (hex).
    pub sha256: String,
    /// The head before this entry (hex).
    pub prev: String,
    /// The head after it (hex).
    pub head: String,
}

/// Computes an entry's head from the previous head and its fields.
pub fn link(
    prev: &[u8; 32],
    seq: u64,
    file: &str,
    offset: u64,
    length: u64,
    sha256: &[u8],
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(seq.to_be_bytes());
    hasher.update(file.as_bytes());
    hasher.update(offset.to_be_bytes());
    hasher.update(length.to_be_bytes());
    hasher.update(sha256);
    hasher.finalize().into()
}

/// Where the chain stands after a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last entry's seq: the number of segments so far.
    pub seq: u64,
    /// The head (hex).
    pub head: String,
}

/// Appends to a recording's `chain.jsonl`.
#[derive(Debug)]
pub struct ChainWriter {
    file: File,
    path: PathBuf,
    head: [u8; 32],
    seq: u64,
    /// Per log: the bytes chained so far.
    covered: BTreeMap<String, u64>,
}

impl ChainWriter {
    /// Opens the chain of the recording folder `dir`, creating it (0600) or resuming it after
    /// a restart. A last line cut by a crash is dropped, so new entries link to the last whole
    /// one.
    pub fn open(dir: &Path) -> Result<Self> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = dir.join(CHAIN_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let parsed = parse_chain(BufReader::new(&mut file))
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if let Some(problem) = parsed.problem {
            return Err(Error::Integrity(format!("{CHAIN_FILE}: {problem}")));
        }
        file.set_len(parsed.valid_bytes)
            .and_then(|()| file.seek(SeekFrom::End(0)).map(drop))
            .map_err(|e| Error::io(format!("resuming {}", path.display()), e))?;
        let mut covered = BTreeMap::new();
        for entry in &parsed.entries {
            covered.insert(entry.file.clone(), entry.offset + entry.length);
        }
        let (seq, head) = match parsed.entries.last() {
            Some(last) => (last.seq, decode_hash(&last.head).unwrap_or(GENESIS_HEAD)),
            None => (0, GENESIS_HEAD),
        };
        Ok(Self {
            file,
            path,
            head,
            seq,
            covered,
        })
    }

    /// Chains what each log in `files` gained since its last entry, one entry per log that
    /// grew, appended and written through to the OS. Call it after flushing the logs, so that
    /// segments end on whole records. `None` when nothing grew.
    pub fn checkpoint<P: AsRef<Path>>(&mut self, files: &[P]) -> Result<Option<Checkpoint>> {
        let before = (self.seq, self.head, self.covered.clone());
        let appended = self.append_segments(files);
        match appended {
            Ok(false) => Ok(None),
            Ok(true) => Ok(Some(Checkpoint {
                seq: self.seq,
                head: hex::encode(self.head),
            })),
            Err(e) => {
                // Nothing of a failed checkpoint counts: the next one chains the same bytes
                // again, linked to the last entry that reached the file.
                (self.seq, self.head, self.covered) = before;
                Err(e)
            }
        }
    }

    /// Builds the entries for what grew and writes them; whether there were any.
    fn append_segments<P: AsRef<Path>>(&mut self, files: &[P]) -> Result<bool> {
        let mut lines = Vec::new();
        for path in files {
            let path = path.as_ref();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| Error::Malformed(format!("log file name {}", path.display())))?
                .to_owned();
            let covered = self.covered.get(&name).copied().unwrap_or(0);
            let mut log = File::open(path)
                .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
            let size = log
                .metadata()
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
                .len();
            if size < covered {
                return Err(Error::Integrity(format!(
                    "{name} shrank to {size} bytes below the {covered} already chained"
                )));
            }
            if size == covered {
                continue;
            }
            let length = size - covered;
            log.seek(SeekFrom::Start(covered))
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            let (read, digest) = hash_reader(log.take(length))
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            if read != length {
                return Err(Error::Integrity(format!(
                    "{name} changed while being chained"
                )));
            }
            let entry = self.next_entry(name, covered, length, &digest)?;
            let mut line = serde_json::to_vec(&entry)
                .map_err(|e| Error::Malformed(format!("chain entry: {e}")))?;
            line.push(b'\n');
            lines.extend_from_slice(&line);
        }
        if lines.is_empty() {
            return Ok(false);
        }
        let path = &self.path;
        let written = self
            .file
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .len();
        // One write per checkpoint: a crash cuts at most its last line, which `open` drops.
        if let Err(e) = self.file.write_all(&lines) {
            // A short write would leave half a line for the next entries to follow.
            let _ = self.file.set_len(written);
            let _ = self.file.seek(SeekFrom::Start(written));
            return Err(Error::io(format!("appending to {}", path.display()), e));
        }
        Ok(true)
    }

    fn next_entry(
        &mut self,
        file: String,
        offset: u64,
        length: u64,
        digest: &str,
    ) -> Result<ChainEntry> {
        let digest_bytes =
            hex::decode(digest).map_err(|_| Error::Malformed("segment digest".into()))?;
        let seq = self.seq + 1;
        let head = link(&self.head, seq, &file, offset, length, &digest_bytes);
        let entry = ChainEntry {
            seq,
            file: file.clone(),
            offset,
            length,
            sha256: digest.to_owned(),
            prev: hex::encode(self.head),
            head: hex::encode(head),
        };
        self.seq = seq;
        self.head = head;
        self.covered.insert(file, offset + length);
        Ok(entry)
    }

    /// The current head (hex).
    pub fn head(&self) -> String {
        hex::encode(self.head)
    }

    /// How many segments the chain holds.
    pub fn segments(&self) -> u64 {
        self.seq
    }
}

/// What `chain.jsonl` holds, read leniently enough to resume after a crash.
struct ParsedChain {
    entries: Vec<ChainEntry>,
    /// Bytes of whole, well-linked lines.
    valid_bytes: u64,
    /// A last line without its newline (a crash cut it).
    cut_tail: bool,
    /// The first entry that does not parse or link, with its seq when known.
    problem: Option<String>,
}

fn parse_chain(mut reader: impl BufRead) -> std::io::Result<ParsedChain> {
    let mut parsed = ParsedChain {
        entries: Vec::new(),
        valid_bytes: 0,
        cut_tail: false,
        problem: None,
    };
    let mut head = GENESIS_HEAD;
    let mut covered: BTreeMap<String, u64> = BTreeMap::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let Some(body) = line.strip_suffix(b"\n") else {
            // Each checkpoint is one write of whole lines, so a line without its newline is
            // the one a crash cut: not an entry, not tampering.
            parsed.cut_tail = true;
            break;
        };
        let seq = parsed.entries.len() as u64 + 1;
        let Ok(entry) = serde_json::from_slice::<ChainEntry>(body) else {
            parsed.problem = Some(format!("line {seq} is not a chain entry"));
            break;
        };
        let expected_offset = covered.get(&entry.file).copied().unwrap_or(0);
        if let Err(problem) = check_link(&entry, &head, seq, expected_offset) {
            parsed.problem = Some(format!("segment {seq}: {problem}"));
            break;
        }
        head = decode_hash(&entry.head).unwrap_or(GENESIS_HEAD);
        covered.insert(entry.file.clone(), entry.offset + entry.length);
        parsed.valid_bytes += line.len() as u64;
        parsed.entries.push(entry);
    }
    Ok(parsed)
}

/// Checks one entry against the chain before it (not against the log's bytes).
fn check_link(
    entry: &ChainEntry,
    head: &[u8; 32],
    seq: u64,
    offset: u64,
) -> std::result::Result<(), String> {
    if entry.seq != seq {
        return Err(format!("seq {} where {seq} was due", entry.seq));
    }
    if !is_plain_name(&entry.file) {
        return Err(format!("file {:?} is not a name in the folder", entry.file));
    }
    if decode_hash(&entry.prev) != Some(*head) {
        return Err("prev is not the head before it".into());
    }
    if entry.offset != offset {
        return Err(format!(
            "starts at byte {} of {}, but the previous segment ended at {offset}",
            entry.offset, entry.file
        ));
    }
    let digest = decode_hash(&entry.sha256).ok_or("sha256 is not a SHA-256")?;
    let recomputed = link(
        head,
        entry.seq,
        &entry.file,
        entry.offset,
        entry.length,
        &digest,
    );
    if decode_hash(&entry.head) != Some(recomputed) {
        return Err("head does not hash from its fields".into());
    }
    Ok(())
}

/// A file name with no directory part: entries and manifests never point outside the folder.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

/// The result of checking a chain against its logs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    /// Segments that verified, from the first up to the first bad one.
    pub segments: u64,
    /// The head after them (hex).
    pub head: String,
    /// Per log: how many of its bytes those segments cover.
    pub covered: BTreeMap<String, u64>,
    /// The first bad entry, naming the log (or `chain.jsonl` when the chain itself is broken).
    pub problem: Option<Problem>,
    /// The last line was cut (a crash during a checkpoint): ignored.
    pub cut_tail: bool,
}

impl ChainCheck {
    /// Whether every entry verified.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Checks the chain of the recording folder `dir` against its logs.
pub fn verify_chain(dir: &Path) -> ChainCheck {
    let mut source = RecordingSource::Folder(dir.to_owned());
    check_chain(&mut source)
}

/// Checks the chain of a recording (folder or ZIP): each segment's bytes hash as recorded,
/// heads link from the genesis head, and each log's segments are contiguous from its start.
pub fn check_chain(source: &mut RecordingSource) -> ChainCheck {
    let mut check = ChainCheck {
        head: hex::encode(GENESIS_HEAD),
        ..ChainCheck::default()
    };
    let parsed = match source.open_file(CHAIN_FILE) {
        Ok(Some(reader)) => parse_chain(BufReader::new(reader)),
        Ok(None) => {
            check.problem = Some(Problem::new(CHAIN_FILE, "missing"));
            return check;
        }
        Err(e) => Err(std::io::Error::other(e.to_string())),
    };
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            check.problem = Some(Problem::new(CHAIN_FILE, format!("cannot be read: {e}")));
            return check;
        }
    };
    check.cut_tail = parsed.cut_tail;
    // The first bad seq and what is wrong with it; entries after it prove nothing.
    let mut first_bad: Option<(u64, Problem)> = parsed
        .problem
        .map(|p| (parsed.entries.len() as u64 + 1, Problem::new(CHAIN_FILE, p)));
    let mut by_file: BTreeMap<&str, Vec<&ChainEntry>> = BTreeMap::new();
    for entry in &parsed.entries {
        by_file.entry(entry.file.as_str()).or_default().push(entry);
    }
    for (file, entries) in by_file {
        if let Some((seq, problem)) = check_segments(source, file, &entries)
            && first_bad.as_ref().is_none_or(|(bad, _)| seq < *bad)
        {
            first_bad = Some((seq, problem));
        }
    }
    let verified_up_to = first_bad.as_ref().map_or(u64::MAX, |(seq, _)| *seq);
    for entry in parsed.entries.iter().take_while(|e| e.seq < verified_up_to) {
        check.segments = entry.seq;
        check.head.clone_from(&entry.head);
        check
            .covered
            .insert(entry.file.clone(), entry.offset + entry.length);
    }
    check.problem = first_bad.map(|(_, problem)| problem);
    check
}

/// Streams one log through its segments (which [`check_link`] made contiguous from byte 0):
/// the first that does not hash as chained, with its seq.
fn check_segments(
    source: &mut RecordingSource,
    file: &str,
    entries: &[&ChainEntry],
) -> Option<(u64, Problem)> {
    let first = entries.first()?.seq;
    let mut reader = match source.open_file(file) {
        Ok(Some(reader)) => reader,
        Ok(None) => {
            return Some((
                first,
                Problem::new(file, format!("missing, but segment {first} chains it")),
            ));
        }
        Err(e) => return Some((first, Problem::new(file, format!("cannot be read: {e}")))),
    };
    for entry in entries {
        let end = entry.offset + entry.length;
        let range = format!("segment {} (bytes {}..{end})", entry.seq, entry.offset);
        match hash_reader((&mut reader).take(entry.length)) {
            Ok((read, _)) if read < entry.length => {
                let size = entry.offset + read;
                return Some((
                    entry.seq,
                    Problem::new(file, format!("{range}: the log ends at byte {size}")),
                ));
            }
            Ok((_, digest)) if digest != entry.sha256 => {
                return Some((
                    entry.seq,
                    Problem::new(file, format!("{range} does not match its chained hash")),
                ));
            }
            Ok(_) => {}
            Err(e) => {
                return Some((
                    entry.seq,
                    Problem::new(file, format!("{range} cannot be read: {e}")),
                ));
            }
        }
    }
    None
}
