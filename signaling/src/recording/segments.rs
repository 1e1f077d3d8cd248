//! A running recording's files reach the blob store while it runs, so that a node that dies
//! mid-session does not take the recording with it.
//!
//! At each of the recorder's checkpoints (every 5 s) the pieces of the track logs that the
//! segment chain has just covered are stored as blobs, each the very bytes a chain entry
//! hashes, then the new whole lines of `chain.jsonl` and of `events.jsonl`, and every piece is
//! listed in the case store ([`Store::add_recording_segment`]). In that order, what is stored
//! is always a folder the recorder could have left at a crash: the chain covers only log bytes
//! that are stored, and the events name every track whose log the chain covers (the recorder
//! appends a track's event before its log is ever chained). A live node takes a dead node's
//! recording over by [`rebuild`]ing that folder from the pieces and finalising it as after any
//! crash (`finish::recover`): `interrupted`, signed, audited.
//!
//! Only a node of a cluster does this: a single node's folder is on the disk it restarts with,
//! and storing every piece twice would only cost it. The pieces go once the recording's own
//! files are stored (`discard`).
//!
//! [`Store::add_recording_segment`]: accord_cases::store::Store::add_recording_segment

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use accord_cases::blobs::{Blob, BlobStore};
use accord_cases::ids::RecordingId;
use accord_cases::store::model::RecordingSegment;
use accord_recordings::chain::{CHAIN_FILE, ChainEntry, is_plain_name};
use accord_recordings::recorder::events::{EVENTS_FILE, FolderEvent};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::AppState;
use crate::error::{Error, Result};

/// How long one piece may take to reach the blob store or come back from it.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(30);

/// A running recording's uploader, told of each checkpoint; dropping it ends the uploader
/// once the piece it is storing is stored.
pub struct Uploads {
    checkpoints: mpsc::Sender<()>,
}

impl Uploads {
    /// The recorder reached a checkpoint: store what it covered. Checkpoints that come while
    /// the uploader is busy fold into one (the next round stores everything new).
    pub fn checkpoint(&self) {
        let _ = self.checkpoints.try_send(());
    }
}

/// Starts storing recording `id`'s pieces from its folder `dir`, if this node is one of
/// several (the recorder's watch tells it of each checkpoint).
pub fn start(state: &AppState, id: RecordingId, dir: PathBuf) -> Option<Uploads> {
    if !state.cluster().clustered() {
        return None;
    }
    let (checkpoints, mut next) = mpsc::channel(1);
    let state = state.clone();
    tokio::spawn(async move {
        let mut pieces = Pieces::new(id, dir);
        while next.recv().await.is_some() {
            match pieces.store_new(&state).await {
                Ok(_) => {}
                Err(Stop::Ended) => return,
                // Tried again at the next checkpoint, from where it stopped.
                Err(Stop::Failed(e)) => {
                    tracing::warn!(error = %e, recording = %pieces.id,
                        "cannot store a running recording's pieces; trying at the next checkpoint");
                }
            }
        }
    });
    Some(Uploads { checkpoints })
}

/// Why a round of storing pieces stopped.
#[derive(Debug)]
pub enum Stop {
    /// The recording is no longer running: its own files are (being) stored.
    Ended,
    /// Something failed; the next round starts where this one stopped.
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Ended => f.write_str("the recording has ended"),
            Stop::Failed(e) => e.fmt(f),
        }
    }
}

/// What of one recording's folder has been stored: per file, the bytes from its start.
pub struct Pieces {
    id: RecordingId,
    dir: PathBuf,
    stored: HashMap<String, u64>,
}

impl Pieces {
    /// Nothing of folder `dir` of recording `id` stored yet.
    pub fn new(id: RecordingId, dir: PathBuf) -> Self {
        Self {
            id,
            dir,
            stored: HashMap::new(),
        }
    }

    fn stored(&self, file: &str) -> u64 {
        self.stored.get(file).copied().unwrap_or(0)
    }

