//! How much evidence each case session has taken, against the per-session caps: files and
//! bytes shared from the room. Kept in memory per node; a session not counted yet (after a
//! restart, or once the table was emptied) starts from what its record holds
//! ([`EvidenceTally::seed`] with [`crate::store::Store::evidence_shared_in_session`]), so a
//! restart does not give a session a fresh share.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Sessions counted before the table is emptied. Emptying only means the next upload of
/// each session recounts from its record, so memory stays bounded at no cost in accuracy.
const MAX_SESSIONS: usize = 100_000;

/// Files and bytes of evidence shared in each session, against the caps.
#[derive(Debug)]
pub struct EvidenceTally {
    max_files: u32,
    max_bytes: u64,
    sessions: Mutex<HashMap<String, (u32, u64)>>,
}

impl EvidenceTally {
    /// A tally allowing `max_files` files and `max_bytes` bytes per session.
    pub fn new(max_files: u32, max_bytes: u64) -> Self {
        Self {
            max_files,
            max_bytes,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn refusal(&self) -> Error {
        Error::PayloadTooLarge(format!(
            "this session has its share of evidence ({} files, {} MiB); bring more to the mediator another way",
            self.max_files,
            self.max_bytes / (1024 * 1024)
        ))
    }

    /// Whether `session` is being counted here.
    pub fn knows(&self, session: &str) -> bool {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.contains_key(session)
    }

    /// Starts counting `session` from `files` and `bytes` shared before (its record); a
    /// session already counted keeps its count.
    pub fn seed(&self, session: &str, files: u32, bytes: u64) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS && !sessions.contains_key(session) {
            sessions.clear();
        }
        sessions.entry(session.to_owned()).or_insert((files, bytes));
    }

    /// Refuses ([`Error::PayloadTooLarge`]) if `session` has no room for another file.
    pub fn check(&self, session: &str) -> Result<()> {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get(session) {
            Some(&(files, bytes)) if files >= self.max_files || bytes >= self.max_bytes => {
                Err(self.refusal())
            }
            _ => Ok(()),
        }
    }

    /// Counts a file of `size` bytes to `session`, refusing ([`Error::PayloadTooLarge`]) one
    /// that does not fit.
    pub fn add(&self, session: &str, size: u64) -> Result<()> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS && !sessions.contains_key(session) {
            sessions.clear();
        }
        let tally = sessions.entry(session.to_owned()).or_insert((0, 0));
        if tally.0 >= self.max_files || tally.1.saturating_add(size) > self.max_bytes {
            return Err(self.refusal());
        }
        tally.0 += 1;
        tally.1 += size;
        Ok(())
    }
}
