//! Who is in which room, as signaling sees it: names, roles and sides; the waiting room;
//! which space (joint or a side's private room) each person is in; seats held open for a
//! while when a socket drops so their owner can resume; and the notices that keep every
//! session's view current.
//!
//! What each person is told about the others is decided in one place, `view`: a party sees
//! the people in their own space and each mediator (marked `elsewhere` while in another
//! space), never anyone else, so nothing about another side's private room leaks. After every
//! change the room works out each member's new view and sends them the difference.
//!
//! The room's state lives here: [`Rooms`], each room's members and their seats. What changes it
//! lives by job: `admission` seats people (into the waiting room or straight in), `resume` holds
//! a dropped seat open and gives it back, `moderation` carries out what moderators and members
//! do, `view` decides what each member sees, `notices` carries the changes to each session,
//! `recording` keeps everyone told whether they are recorded, `minutes` writes the
//! session record, and `restore` rebuilds a room from that record on a node that took the
//! session over from one that died.

mod admission;
mod closing;
mod minutes;
mod moderation;
mod notices;
pub mod privacy;
mod recording;
mod restore;
mod resume;
pub mod seats;
mod view;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::AtomicU8;
use std::sync::{Arc, Mutex};

use accord_protocol::{
    ChatMessage, ConnectionHealth, LeaveReason, ParticipantInfo, PauseReason, Space,
};
use accord_sfu::{ParticipantHandle, SfuEvent};
use tokio::sync::{Notify, mpsc};

use accord_cases::minutes::Minutes;
pub use admission::{Admission, AdmitError, Snapshot};
pub use closing::{
    Admits, Joining, Placed, Released, place_join, relayed_join, release_after, release_if_gone,
};
use minutes::RoomMinutes;
pub use moderation::RoomError;
use notices::NoticeSender;
pub use notices::{NOTICE_QUEUE, Notice, Notices};
pub use recording::{RecordingChange, RoomRecording};
pub use restore::{RebuildGate, Restored};
pub use resume::Resumed;

use accord_cases::store::model::SessionEventKind;
use accord_cases::store::model::{PartyKind, Side};
use accord_cases::tokens::Role;

/// The SFU side of a seat: kept across a dropped socket so a resume finds it intact.
pub struct Seat {
    /// Commands for the participant's media.
    pub handle: ParticipantHandle,
    /// Offers and track events for the participant; buffered while detached.
    pub events: mpsc::Receiver<SfuEvent>,
}

/// The case session a room holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLink {
    /// The case.
    pub case_id: accord_cases::CaseId,
    /// The session.
    pub session_id: accord_cases::SessionId,
}

/// How a person is seated: what the case says about them, and whether they wait.
#[derive(Clone, Debug, Default)]
pub struct Seating {
    /// Their side, for parties and their helpers.
    pub side: Option<Side>,
    /// What kind of party they are.
    pub kind: Option<PartyKind>,
    /// For representatives and interpreters: the identity of the party they follow.
    pub follows: Option<String>,
    /// They wait for a moderator (unless admitted earlier in this session).
    pub lobby: bool,
    /// The case session, for the session record.
    pub session: Option<SessionLink>,
}

pub(crate) struct Member {
    /// As everyone may know them (without the per-viewer `space` and `elsewhere`).
    info: ParticipantInfo,
    follows: Option<String>,
    hidden: bool,
    waiting: bool,
    /// Order of arrival, for the waiting list.
    arrived: u64,
    space: Space,
    resume_token: String,
    notices: Option<NoticeSender>,
    detached: Option<Seat>,
    /// Bumped on every attach, so a stale grace timer cannot evict a resumed seat.
    generation: u64,
    /// Whether their client has been given the room (`joined`); until then they are told
    /// nothing, and afterwards only differences from `seen`.
    in_view: bool,
    /// What they were last told about each person they see.
    seen: HashMap<String, ParticipantInfo>,
    /// The waiting list they were last told (moderators).
    seen_waiting: Vec<String>,
    /// Their connection as the SFU last measured it.
    health: Option<accord_sfu::LinkHealth>,
}

impl Member {
    fn is_moderator(&self) -> bool {
        self.info.role == Role::Mediator && !self.waiting && !self.hidden
    }

    fn tell(&self, notice: Notice) {
        if let Some(tx) = &self.notices {
            tx.send(notice);
        }
    }
}

/// Chat kept for people who join or resume later.
const CHAT_KEPT: usize = 200;

