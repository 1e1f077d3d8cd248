//! `manifest.json`: what a recording holds (every file with its size and SHA-256, the tracks,
//! pauses and private-room gaps, the segment chain's head), signed in `manifest.sig` with the
//! platform's key over the file's exact bytes. The field order is part of the format: the
//! signature covers bytes, and the same manifest must serialise to the same bytes.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::signing::{PlatformKeys, Signature};

/// The manifest's file name in a recording folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The signature's file name in a recording folder.
pub const SIGNATURE_FILE: &str = "manifest.sig";
/// The value of [`Manifest::format`] this version writes and reads.
pub const FORMAT: &str = "accord-recording/1";

/// Read buffer for hashing: media files are large, and are never held in memory whole.
const HASH_BUFFER: usize = 64 * 1024;

/// How a recording ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestStatus {
    /// Stopped cleanly: the segment chain covers every log entirely.
    Complete,
    /// Finalised after a crash: the chain covers a prefix of the logs.
    Interrupted,
}

impl ManifestStatus {
    /// As the manifest spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Interrupted => "interrupted",
        }
    }
}

/// A recording's manifest (`accord-recording/1`). Times `*_at_ms` are unix ms; `start_ms`,
/// `end_ms`, `from_ms`, `to_ms` and `duration_ms` are on the session clock (ms since the
/// recording started).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The recording.
    pub recording_id: String,
    /// Its case.
    pub case_id: String,
    /// Its session.
    pub session_id: String,
    /// How it ended.
    pub status: ManifestStatus,
    /// Unix ms of session-clock zero.
    pub started_at_ms: u64,
    /// Unix ms when it ended (for an interrupted recording: the last thing its logs hold).
    pub ended_at_ms: u64,
    /// Session-clock length.
    pub duration_ms: u64,
    /// Every recorded track.
    pub tracks: Vec<ManifestTrack>,
    /// The mixed audio, when there was audio to mix.
    pub mixed_audio: Option<MixedAudio>,
    /// When the recording was paused.
    pub pauses: Vec<Pause>,
    /// Private (caucus) rooms: recorded or not, and the gaps they left.
    pub private_rooms: PrivateRooms,
    /// Every file of the folder but the manifest and its signature.
    pub files: Vec<FileEntry>,
    /// The segment chain's end.
    pub chain: ChainSummary,
    /// When it was signed (unix ms); set by [`Manifest::write`].
    pub signed_at_ms: u64,
    /// The signing key's id; set by [`Manifest::write`].
    pub key_id: String,
}

/// One recorded track.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestTrack {
    /// The SFU's track id.
    pub track_id: String,
    /// Its publisher's identity in the case (never a name).
    pub participant_id: String,
    /// Their role, when known.
    pub role: Option<String>,
    /// `audio` or `video`.
    pub kind: String,
    /// The codec's MIME type.
    pub codec: String,
    /// `joint` or `private`.
    pub space: String,
    /// The playable file, when one could be written.
    pub file: Option<String>,
    /// The RTP log (the master copy).
    pub log: String,
    /// Session time of its first media.
    pub start_ms: u64,
    /// Session time of its last media.
    pub end_ms: u64,
}

/// The mixed-audio file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixedAudio {
    /// Its file name.
    pub file: String,
    /// Session time it starts at.
    pub start_ms: u64,
    /// Session time it ends at.
    pub end_ms: u64,
}

/// A pause, on the session clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// Paused at.
    pub from_ms: u64,
    /// Resumed at (or the end).
    pub to_ms: u64,
}

/// Whether private rooms were recorded, and who was out of the recording when they were not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateRooms {
    /// The organisation's policy when the recording ran.
    pub recorded: bool,
    /// Times a participant spent in an unrecorded private room.
    pub gaps: Vec<PrivateGap>,
}

/// A participant's time in an unrecorded private room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateGap {
    /// The participant's identity in the case.
    pub participant_id: String,
    /// From.
    pub from_ms: u64,
    /// To.
    pub to_ms: u64,
}

/// The segment chain's end, as the manifest pins it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSummary {
    /// How many segments.
    pub segments: u64,
    /// The head after the last one (hex).
    pub head: String,
}

/// One file of the folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its name in the folder.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of its bytes (hex).
    pub sha256: String,
}

impl FileEntry {
    /// Hashes the file `name` in `dir`.
    pub fn of(dir: &Path, name: &str) -> Result<Self> {
        let path = dir.join(name);
        let file = std::fs::File::open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let (size, sha256) =
            hash_reader(file).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Ok(Self {
            name: name.to_owned(),
            size,
            sha256,
        })
    }

    /// Every file of `dir` but the manifest and its signature, by name. Finalising calls this
    /// last, once every other file is written.
    pub fn all_in(dir: &Path) -> Result<Vec<Self>> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
            let is_file = entry
                .file_type()
                .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
                .is_file();
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_file && name != MANIFEST_FILE && name != SIGNATURE_FILE {
                names.push(name);
            }
        }
        names.sort();
        names.iter().map(|name| Self::of(dir, name)).collect()
    }
}

/// Streams `reader` through SHA-256: its length and hex digest.
pub fn hash_reader(mut reader: impl Read) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; HASH_BUFFER];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// What [`Manifest::write`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestWritten {
    /// SHA-256 of `manifest.json`'s bytes (hex): what enters the case's audit chain.
    pub sha256: String,
    /// Bytes of `manifest.json`.
    pub bytes: u64,
}

impl Manifest {
    /// Signs with the current key and writes `manifest.json` and `manifest.sig` (both 0600,
    /// replacing earlier ones). Sets [`Manifest::key_id`] and [`Manifest::signed_at_ms`].
    pub fn write(&mut self, dir: &Path, keys: &PlatformKeys) -> Result<ManifestWritten> {
        self.key_id = keys.current_key_id().to_owned();
        self.signed_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Malformed(format!("manifest: {e}")))?;
        bytes.push(b'\n');
        let signature = keys.sign(&bytes);
        let mut sig_bytes = serde_json::to_vec_pretty(&signature)
            .map_err(|e| Error::Malformed(format!("signature: {e}")))?;
        sig_bytes.push(b'\n');
        write_private(&dir.join(MANIFEST_FILE), &bytes)?;
        write_private(&dir.join(SIGNATURE_FILE), &sig_bytes)?;
        Ok(ManifestWritten {
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes: bytes.len() as u64,
        })
    }

    /// Reads `manifest.json` from `dir` (without checking its signature: see
    /// [`crate::verify`]).
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Self::parse(&bytes)
    }

    /// Parses a manifest's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::Malformed(format!("manifest: {e}")))
    }

    /// Whether `name` is a file this manifest lists.
    pub fn lists(&self, name: &str) -> bool {
        self.files.iter().any(|f| f.name == name)
    }
}

/// Parses `manifest.sig`'s bytes.
pub fn parse_signature(bytes: &[u8]) -> Result<Signature> {
    serde_json::from_slice(bytes).map_err(|e| Error::Malformed(format!("signature: {e}")))
}

/// Writes `bytes` to `path` (created or replaced, 0600) and syncs it: a manifest that a crash
/// left half-written would look like tampering.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
