//! `events.jsonl`: what a recording learnt as it ran, one JSON object per line, appended as
//! it happens. Finalising reads it back, after a clean stop or a crash alike; a crash can cut
//! its last line, which is then ignored.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RecordingMeta;
use crate::error::{Error, Result};

/// The file's name in a recording folder.
pub const EVENTS_FILE: &str = "events.jsonl";

/// One thing that happened to a recording (times on its session clock, µs).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FolderEvent {
    /// The recording began; the session clock's zero is `started_at_ms` (unix ms).
    Started {
        /// What the recording belongs to.
        meta: RecordingMeta,
        /// Unix ms of session-clock zero.
        started_at_ms: u64,
    },
    /// A track's files were opened.
    Track {
        /// File stem (`t01-audio`).
        stem: String,
        /// The SFU's track id.
        track: String,
        /// Its publisher.
        participant: String,
        /// Their role, when the server knew it.
        role: Option<String>,
        /// `audio` or `video`.
        kind: String,
        /// `joint` or `private`.
        space: String,
        /// When.
        at_us: u64,
    },
    /// A recorded track moved between spaces (private rooms recorded).
    Space {
        /// The track.
        track: String,
        /// Where to.
        space: String,
        /// When.
        at_us: u64,
    },
    /// A track stopped reaching the recorder: its publisher went into a private room that is
    /// not recorded.
    PrivateRoom {
        /// The track.
        track: String,
        /// Its publisher.
        participant: String,
        /// When.
        at_us: u64,
    },
    /// A track that was withheld in a private room reaches the recorder again.
    Returned {
        /// The track.
        track: String,
        /// Its publisher.
        participant: String,
        /// When.
        at_us: u64,
    },
    /// A track was unpublished or its publisher left.
    Stopped {
        /// The track.
        track: String,
        /// When.
        at_us: u64,
    },
    /// The mediator paused the recording.
    Paused {
        /// When.
        at_us: u64,
    },
    /// Written every flush while paused: nothing else is written then, so without it a
    /// crash during a pause would end the recording where the pause began.
    StillPaused {
        /// When.
        at_us: u64,
    },
    /// The mediator resumed it.
    Resumed {
        /// When.
        at_us: u64,
    },
    /// The recording stopped cleanly, with the tap's counters.
    Ended {
        /// When.
        at_us: u64,
        /// Packets from private rooms that reached the recorder (0 unless they are recorded).
        private_room_packets: u64,
        /// Packets from private rooms the SFU withheld.
        withheld_private_packets: u64,
        /// Packets the SFU dropped because the recorder fell behind.
        dropped_packets: u64,
    },
}

impl FolderEvent {
    /// When it happened on the session clock; `None` for the start (its zero).
    pub fn at_us(&self) -> Option<u64> {
        match self {
            Self::Started { .. } => None,
            Self::Track { at_us, .. }
            | Self::Space { at_us, .. }
            | Self::PrivateRoom { at_us, .. }
            | Self::Returned { at_us, .. }
            | Self::Stopped { at_us, .. }
            | Self::Paused { at_us }
            | Self::StillPaused { at_us }
            | Self::Resumed { at_us }
            | Self::Ended { at_us, .. } => Some(*at_us),
        }
    }
}

/// The append side of `events.jsonl`.
pub struct FolderLog {
    file: File,
    path: PathBuf,
}

impl FolderLog {
    /// Creates the file (0600) in a new recording folder.
    pub fn create(dir: &Path) -> Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(EVENTS_FILE);
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        Ok(Self { file, path })
    }

    /// Appends one event and hands it to the OS (a SIGKILL keeps it).
    pub fn append(&mut self, event: &FolderEvent) -> Result<()> {
        let mut line = serde_json::to_vec(event)
            .map_err(|e| Error::Malformed(format!("recording event: {e}")))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))
    }
}

/// Every whole event in a folder's `events.jsonl`, in order.
pub fn read_events(dir: &Path) -> Result<Vec<FolderEvent>> {
    let path = dir.join(EVENTS_FILE);
    let file =
        File::open(&path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut events = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        match serde_json::from_str(&line) {
            Ok(event) => events.push(event),
            // Only a crash mid-write leaves a bad line, and only as the last one.
            Err(_) => break,
        }
    }
    Ok(events)
}