#[derive(Default)]
pub(crate) struct RoomState {
    members: HashMap<String, Member>,
    locked: bool,
    /// Identities admitted once: they come back without waiting.
    admitted: HashSet<String>,
    /// Identities removed by a moderator: they never come back.
    removed: HashSet<String>,
    /// Where each identity was last, so someone who rejoins returns to their private room.
    last_space: HashMap<String, Space>,
    chat: VecDeque<ChatMessage>,
    /// Evidence id → identities it was shown to.
    shared: HashMap<String, HashSet<String>>,
    session: Option<SessionLink>,
    arrivals: u64,
    /// The recording, while one is announced, running or paused.
    recording: Option<RoomRecording>,
}

/// Every room's membership.
#[derive(Clone, Default)]
pub struct Rooms {
    inner: Arc<Mutex<HashMap<String, RoomState>>>,
    /// Woken whenever a seat is detached, for resumes waiting on a handover.
    seat_detached: Arc<Notify>,
    minutes: Minutes,
    /// Whom the rooms admit ([`Admits`]): all, only into live rooms while the node drains,
    /// or nobody once it let every seat go.
    admits: Arc<AtomicU8>,
    /// Rooms rebuilt from their session record, waiting for their first seat.
    restoring: restore::Restoring,
    /// Joins between placing their session and taking a seat, per placement key.
    placing: closing::PlacementGates,
}

impl Rooms {
    /// Rooms whose case sessions are written to the session record by `minutes`.
    pub fn new(minutes: Minutes) -> Self {
        Self {
            minutes,
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RoomState>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where a member is now.
    pub fn space_of(&self, room: &str, participant_id: &str) -> Option<Space> {
        self.lock()
            .get(room)
            .and_then(|r| r.members.get(participant_id))
            .map(|m| m.space)
    }

    /// The seat of an admitted identity in a room: its id, space, and whether it moderates.
    pub fn seat_of(&self, room: &str, identity: &str) -> Option<(String, Space, bool)> {
        let rooms = self.lock();
        let state = rooms.get(room)?;
        state
            .members
            .values()
            .find(|m| m.info.identity == identity && !m.waiting)
            .map(|m| (m.info.id.clone(), m.space, m.is_moderator()))
    }

    /// Marks a seat away (`Some`) or back (`None`) and tells the room if that changed.
    pub fn set_paused(&self, room: &str, participant_id: &str, paused: Option<PauseReason>) {
        let mut rooms = self.lock();
        let Some(state) = rooms.get_mut(room) else {
            return;
        };
        let Some(member) = state.members.get_mut(participant_id) else {
            return;
        };
        if member.info.paused != paused {
            member.info.paused = paused;
            view::sync(state, &[]);
        }
    }

    /// Keeps the SFU's latest measurement of a member's connection.
    pub fn set_health(&self, room: &str, participant_id: &str, health: accord_sfu::LinkHealth) {
        if let Some(member) = self
            .lock()
            .get_mut(room)
            .and_then(|state| state.members.get_mut(participant_id))
        {
            member.health = Some(health);
        }
    }

    /// The connection health `participant_id` may see now (see `view::health_of`).
    pub fn health_for(&self, room: &str, participant_id: &str) -> Vec<ConnectionHealth> {
        let rooms = self.lock();
        let Some(state) = rooms.get(room) else {
            return Vec::new();
        };
        match state.members.get(participant_id) {
            Some(viewer) => view::health_of(state, viewer),
            None => Vec::new(),
        }
    }

    /// Removes a seat and tells the room. Dropping the seat's SFU handle leaves the media room.
    pub fn remove(&self, room: &str, participant_id: &str, reason: LeaveReason) {
        let removed = {
            let mut rooms = self.lock();
            let Some(state) = rooms.get_mut(room) else {
                return;
            };
            let removed = state.members.remove(participant_id);
            if let Some(m) = &removed {
                let detail = if m.waiting {
                    format!("{} (waiting)", reason.as_str())
                } else {
                    reason.as_str().to_owned()
                };
                self.minutes.note(
                    state,
                    SessionEventKind::Left,
                    Some(m),
                    None,
                    Some(m.space),
                    Some(detail),
                );
                view::sync(state, &[(participant_id.to_owned(), reason)]);
            }
            if state.members.is_empty() {
                rooms.remove(room);
            }
            removed
        };
        // The SFU handle is dropped outside the lock.
        drop(removed);
    }

    /// Whether the seat is still ours (not replaced or removed meanwhile).
    pub fn holds(&self, room: &str, participant_id: &str, generation: u64) -> bool {
        self.lock()
            .get(room)
            .and_then(|r| r.members.get(participant_id))
            .is_some_and(|m| m.generation == generation)
    }

    /// Number of rooms with at least one seat.
    pub fn room_count(&self) -> usize {
        self.lock().len()
    }
}
