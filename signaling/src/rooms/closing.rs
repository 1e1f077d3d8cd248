//! A node closing its rooms: while it drains it admits people only into rooms already live
//! here (no new room may start on a node that is going away), and at the end every seat is
//! let go at once, each session told why, so that its client joins again elsewhere.
//!
//! A room's placement in the cluster is given up when the room is gone here (no member, no
//! seat held for a resume), so the next join places the session afresh by load. A join
//! between placing and taking its seat holds a [`Joining`]: the placement is not given up
//! under it, and placing and giving up take turns per key, so a room that ends as a join
//! arrives cannot leave that join seated on a node the cluster no longer names.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_protocol::LeaveReason;

use super::minutes::RoomMinutes;
use super::{Notice, Rooms};
use crate::AppState;
use crate::cluster::{ClusterError, Placement};
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

    /// Whether `room` is live here: someone is in it, waiting for it, or holds a seat in it
    /// for a resume.
    pub fn is_live(&self, room: &str) -> bool {
        self.lock().contains_key(room)
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

/// The joins under way on this node, per placement key. An entry lives while a join or a
/// release of its key does.
pub(crate) type PlacementGates = Arc<Mutex<HashMap<String, Arc<Gate>>>>;

#[derive(Default)]
pub(crate) struct Gate {
    /// Placing and giving up of one key take turns.
    turn: tokio::sync::Mutex<()>,
    /// Joins placed here that have not taken their seat yet.
    joining: AtomicUsize,
}

fn gates(state: &AppState) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Gate>>> {
    state
        .rooms()
        .placing
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn gate(state: &AppState, key: &str) -> Arc<Gate> {
    gates(state).entry(key.to_owned()).or_default().clone()
}

/// A join served on this node, from placing it until it has a seat (or was refused one):
/// while any is held, the key's placement is not given up. Dropping it gives the placement
/// up if the join left no room behind.
pub struct Joining {
    state: AppState,
    room: String,
    key: String,
    gate: Arc<Gate>,
}

impl Drop for Joining {
    fn drop(&mut self) {
        self.gate.joining.fetch_sub(1, Ordering::SeqCst);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (state, room, key) = (self.state.clone(), self.room.clone(), self.key.clone());
            runtime.spawn(async move { release_if_gone(&state, &room, &key).await });
        }
    }
}

/// Where a join goes.
pub enum Placed {
    /// This node serves it; `moved_from` names a dead owner the session was taken over from.
    Here(Joining, Option<String>),
    /// Another node owns the session: the join is relayed there.
    Elsewhere(Placement),
}

/// Places the session of a join for `room` under placement `key`. A node that drains keeps
/// a placement only for a room live here: a placement left over from a room that ended here
/// is given up and placed again, so that the join goes to a node that takes new rooms
/// rather than being refused until this one has stopped.
pub async fn place_join(state: &AppState, room: &str, key: &str) -> Result<Placed, ClusterError> {
    let gate = gate(state, key);
    let cluster = state.cluster();
    let placement = {
        let _turn = gate.turn.lock().await;
        let mut placement = cluster.place(key).await?;
        if placement.local && cluster.draining() && !state.rooms().is_live(room) {
            cluster.release(key).await?;
            placement = cluster.place(key).await?;
        }
        if placement.local {
            gate.joining.fetch_add(1, Ordering::SeqCst);
        }
        placement
    };
    if !placement.local {
        forget(state, key, &gate);
        return Ok(Placed::Elsewhere(placement));
    }
    let moved_from = placement.moved_from.clone();
    Ok(Placed::Here(
        Joining {
            state: state.clone(),
            room: room.to_owned(),
            key: key.to_owned(),
            gate,
        },
        moved_from,
    ))
}

/// A join another node of the cluster placed here and relayed: served without placing it
/// again (a relayed join is never relayed on), but its key's placement is held like any
/// join's until it has a seat. `None` on a node that drains, for a room not live here: the
/// placement, left over from a room that ended here, is given up, so that the client's next
/// attempt (it is told `node_draining`) is placed on a node that takes new rooms.
pub async fn relayed_join(state: &AppState, room: &str, key: &str) -> Option<Joining> {
    let gate = gate(state, key);
    let admitted = {
        let _turn = gate.turn.lock().await;
        let leftover = state.cluster().draining() && !state.rooms().is_live(room);
        if leftover {
            if let Err(e) = state.cluster().release(key).await {
                tracing::warn!(error = %e, "cannot give up a draining node's placement");
            }
        } else {
            gate.joining.fetch_add(1, Ordering::SeqCst);
        }
        !leftover
    };
    if !admitted {
        forget(state, key, &gate);
        return None;
    }
    Some(Joining {
        state: state.clone(),
        room: room.to_owned(),
        key: key.to_owned(),
        gate,
    })
}

/// Gives up `key`'s placement if nothing of `room` is left here and no join for it is under
/// way: the next join places the session by load again. A failure to reach Redis is logged;
/// the placement then ends with this node's lease, or when a later room of it ends.
pub async fn release_if_gone(state: &AppState, room: &str, key: &str) {
    let gate = gate(state, key);
    {
        let _turn = gate.turn.lock().await;
        if gate.joining.load(Ordering::SeqCst) == 0 && !state.rooms().is_live(room) {
            match state.cluster().release(key).await {
                Ok(()) => tracing::debug!("gave up the placement of a room that ended here"),
                Err(e) => tracing::warn!(error = %e, "cannot give up a room's placement"),
            }
        }
    }
    forget(state, key, &gate);
}

/// Gives up `key`'s placement after `delay` if `room` is gone by then: for a seat held for a
/// resume, whose room ends only when its grace runs out unused.
pub fn release_after(state: &AppState, room: &str, key: &str, delay: Duration) {
    let weak = state.downgrade();
    let (room, key) = (room.to_owned(), key.to_owned());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if let Some(state) = AppState::upgrade(&weak) {
            release_if_gone(&state, &room, &key).await;
        }
    });
}

/// Drops a key's gate once nobody else holds it.
fn forget(state: &AppState, key: &str, gate: &Arc<Gate>) {
    let mut gates = gates(state);
    // The table's reference and the caller's: nobody is joining or releasing.
    if Arc::strong_count(gate) == 2 && gate.joining.load(Ordering::SeqCst) == 0 {
        gates.remove(key);
    }
}
