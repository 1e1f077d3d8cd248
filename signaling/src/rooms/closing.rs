//! A node closing its rooms: while it drains it admits people only into rooms already live
//! here (no new room may start on a node that is going away), and at the end every seat is
//! let go at once, each session told why, so that its client joins again elsewhere.

use std::sync::atomic::Ordering;

use accord_protocol::LeaveReason;

use super::minutes::RoomMinutes;
use super::{Notice, Rooms};
use accord_cases::store::model::SessionEventKind;

/// Whom the rooms admit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admits {
    /// Anyone, into any room (the node is serving).
    All,
    /// Only into rooms live here (the node drains).
    LiveRooms,
    /// Nobody (the node let every seat go and is about to stop).
    Nobody,
}

impl Admits {
    fn code(self) -> u8 {
        match self {
            Admits::All => 0,
            Admits::LiveRooms => 1,
            Admits::Nobody => 2,
        }
    }

    fn of(code: u8) -> Self {
        match code {
            0 => Admits::All,
            1 => Admits::LiveRooms,
            _ => Admits::Nobody,
        }
    }
}

/// What letting every seat go came to (counts only: the log names nobody).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// Rooms closed.
    pub rooms: usize,
    /// Seats let go, held ones included.
    pub seats: usize,
}

impl Rooms {
    /// Sets whom the rooms admit from now on.
    pub fn set_admits(&self, admits: Admits) {
        self.admits.store(admits.code(), Ordering::SeqCst);
    }

    /// Whom the rooms admit.
    pub fn admits(&self) -> Admits {
        Admits::of(self.admits.load(Ordering::SeqCst))
    }

    /// Lets every seat of every room go, telling each session `reason` (`node_moving`): their
    /// clients join again, and the node that takes the room then seats them. The session
    /// record notes each departure with the reason; the session itself is not ended. Admits
    /// nobody afterwards.
    pub fn release_all(&self, reason: LeaveReason) -> Released {
        self.set_admits(Admits::Nobody);
        let closed: Vec<_> = {
            let mut rooms = self.lock();
            for state in rooms.values() {
                for member in state.members.values() {
                    self.minutes.note(
                        state,
                        SessionEventKind::Left,
                        Some(member),
                        None,
                        Some(member.space),
                        Some(reason.as_str().to_owned()),
                    );
                    member.tell(Notice::YouAreGone(reason, None));
                }
            }
            rooms.drain().map(|(_, state)| state).collect()
        };
        let released = Released {
            rooms: closed.len(),
            seats: closed.iter().map(|s| s.members.len()).sum(),
        };
        // Held seats' SFU handles are dropped outside the lock, as in `remove`.
        drop(closed);
        released
    }
}
