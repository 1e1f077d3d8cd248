//! Counters of the recorder, read by the server's Prometheus endpoint.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Shared by every recording of a process.
#[derive(Debug, Default)]
pub struct RecorderMetrics {
    active: AtomicI64,
    bytes_written: AtomicU64,
    pending_upload: AtomicI64,
    write_errors: AtomicU64,
    finished: AtomicU64,
}

/// A reading of [`RecorderMetrics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecorderMetricsSnapshot {
    /// Recordings running now.
    pub active: i64,
    /// Bytes written to recording folders.
    pub bytes_written: u64,
    /// Files finished and not yet in the blob store.
    pub pending_upload: i64,
    /// Recordings that stopped on a write error.
    pub write_errors: u64,
    /// Recordings finalised.
    pub finished: u64,
}

impl RecorderMetrics {
    pub(crate) fn recording_started(&self) {
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn recording_ended(&self, failed: bool) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        if failed {
            self.write_errors.fetch_add(1, Ordering::Relaxed);
        } else {
            self.finished.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn write_failed(&self) {
        self.write_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_bytes(&self, bytes: u64) {
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Files queued for (positive) or done with (negative) uploading.
    pub fn uploads_pending(&self, delta: i64) {
        self.pending_upload.fetch_add(delta, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> RecorderMetricsSnapshot {
        RecorderMetricsSnapshot {
            active: self.active.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            pending_upload: self.pending_upload.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
        }
    }
}
