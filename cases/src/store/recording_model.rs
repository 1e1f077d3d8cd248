//! The records of a session's recording: where its life stands, the files it is made of, its
//! pauses, and the result of checking it against its signed manifest. The files themselves
//! are the recorder's (`accord-recordings`) and the blob store's; the store keeps what the
//! review page, the retention policy and a restart need to know about them.

use serde::{Deserialize, Serialize};

use super::model::{Organisation, text_enum};
use crate::error::{Error, Result};
use crate::ids::{CaseId, RecordingId, SessionId};

text_enum!(
    /// Where a recording is in its life.
    RecordingStatus {
        /// Media is being written.
        Recording = "recording",
        /// The mediator paused it; nothing is written until it resumes.
        Paused = "paused",
        /// Stopped; its files are being closed, hashed and signed.
        Finalising = "finalising",
        /// Stopped cleanly and signed.
        Complete = "complete",
        /// Cut short (the server died); what the logs held was finalised and signed.
        Interrupted = "interrupted",
        /// Nothing usable could be made of it.
        Failed = "failed",
        /// Its files were deleted under the retention policy; the record stays.
        Deleted = "deleted",
    }
);

impl RecordingStatus {
    /// Whether a restart must recover it: the server may have died while it ran.
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            RecordingStatus::Recording | RecordingStatus::Paused | RecordingStatus::Finalising
        )
    }

    /// Whether its files are kept and may be reviewed, held and deleted.
    pub fn has_files(self) -> bool {
        matches!(
            self,
            RecordingStatus::Complete | RecordingStatus::Interrupted
        )
    }
}

text_enum!(
    /// What a file of a recording's folder is.
    RecordingFileKind {
        /// A track's append-only RTP log, the master copy.
        Log = "log",
        /// A track's playable file (WebM or Matroska).
        Media = "media",
        /// The mixed audio of the whole session.
        Mixed = "mixed",
        /// The segment hash chain (`chain.jsonl`).
        Chain = "chain",
        /// `manifest.json`.
        Manifest = "manifest",
        /// `manifest.sig`.
        Signature = "signature",
    }
);

text_enum!(
    /// The result of the last check of a recording's files against its manifest.
    IntegrityState {
        /// Not checked since it was finalised.
        Unchecked = "unchecked",
        /// Every file matched the signed manifest.
        Verified = "verified",
        /// Some file or segment did not match (see the problems).
        Failed = "failed",
    }
);

/// A session's recording.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recording {
    /// `RC_…`, also the name of its folder.
    pub id: RecordingId,
    /// The case of its session.
    pub case_id: CaseId,
    /// The session recorded.
    pub session_id: SessionId,
    /// Where it is in its life.
    pub status: RecordingStatus,
    /// Unix milliseconds.
    pub started_at: i64,
    /// Unix milliseconds, once stopped (or as far as a crash let it run).
    pub ended_at: Option<i64>,
    /// Who started it: a staff id, or the room identity of the mediator.
    pub started_by: String,
    /// Whether caucus rooms were recorded (the organisation's policy when it started).
    pub private_rooms_recorded: bool,
    /// The node that writes its files (its `[cluster] node_id`; [`LEGACY_NODE`] on
    /// recordings from before nodes had ids), or the node that took it over when that one
    /// died.
    pub node: String,
    /// SHA-256 of `manifest.json`, once finalised.
    pub manifest_sha256: Option<String>,
    /// The blob `manifest.json` is stored as, once finalised.
    pub manifest_blob: Option<String>,
    /// The newest head of the segment hash chain.
    pub chain_head: Option<String>,
    /// Segments chained so far.
    pub chain_segments: i64,
    /// Unix milliseconds of the last chain checkpoint.
    pub checkpoint_at: Option<i64>,
    /// Bytes written so far (all files, once finalised).
    pub bytes: i64,
    /// Whether a hold keeps it past its retention date.
    pub hold: bool,
    /// Why it is held.
    pub hold_reason: Option<String>,
    /// Unix milliseconds after which the retention policy deletes it; `None` keeps it.
    pub delete_after: Option<i64>,
    /// Unix milliseconds, once its files were deleted.
    pub deleted_at: Option<i64>,
    /// The last integrity check's result.
    pub integrity: IntegrityState,
    /// Unix milliseconds of that check.
    pub integrity_checked_at: Option<i64>,
    /// What that check found wrong; empty unless it failed.
    pub integrity_problems: Vec<IntegrityProblem>,
}

