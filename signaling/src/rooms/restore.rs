//! A room rebuilt from its session record, for a node that takes over a session whose node
//! died: who had been let in (they come back without waiting), who was removed, whether the
//! room was locked, which private room each person was last in, the chat kept for late
//! joiners and to whom each shared file was shown. Replaying the record in order gives what
//! the dead node held in memory, because the rooms write an entry for every change of it.
//!
//! The rebuilt state waits here until the first seat of the room is admitted and takes it
//! over ([`Rooms::take_restored`]); joins of the same room that arrive during a rebuild wait
//! for it behind a gate per room ([`Rooms::rebuild_gate`]), so nobody is seated into a
//! half-built room and put in the waiting room by mistake.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_cases::store::model::{SessionEvent, SessionEventKind};
use accord_cases::tokens::Role;
use accord_protocol::{ChatMessage, LeaveReason, Space};
use tokio::sync::OwnedMutexGuard;

use super::{CHAT_KEPT, RoomState, Rooms, SessionLink};

/// How long a rebuilt room waits for its first seat before it is dropped. The first join that
/// rebuilt it is normally seated a moment later; if it was refused (no consent yet, say), a
/// state kept longer could go stale while the session runs on another node, and the next
/// join here rebuilds it afresh from the record anyway.
const RESTORED_KEPT: Duration = Duration::from_secs(30);
/// Rebuilt rooms waiting for their first seat, at most; the oldest go first.
const RESTORED_MAX: usize = 1024;

/// A room's state as its session record tells it.
pub struct Restored {
    state: RoomState,
}

/// Where someone is, as the record tells it.
struct Presence {
    space: Space,
    waiting: bool,
    mediator: bool,
}

impl Restored {
    /// Replays a session's record (in order). The room is emptied as the live room is
    /// whenever the record shows it empty, so what is rebuilt is what the node held, not
    /// everything that ever happened in the session; a removal stays for good. People who
    /// lost their seat with a node (a failover, or a drain's `node_moving`) are moving with
    /// the session, so their going empties nothing.
    pub fn replay(session: &SessionLink, events: &[SessionEvent]) -> Self {
        let mut state = RoomState {
            session: Some(session.clone()),
            ..RoomState::default()
        };
        let mut present: HashMap<String, Presence> = HashMap::new();
        for event in events {
            let actor = event.actor_identity.as_deref();
            let subject = event.subject_identity.as_deref();
            let space = event.space.as_deref().and_then(space_named);
            match event.kind {
                SessionEventKind::Joined => {
                    if let Some(who) = actor {
                        state.admitted.insert(who.to_owned());
                        present.insert(
                            who.to_owned(),
                            Presence {
                                space: space.unwrap_or_default(),
                                waiting: false,
                                mediator: event.actor_role.as_deref()
                                    == Some(Role::Mediator.as_str()),
                            },
                        );
                    }
                }
                SessionEventKind::Waiting => {
                    if let Some(who) = actor {
                        present.insert(
                            who.to_owned(),
                            Presence {
                                space: Space::Joint,
                                waiting: true,
                                mediator: false,
                            },
                        );
                    }
                }
                SessionEventKind::Admitted => {
                    if let Some(who) = subject {
                        state.admitted.insert(who.to_owned());
                        let p = present.entry(who.to_owned()).or_insert(Presence {
                            space: Space::Joint,
                            waiting: false,
                            mediator: false,
                        });
                        p.waiting = false;
                        p.space = space.unwrap_or(p.space);
                    }
                }
                SessionEventKind::Moved => {
                    if let (Some(who), Some(to)) = (subject, space) {
                        state.last_space.insert(who.to_owned(), to);
                        if let Some(p) = present.get_mut(who) {
                            p.space = to;
                        }
                    }
                }
                SessionEventKind::Denied | SessionEventKind::Left | SessionEventKind::Removed => {
                    let who = if event.kind == SessionEventKind::Left {
                        actor
                    } else {
                        subject
                    };
                    if event.kind == SessionEventKind::Removed
                        && let Some(who) = who
                    {
                        state.removed.insert(who.to_owned());
                    }
                    // A node that drained to its end let everyone go to join again elsewhere:
                    // they are moving with the session, as after a failover, not leaving it.
                    let moving = event.kind == SessionEventKind::Left
                        && event
                            .detail
                            .as_deref()
                            .is_some_and(|d| d.starts_with(LeaveReason::NodeMoving.as_str()));
                    if let Some(who) = who
                        && present.remove(who).is_some()
                        && present.is_empty()
                        && !moving
                    {
                        emptied(&mut state);
                    }
                }
                SessionEventKind::Ended => {
                    present.clear();
                    emptied(&mut state);
                }
                // Everyone on the node that stopped lost their seat with it; whoever came back
                // has a `joined` entry after this one.
                SessionEventKind::NodeFailover => present.clear(),
                SessionEventKind::Locked => state.locked = true,
                SessionEventKind::Unlocked => state.locked = false,
                SessionEventKind::Chat => {
                    if let Some(message) = chat_of(event, space) {
                        state.chat.push_back(message);
                        while state.chat.len() > CHAT_KEPT {
                            state.chat.pop_front();
                        }
                    }
                }
                SessionEventKind::EvidenceShared => {
                    let Some(evidence) = event
                        .detail
                        .as_deref()
                        .and_then(|d| d.split_once(' '))
                        .map(|(id, _)| id)
                    else {
                        continue;
                    };
                    // As when it was shared: the people then in the sharer's room, and the
                    // mediators wherever they were.
                    let shown_to = state.shared.entry(evidence.to_owned()).or_default();
                    shown_to.extend(actor.map(str::to_owned));
                    shown_to.extend(
                        present
                            .iter()
                            .filter(|(_, p)| !p.waiting && (p.mediator || Some(p.space) == space))
                            .map(|(who, _)| who.clone()),
                    );
                }
                _ => {}
            }
        }
        Self { state }
    }