    /// Stores what the folder gained since the last round (see the module docs for the
    /// order); returns the pieces stored.
    pub async fn store_new(&mut self, state: &AppState) -> std::result::Result<usize, Stop> {
        let mut count = 0;
        let chain_from = self.stored(CHAIN_FILE);
        let chain = whole_lines(&self.dir.join(CHAIN_FILE), chain_from).await?;
        for line in chain.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let entry: ChainEntry = serde_json::from_slice(line).map_err(|e| {
                Error::Internal(format!("{CHAIN_FILE} has a line that is not an entry: {e}"))
            })?;
            if !is_plain_name(&entry.file) {
                return Err(Error::Internal(format!("{CHAIN_FILE} names {:?}", entry.file)).into());
            }
            let end = entry.offset.saturating_add(entry.length);
            let have = self.stored(&entry.file);
            if have >= end {
                continue;
            }
            if have != entry.offset {
                return Err(Error::Internal(format!(
                    "{} is chained from byte {} but stored to byte {have}",
                    entry.file, entry.offset
                ))
                .into());
            }
            let bytes = read_range(&self.dir.join(&entry.file), entry.offset, entry.length).await?;
            // The bytes the chain hashed, or the log changed under the recorder.
            if hex::encode(Sha256::digest(&bytes)) != entry.sha256 {
                return Err(Error::Internal(format!(
                    "{} from byte {} does not hash as its chain entry says",
                    entry.file, entry.offset
                ))
                .into());
            }
            self.put(state, &entry.file, entry.offset, bytes).await?;
            count += 1;
        }
        if !chain.is_empty() {
            self.put(state, CHAIN_FILE, chain_from, chain).await?;
            count += 1;
        }
        let events_from = self.stored(EVENTS_FILE);
        let events = whole_lines(&self.dir.join(EVENTS_FILE), events_from).await?;
        if !events.is_empty() {
            self.put(state, EVENTS_FILE, events_from, events).await?;
            count += 1;
        }
        Ok(count)
    }

    async fn put(
        &mut self,
        state: &AppState,
        file: &str,
        start: u64,
        bytes: Vec<u8>,
    ) -> std::result::Result<(), Stop> {
        let blob = put_bytes(state.blobs(), &bytes).await?;
        let segment = RecordingSegment {
            file: file.to_owned(),
            start: i64::try_from(start).unwrap_or(i64::MAX),
            size: i64::try_from(blob.size).unwrap_or(i64::MAX),
            sha256: blob.sha256.clone(),
        };
        let listed = state
            .store()
            .add_recording_segment(&self.id, &segment)
            .await
            .map_err(Error::from)?;
        if !listed {
            // Finalised meanwhile: its own files are stored, and this piece is nobody's.
            forget_blob(state, &blob.sha256).await;
            return Err(Stop::Ended);
        }
        self.stored.insert(file.to_owned(), start + blob.size);
        Ok(())
    }
}

/// Stores `bytes` as a blob, within [`TRANSFER_TIMEOUT`].
async fn put_bytes(blobs: &dyn BlobStore, bytes: &[u8]) -> Result<Blob> {
    let put = async {
        let mut writer = blobs.writer().await?;
        writer.write(bytes).await?;
        writer.finish().await
    };
    match tokio::time::timeout(TRANSFER_TIMEOUT, put).await {
        Ok(stored) => Ok(stored?),
        Err(_) => Err(Error::Unavailable(
            "the blob store did not take a recording's piece in time".into(),
        )),
    }
}

/// The bytes of `path` from `from` up to its last newline (a line being written is left for
/// the next round); empty when the file is missing.
async fn whole_lines(path: &Path, from: u64) -> Result<Vec<u8>> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path, e)),
    };
    file.seek(std::io::SeekFrom::Start(from))
        .await
        .map_err(|e| io(path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .await
        .map_err(|e| io(path, e))?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(whole);
    Ok(bytes)
}

/// `length` bytes of `path` from `offset`.
async fn read_range(path: &Path, offset: u64, length: u64) -> Result<Vec<u8>> {
    let mut file = tokio::fs::File::open(path).await.map_err(|e| io(path, e))?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| io(path, e))?;
    let length = usize::try_from(length)
        .map_err(|_| Error::Internal(format!("{} has a piece too large", path.display())))?;
    let mut bytes = vec![0; length];
    file.read_exact(&mut bytes).await.map_err(|e| io(path, e))?;
    Ok(bytes)
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("{}: {e}", path.display()))
}

/// Deletes a blob no record names any more.
async fn forget_blob(state: &AppState, sha256: &str) {
    match state.store().blob_in_use(sha256).await {
        Ok(false) => {
            if let Err(e) = state.blobs().delete(sha256).await {
                tracing::warn!(error = %e, "cannot delete a recording's stored piece");
            }
        }
        Ok(true) => {}
        Err(e) => tracing::warn!(error = %e, "cannot tell whether a stored piece is in use"),
    }
}

