//! One running recording: the SFU's tap in, per-track files out, a segment-chain checkpoint
//! every few seconds, and at the end the mixed audio and the signed manifest.
//!
//! A recording runs on its own thread (file writes block; they must not stall the async
//! runtime that serves sockets). Everything it learns that a restart would need — which
//! track is whose, pauses, private-room gaps — is appended to `events.jsonl` in the folder
//! as it happens, so a folder is finalised the same way after a clean stop ([`Recording::stop`])
//! and after a crash ([`finalise::recover`]).

pub mod events;
pub mod finalise;
mod metrics;
mod writer;

use writer::Writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use accord_sfu::{RecorderTap, Space};
use tokio::sync::{mpsc, oneshot};

use crate::chain::ChainWriter;
use crate::error::{Error, Result};
use crate::signing::PlatformKeys;
pub use events::{FolderEvent, FolderLog};
pub use finalise::Finished;
pub use metrics::RecorderMetrics;

/// How recordings are written.
#[derive(Clone, Debug)]
pub struct RecorderConfig {
    /// Where recordings are written while they run (one folder each).
    pub work_dir: PathBuf,
    /// The video size recorded (the simulcast layer nearest it).
    pub preferred_size: (u32, u32),
    /// How often written clusters are pushed to the OS.
    pub flush_every: Duration,
    /// How often the segment chain is extended and reported.
    pub checkpoint_every: Duration,
    /// Free space below which a recording does not start, and a running one stops.
    pub min_free_bytes: u64,
    /// Tap events queued before the SFU drops (and counts) packets.
    pub tap_queue: usize,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            work_dir: PathBuf::from("data/recordings"),
            preferred_size: (640, 360),
            flush_every: Duration::from_secs(1),
            checkpoint_every: Duration::from_secs(5),
            min_free_bytes: 512 * 1024 * 1024,
            tap_queue: 4096,
        }
    }
}

impl RecorderConfig {
    /// What the SFU's tap should deliver for a recording with this caucus policy.
    pub fn tap_config(&self, record_private_rooms: bool) -> accord_sfu::TapConfig {
        accord_sfu::TapConfig {
            record_private_rooms,
            preferred_size: self.preferred_size,
            queue: self.tap_queue,
        }
    }

    /// Refuses when the disk holding recordings has less free space than the recorder keeps.
    pub fn check_disk_space(&self) -> Result<u64> {
        std::fs::create_dir_all(&self.work_dir)
            .map_err(|e| Error::io(format!("creating {}", self.work_dir.display()), e))?;
        let available = free_bytes(&self.work_dir)?;
        if available < self.min_free_bytes {
            return Err(Error::DiskFull {
                available,
                needed: self.min_free_bytes,
            });
        }
        Ok(available)
    }

    /// The folder of a recording.
    pub fn folder_of(&self, recording_id: &str) -> PathBuf {
        self.work_dir.join(recording_id)
    }
}

/// Bytes free for an unprivileged writer on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> Result<u64> {
    let stat = rustix::fs::statvfs(path).map_err(|e| {
        Error::io(
            format!("reading free space of {}", path.display()),
            e.into(),
        )
    })?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// What identifies a recording in the case record.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct RecordingMeta {
    /// The recording.
    pub recording_id: String,
    /// Its case.
    pub case_id: String,
    /// Its session.
    pub session_id: String,
    /// Whether private (caucus) rooms are recorded.
    pub private_rooms_recorded: bool,
}

/// Who is behind a media participant, as the manifest names them: their identity in the
/// case (a party or staff id, stable across reconnects) and role, never a name.
pub trait Participants: Send + Sync {
    /// `(identity, role)` of the SFU participant, if known.
    fn describe(&self, sfu_participant: &str) -> Option<(String, String)>;
}

/// What a running recording tells the server as it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The segment chain grew: store its head, so a cut recording's prefix stays provable.
    Checkpoint {
        /// Segments in the chain.
        segments: u64,
        /// Its head (hex).
        head: String,
        /// Bytes written so far, all files.
        bytes: u64,
    },
    /// The recording stopped itself (disk full, a write failed); it is being finalised.
    Stopping {
        /// Why, for people (no personal data).
        reason: String,
        /// The machine-readable reason: `no_disk_space` or `failed`.
        code: &'static str,
    },
}

