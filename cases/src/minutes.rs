//! Writes a case session's record (笔录) in order without holding up whoever records: entries
//! come numbered ([`crate::store::next_seq`]) and one task writes them through the store.

use tokio::sync::mpsc;

use crate::store::Store;
use crate::store::model::SessionEvent;

/// Entries waiting for the writer. Every entry comes from a join, a leave, a moderator's
/// action or a rate-limited party action, so this absorbs bursts of a busy node many times
/// over; past it, entries wait in tasks of their own rather than being lost (a record must
/// not miss what happened), which shows as a warning.
const RECORD_QUEUE: usize = 4096;

/// The session's minutes (笔录) being taken: hands session-record entries to the writer
/// task. Named apart from the media recorder, which keeps the session's audio and video. The
/// default records nothing (rooms that are not case sessions, unit tests).
#[derive(Clone, Default)]
pub struct Minutes {
    entries: Option<mpsc::Sender<SessionEvent>>,
}

impl Minutes {
    /// Starts the writer on the current tokio runtime.
    pub fn start(store: Store) -> Self {
        let (tx, mut rx) = mpsc::channel::<SessionEvent>(RECORD_QUEUE);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if let Err(e) = store.append_session_event(&event).await {
                    tracing::error!(error = %e, kind = %event.kind, session = %event.session_id,
                        "cannot write to the session record");
                }
            }
        });
        Self { entries: Some(tx) }
    }

    /// Hands `event` to the writer; it is written after every entry handed over before it.
    pub fn record(&self, event: SessionEvent) {
        let Some(tx) = &self.entries else {
            return;
        };
        // Entries are numbered already, so one that waits is still written in its place.
        if let Err(mpsc::error::TrySendError::Full(event)) = tx.try_send(event) {
            tracing::warn!("the session record writer is behind; an entry waits");
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(event).await;
            });
        }
    }
}