    /// Whether the record left anything to rebuild.
    fn is_empty(&self) -> bool {
        let s = &self.state;
        s.admitted.is_empty()
            && s.removed.is_empty()
            && !s.locked
            && s.chat.is_empty()
            && s.shared.is_empty()
    }

    /// Identities that come back without waiting.
    pub fn admitted(&self) -> &HashSet<String> {
        &self.state.admitted
    }

    /// The private room (or the joint room) an identity was last moved to.
    pub fn last_space(&self, identity: &str) -> Option<Space> {
        self.state.last_space.get(identity).copied()
    }

    /// Whether a moderator had removed this identity.
    pub fn is_removed(&self, identity: &str) -> bool {
        self.state.removed.contains(identity)
    }

    /// Whether the room was locked.
    pub fn locked(&self) -> bool {
        self.state.locked
    }

    /// The chat kept for late joiners, oldest first.
    pub fn chat(&self) -> Vec<ChatMessage> {
        self.state.chat.iter().cloned().collect()
    }

    /// Whether a shared file had been shown to `identity`.
    pub fn shown(&self, evidence_id: &str, identity: &str) -> bool {
        self.state
            .shared
            .get(evidence_id)
            .is_some_and(|who| who.contains(identity))
    }
}

/// What an emptied room forgets (as the live room is dropped once its last seat goes); a
/// removal is kept, as the session record keeps it.
fn emptied(state: &mut RoomState) {
    state.admitted.clear();
    state.last_space.clear();
    state.locked = false;
    state.chat.clear();
    state.shared.clear();
}

fn space_named(name: &str) -> Option<Space> {
    [Space::Joint, Space::Applicant, Space::Respondent]
        .into_iter()
        .find(|s| s.as_str() == name)
}

/// A chat entry as the room keeps it. Its sender's seat was on the node that stopped, so the
/// message names no seat (no client counts it as its own).
fn chat_of(event: &SessionEvent, space: Option<Space>) -> Option<ChatMessage> {
    Some(ChatMessage {
        id: event.id.to_string(),
        participant_id: String::new(),
        name: event.actor_name.clone().unwrap_or_default(),
        text: event.detail.clone()?,
        at: event.at,
        space,
    })
}

/// Rebuilt rooms waiting for their first seat, and the gates joins wait at during a rebuild.
#[derive(Clone, Default)]
pub(super) struct Restoring {
    waiting: Arc<Mutex<HashMap<String, (Instant, RoomState)>>>,
    gates: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// Held while a room is being rebuilt; joins of the same room wait until it is dropped.
pub struct RebuildGate {
    room: String,
    gates: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    _held: OwnedMutexGuard<()>,
}

impl Drop for RebuildGate {
    fn drop(&mut self) {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map's reference and ours left: nobody waits, so the gate goes (the map
        // holds gates of rooms being joined now, not of every room ever joined).
        if gates
            .get(&self.room)
            .is_some_and(|g| Arc::strong_count(g) <= 2)
        {
            gates.remove(&self.room);
        }
    }
}

impl Rooms {
    /// Waits for the gate of `room` and holds it until the returned guard is dropped.
    pub async fn rebuild_gate(&self, room: &str) -> RebuildGate {
        let gate = {
            let mut gates = self
                .restoring
                .gates
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            Arc::clone(gates.entry(room.to_owned()).or_default())
        };
        let held = gate.lock_owned().await;
        RebuildGate {
            room: room.to_owned(),
            gates: Arc::clone(&self.restoring.gates),
            _held: held,
        }
    }

    /// Whether `room` has seats here, or a rebuilt state waiting for its first seat.
    pub fn has_room(&self, room: &str) -> bool {
        if self.lock().contains_key(room) {
            return true;
        }
        let waiting = self
            .restoring
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        waiting
            .get(room)
            .is_some_and(|(since, _)| since.elapsed() < RESTORED_KEPT)
    }

    /// Keeps a rebuilt room until its first seat is admitted (see [`Rooms::admit`]). Nothing
    /// is kept for a record with nothing to rebuild.
    pub fn restore(&self, room: &str, restored: Restored) {
        if restored.is_empty() {
            return;
        }
        let mut waiting = self
            .restoring
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        waiting.retain(|_, (since, _)| since.elapsed() < RESTORED_KEPT);
        while waiting.len() >= RESTORED_MAX {
            let Some(oldest) = waiting
                .iter()
                .min_by_key(|(_, (since, _))| *since)
                .map(|(room, _)| room.clone())
            else {
                break;
            };
            waiting.remove(&oldest);
        }
        waiting.insert(room.to_owned(), (Instant::now(), restored.state));
    }

    /// The rebuilt state of a room about to get its first seat, if there is a fresh one.
    pub(super) fn take_restored(&self, room: &str) -> Option<RoomState> {
        let mut waiting = self
            .restoring
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        waiting
            .remove(room)
            .filter(|(since, _)| since.elapsed() < RESTORED_KEPT)
            .map(|(_, state)| state)
    }
}

#[cfg(test)]
mod tests;