enum Control {
    Pause(oneshot::Sender<Result<u64>>),
    Resume(oneshot::Sender<Result<u64>>),
    Stop,
}

/// A running recording. Dropping it without [`Recording::stop`] stops and finalises it too.
pub struct Recording {
    control: mpsc::Sender<Control>,
    done: std::sync::Mutex<Option<oneshot::Receiver<Result<Finished>>>>,
    /// When the session clock of this recording is at zero (unix ms).
    pub started_at_ms: u64,
    /// The recording's folder.
    pub dir: PathBuf,
}

impl Recording {
    /// Starts writing what `tap` delivers into a new folder under the work directory.
    /// Returns the recording and its progress reports.
    pub fn start(
        config: &RecorderConfig,
        meta: RecordingMeta,
        tap: RecorderTap,
        participants: Arc<dyn Participants>,
        keys: Arc<PlatformKeys>,
        metrics: Arc<RecorderMetrics>,
    ) -> Result<(Self, mpsc::Receiver<Progress>)> {
        config.check_disk_space()?;
        let dir = config.folder_of(&meta.recording_id);
        create_private_dir(&dir)?;
        let origin = Instant::now();
        let started_at_ms = unix_ms(SystemTime::now());
        let mut folder = FolderLog::create(&dir)?;
        folder.append(&FolderEvent::Started {
            meta: meta.clone(),
            started_at_ms,
        })?;
        let chain = ChainWriter::open(&dir)?;
        let (control, control_rx) = mpsc::channel(16);
        let (progress, progress_rx) = mpsc::channel(64);
        let (done_tx, done) = oneshot::channel();
        let writer = Writer {
            config: config.clone(),
            dir: dir.clone(),
            origin,
            started_at_ms,
            tracks: HashMap::new(),
            clocks: HashMap::new(),
            folder,
            chain,
            participants,
            metrics: metrics.clone(),
            progress,
            paused_since: None,
            written_reported: 0,
        };
        metrics.recording_started();
        let spawned = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || {
                let outcome = writer.run(tap, control_rx, keys);
                metrics.recording_ended(outcome.is_err());
                let _ = done_tx.send(outcome);
            });
        if let Err(e) = spawned {
            return Err(Error::io("starting the recorder thread", e));
        }
        Ok((
            Self {
                control,
                done: std::sync::Mutex::new(Some(done)),
                started_at_ms,
                dir,
            },
            progress_rx,
        ))
    }

    /// Pauses: nothing is written until [`Recording::resume`]. Returns the moment on the
    /// session clock (ms).
    pub async fn pause(&self) -> Result<u64> {
        self.ask(Control::Pause).await
    }

    /// Resumes after a pause. Returns the moment on the session clock (ms).
    pub async fn resume(&self) -> Result<u64> {
        self.ask(Control::Resume).await
    }

    async fn ask(
        &self,
        control: impl FnOnce(oneshot::Sender<Result<u64>>) -> Control,
    ) -> Result<u64> {
        let (tx, rx) = oneshot::channel();
        self.control
            .send(control(tx))
            .await
            .map_err(|_| Error::State("the recording has already stopped".into()))?;
        rx.await
            .map_err(|_| Error::State("the recording has already stopped".into()))?
    }

    /// Stops, finalises every file, writes the mixed audio and the signed manifest. Only the
    /// first call gets the result.
    pub async fn stop(&self) -> Result<Finished> {
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner()).take();
        let _ = self.control.send(Control::Stop).await;
        match done {
            Some(done) => done
                .await
                .map_err(|_| Error::State("the recorder thread ended without an answer".into()))?,
            None => Err(Error::State("the recording was already stopped".into())),
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let running = self.done.get_mut().map(|d| d.is_some()).unwrap_or(true);
        if running {
            let _ = self.control.try_send(Control::Stop);
        }
    }
}

/// How the manifest names a space.
pub fn space_name(space: Space) -> &'static str {
    if space == Space::MAIN {
        "joint"
    } else {
        "private"
    }
}

fn micros_since(origin: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(origin).as_micros()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Creates a folder only its owner may enter (recordings are people's disputes).
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))
}