/// A recording about to start.
#[derive(Clone, Debug)]
pub struct NewRecording {
    /// The session recorded; the case is its case.
    pub session_id: SessionId,
    /// A staff id, or the room identity of the mediator who started it.
    pub started_by: String,
    /// Whether caucus rooms are recorded (the organisation's policy now).
    pub private_rooms_recorded: bool,
    /// The node that writes it.
    pub node: String,
}

/// The node of recordings made before nodes had ids: the node holding their folder is theirs.
pub const LEGACY_NODE: &str = "local";

/// A piece of a running recording's file that reached the blob store: `size` bytes of `file`
/// from `start`, stored as the blob `sha256`. A file's pieces follow each other without gaps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingSegment {
    /// The file's name in the recording's folder (`t01-audio.rtplog`, `events.jsonl`).
    pub file: String,
    /// Where the piece starts in the file.
    pub start: i64,
    /// Its bytes.
    pub size: i64,
    /// SHA-256, hex: the blob it is stored as.
    pub sha256: String,
}

/// One file of a finalised recording, as stored in the blob store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordingFile {
    /// Its name in the folder, e.g. `t01-audio.webm`.
    pub name: String,
    /// What it is.
    pub kind: RecordingFileKind,
    /// Bytes.
    pub size: i64,
    /// SHA-256, hex: the blob it is stored as.
    pub sha256: String,
    /// For a track's files: the SFU's track id.
    pub track_id: Option<String>,
    /// For a track's files: whose track.
    pub participant_id: Option<String>,
    /// For a track's files: `audio` or `video`.
    pub media_kind: Option<String>,
    /// For a track's files: `joint` or `private`.
    pub space: Option<String>,
    /// On the recording's clock (ms since it started), where the file's media begins.
    pub start_ms: Option<i64>,
    /// On the recording's clock, where the file's media ends.
    pub end_ms: Option<i64>,
}

/// A stretch during which a recording was paused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordingPause {
    /// Unix milliseconds.
    pub paused_at: i64,
    /// Unix milliseconds; `None` while still paused.
    pub resumed_at: Option<i64>,
}

/// One thing an integrity check found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrityProblem {
    /// The file (or `chain.jsonl` segment, or `manifest.json`) that does not match.
    pub file: String,
    /// What is wrong with it, for people.
    pub problem: String,
}

/// How an organisation records: whether caucus rooms are recorded, and how long recordings
/// are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RecordingPolicy {
    /// Whether private (背对背) rooms are recorded.
    pub record_private_rooms: bool,
    /// Days after a recording ends that it is deleted, unless held or sent to a court;
    /// `None` keeps recordings until deleted by hand.
    pub recording_retention_days: Option<u32>,
}

/// The retention days of a new organisation, and of those that existed before recordings:
/// ten years, the span mediation files are commonly archived for.
pub const DEFAULT_RETENTION_DAYS: u32 = 3650;

impl Organisation {
    /// How it records now.
    pub fn recording_policy(&self) -> RecordingPolicy {
        RecordingPolicy {
            record_private_rooms: self.record_private_rooms,
            recording_retention_days: self.recording_retention_days,
        }
    }
}

impl RecordingPolicy {
    /// When a recording that ended at `ended_at` (Unix ms) falls due for deletion.
    pub fn delete_after(&self, ended_at: i64) -> Option<i64> {
        self.recording_retention_days
            .map(|days| ended_at.saturating_add(i64::from(days).saturating_mul(86_400_000)))
    }
}

/// Problems as stored: JSON text.
pub(super) fn problems_to_text(problems: &[IntegrityProblem]) -> Result<String> {
    serde_json::to_string(problems).map_err(|e| Error::Internal(format!("problems: {e}")))
}

/// Problems as read back; text we did not write is an internal error, not an empty list.
pub(super) fn problems_from_text(text: &str) -> Result<Vec<IntegrityProblem>> {
    serde_json::from_str(text)
        .map_err(|e| Error::Internal(format!("integrity problems in the database: {e}")))
}
