//! How much evidence each case session has taken, against the per-session caps: files and
//! bytes shared from the room.
//!
//! The rule ([`EvidenceTally::allows`]) is one for every deployment; where the count lives is
//! the edge's choice. A single node keeps it here, in memory: a session not counted yet
//! (after a restart, or once the table was emptied) starts from what its record holds
//! ([`EvidenceTally::seed`] with [`crate::store::Store::evidence_shared_in_session`]), so a
//! restart does not give a session a fresh share. Nodes of a cluster keep one count per
//! session in Redis instead (uploads are HTTP and land on any node) and apply the same rule
//! there.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Sessions counted before the table is emptied. Emptying only means the next upload of
/// each session recounts from its record, so memory stays bounded at no cost in accuracy.
const MAX_SESSIONS: usize = 100_000;

/// What is asked of a session's share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareAsk {
    /// Is there room for another file? Asked before an upload is read, so a session past its
    /// share is told before a phone sends megabytes.
    Room,
    /// Count a received file of this many bytes, if it fits.
    Take(u64),
}

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

    /// Files a session may share.
    pub fn max_files(&self) -> u32 {
        self.max_files
    }

    /// Bytes a session may share.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Whether a session that has shared `files` files of `bytes` bytes may do what `ask`
    /// says. A check refuses only a session already at a cap; a file is taken only if it
    /// fits whole.
    pub fn allows(&self, files: u32, bytes: u64, ask: ShareAsk) -> bool {
        match ask {
            ShareAsk::Room => files < self.max_files && bytes < self.max_bytes,
            ShareAsk::Take(size) => {
                files < self.max_files && bytes.saturating_add(size) <= self.max_bytes
            }
        }
    }

    /// The answer to a session past its share.
    pub fn refusal(&self) -> Error {
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

    /// Does what `ask` says for `session` on the count kept here, refusing
    /// ([`Error::PayloadTooLarge`]) what does not fit.
    pub fn ask(&self, session: &str, ask: ShareAsk) -> Result<()> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS && !sessions.contains_key(session) {
            sessions.clear();
        }
        let tally = sessions.entry(session.to_owned()).or_insert((0, 0));
        if !self.allows(tally.0, tally.1, ask) {
            return Err(self.refusal());
        }
        if let ShareAsk::Take(size) = ask {
            tally.0 += 1;
            tally.1 += size;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_takes_files_until_either_cap_and_a_check_takes_nothing() {
        let tally = EvidenceTally::new(3, 100);
        tally.seed("SE_1", 1, 10);
        tally.ask("SE_1", ShareAsk::Room).expect("room");
        tally.ask("SE_1", ShareAsk::Take(40)).expect("fits");
        assert!(
            tally.ask("SE_1", ShareAsk::Take(51)).is_err(),
            "past the bytes"
        );
        tally
            .ask("SE_1", ShareAsk::Take(50))
            .expect("exactly at the bytes");
        assert!(
            tally.ask("SE_1", ShareAsk::Room).is_err(),
            "at both caps now"
        );
        tally.seed("SE_1", 0, 0);
        assert!(
            tally.ask("SE_1", ShareAsk::Room).is_err(),
            "a counted session keeps its count"
        );
        tally
            .ask("SE_2", ShareAsk::Room)
            .expect("another session has its own share");
        assert!(!tally.allows(3, 0, ShareAsk::Room), "at the files");
        assert!(tally.allows(2, 99, ShareAsk::Room));
        assert!(
            !tally.allows(2, 99, ShareAsk::Take(2)),
            "a file fits whole or not at all"
        );
    }
}
