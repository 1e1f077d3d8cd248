//! The recorder's one error type.

/// What can go wrong while recording, finalising or verifying a recording.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, and to which file (never a person's data).
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Input that is not what it claims to be (a malformed RTP packet, log record, manifest).
    #[error("malformed {0}")]
    Malformed(String),
    /// The codec cannot be recorded (neither Opus, VP8 nor H.264).
    #[error("codec {0} cannot be recorded")]
    UnsupportedCodec(String),
    /// Not enough disk space to start or go on recording.
    #[error("not enough disk space: {available} bytes free, {needed} needed")]
    DiskFull {
        /// Bytes free where recordings are written.
        available: u64,
        /// Bytes the recorder keeps free.
        needed: u64,
    },
    /// An integrity check failed: a file or segment does not match what was signed.
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// Opus decoding or encoding failed.
    #[error("audio codec: {0}")]
    Audio(String),
    /// The blob store refused.
    #[error("storage: {0}")]
    Storage(String),
    /// The recording is not in a state that allows this (stopped twice, paused when paused).
    #[error("{0}")]
    State(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

impl From<accord_cases::Error> for Error {
    fn from(e: accord_cases::Error) -> Self {
        Self::Storage(e.to_string())
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