/// Forgets recording `id`'s pieces once its own files are stored, deleting their blobs.
pub(crate) async fn discard(state: &AppState, id: &RecordingId) {
    match state.store().remove_recording_segments(id).await {
        Ok(blobs) => {
            for sha256 in blobs {
                forget_blob(state, &sha256).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, recording = %id,
            "cannot forget a stored recording's pieces"),
    }
}

/// Rebuilds recording `id`'s folder in this node's working directory from the pieces its
/// node stored while it ran, as that node's disk held it at its last stored checkpoint.
/// `None` when nothing of it was stored (it died within its first checkpoint). Tracks whose
/// log never reached storage (begun in the seconds before the node died) are left out.
pub async fn rebuild(state: &AppState, id: &RecordingId) -> Result<Option<PathBuf>> {
    let segments = state.store().recording_segments(id).await?;
    if !segments.iter().any(|s| s.file == EVENTS_FILE) {
        return Ok(None);
    }
    let recorder = &state.recorders().settings().recorder;
    let building = recorder.work_dir.join(format!("{id}.rebuilding"));
    // A rebuild cut short leaves this; the pieces are still there to start again from.
    if building.exists() {
        tokio::fs::remove_dir_all(&building)
            .await
            .map_err(|e| io(&building, e))?;
    }
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&building)
        .await
        .map_err(|e| io(&building, e))?;
    let mut by_file: BTreeMap<&str, Vec<&RecordingSegment>> = BTreeMap::new();
    for segment in &segments {
        if !is_plain_name(&segment.file) {
            return Err(Error::Internal(format!(
                "a stored piece of {id} names {:?}",
                segment.file
            )));
        }
        by_file.entry(&segment.file).or_default().push(segment);
    }
    for (name, pieces) in by_file {
        let path = building.join(name);
        let mut file = private_file(&path).await?;
        let mut written = 0i64;
        for piece in pieces {
            if piece.start != written {
                // Pieces are listed in order and only after the one before: a gap is damage.
                tracing::error!(recording = %id, file = %name, at = written,
                    "a stored recording file has a gap; kept up to it");
                break;
            }
            let bytes = get_bytes(state, &piece.sha256, piece.size).await?;
            file.write_all(&bytes).await.map_err(|e| io(&path, e))?;
            written += piece.size;
        }
        file.sync_all().await.map_err(|e| io(&path, e))?;
    }
    let dropped = drop_tracks_without_logs(&building).await?;
    if dropped > 0 {
        tracing::warn!(recording = %id, tracks = dropped,
            "tracks begun just before their node died had nothing stored; left out");
    }
    let dir = recorder.folder_of(id.as_str());
    // An empty or partial folder of the same name is not the recording's (it has no events).
    if dir.exists() {
        tokio::fs::remove_dir_all(&dir)
            .await
            .map_err(|e| io(&dir, e))?;
    }
    tokio::fs::rename(&building, &dir)
        .await
        .map_err(|e| io(&dir, e))?;
    Ok(Some(dir))
}

async fn private_file(path: &Path) -> Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
        .map_err(|e| io(path, e))
}

/// The blob `sha256` of `size` bytes, read within [`TRANSFER_TIMEOUT`] and checked.
async fn get_bytes(state: &AppState, sha256: &str, size: i64) -> Result<Vec<u8>> {
    let expected = u64::try_from(size).unwrap_or(0);
    let read = async {
        let Some(reader) = state.blobs().open(sha256).await? else {
            return Err(Error::Internal(format!(
                "a stored recording piece {sha256} is missing from the blob store"
            )));
        };
        let mut bytes = Vec::new();
        reader
            .take(expected + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| Error::Internal(format!("reading a stored recording piece: {e}")))?;
        Ok(bytes)
    };
    let bytes = tokio::time::timeout(TRANSFER_TIMEOUT, read)
        .await
        .map_err(|_| {
            Error::Unavailable("the blob store did not return a recording's piece in time".into())
        })??;
    if bytes.len() as u64 != expected || hex::encode(Sha256::digest(&bytes)) != sha256 {
        return Err(Error::Internal(format!(
            "a stored recording piece {sha256} is not what was stored"
        )));
    }
    Ok(bytes)
}

/// Removes from the rebuilt `events.jsonl` the tracks whose log is not in the folder: their
/// files cannot be made, and the recording is finalised from what there is. Returns how many.
async fn drop_tracks_without_logs(dir: &Path) -> Result<usize> {
    let path = dir.join(EVENTS_FILE);
    let text = tokio::fs::read(&path).await.map_err(|e| io(&path, e))?;
    let mut kept = Vec::with_capacity(text.len());
    let mut dropped = 0;
    for line in text.split_inclusive(|b| *b == b'\n') {
        let logless = match serde_json::from_slice::<FolderEvent>(line) {
            Ok(FolderEvent::Track { stem, .. }) => !dir.join(format!("{stem}.rtplog")).exists(),
            _ => false,
        };
        if logless {
            dropped += 1;
        } else {
            kept.extend_from_slice(line);
        }
    }
    if dropped > 0 {
        tokio::fs::write(&path, &kept)
            .await
            .map_err(|e| io(&path, e))?;
    }
    Ok(dropped)
}
