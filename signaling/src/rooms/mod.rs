//! Who is in which room, as signaling sees it: names, roles and sides; the waiting room;
//! which space (joint or a side's private room) each person is in; seats held open for a
//! while when a socket drops so their owner can resume; and the notices that keep every
//! session's view current.
//!
//! What each person is told about the others is decided in one place, [`view`]: a party sees
//! the people in their own space and each mediator (marked `elsewhere` while in another
//! space), never anyone else, so nothing about another side's private room leaks. After every
//! change the room works out each member's new view and sends them the difference.

mod minutes;
mod moderation;
mod view;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_protocol::{
    ChatMessage, ConnectionHealth, LeaveReason, ParticipantInfo, PauseReason, SharedEvidence, Space,
};
use accord_sfu::{ParticipantHandle, SfuEvent, TrackSource};
use tokio::sync::{Notify, mpsc};

pub use minutes::Minutes;
pub use moderation::RoomError;

use crate::auth::{JoinClaims, Role};
use crate::store::model::{PartyKind, Side};

/// The SFU side of a seat: kept across a dropped socket so a resume finds it intact.
pub struct Seat {
    /// Commands for the participant's media.
    pub handle: ParticipantHandle,
    /// Offers and track events for the participant; buffered while detached.
    pub events: mpsc::Receiver<SfuEvent>,
}

/// A change in a room that a session passes on (or acts on).
#[derive(Clone, Debug)]
pub enum Notice {
    /// Someone came into view.
    Joined(ParticipantInfo),
    /// More notices came than the session took (its client stopped reading): some were lost,
    /// so its view is no longer true and it must end.
    Overflowed,
    /// Someone went out of view.
    Left {
        /// Their seat.
        participant_id: String,
        /// Why.
        reason: LeaveReason,
    },
    /// Someone's media went quiet while they stay, or came back.
    Paused {
        /// Their seat.
        participant_id: String,
        /// Why, while paused.
        paused: Option<PauseReason>,
    },
    /// Someone in view changed otherwise.
    Updated(ParticipantInfo),
    /// To moderators: everyone waiting.
    WaitingRoom(Vec<ParticipantInfo>),
    /// A moderator let you in from the waiting room.
    Admitted,
    /// You were moved: move your media, then tell your client.
    Moved(Space),
    /// The room was locked or unlocked.
    Locked(bool),
    /// A mediator asks you to turn a source on.
    UnmuteRequested {
        /// Which.
        source: TrackSource,
        /// The mediator's name.
        by: String,
    },
    /// A mediator muted one of your sources: hold it in the media server, tell your client.
    Hold(TrackSource),
    /// A chat message.
    Chat(ChatMessage),
    /// A file shared in your space.
    Evidence(SharedEvidence),
    /// You have been replaced by a newer join with your identity, removed, denied, or the
    /// session ended; the text is a moderator's reason.
    YouAreGone(LeaveReason, Option<String>),
    /// A newer socket presented your seat's resume token: yours is taken for dead (a phone that
    /// lost its network sends no close, so the server may not have noticed), and the seat is to
    /// be let go of as after a dropped socket, for the newer one to take.
    ResumedElsewhere,
}

/// Notices one session may have waiting: plenty for a burst (a room of 20 changing at once,
/// a chat flood within the rate limit) while its socket is busy, little enough that a client
/// which stops reading costs a bounded amount of memory before it is dropped.
pub const NOTICE_QUEUE: usize = 256;

/// The sending end of a session's notices, kept by the room.
struct NoticeSender {
    tx: mpsc::Sender<Notice>,
    overflowed: Arc<AtomicBool>,
}

impl NoticeSender {
    fn send(&self, notice: Notice) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(notice) {
            self.overflowed.store(true, Ordering::Relaxed);
        }
    }
}

/// A session's notices, at most [`NOTICE_QUEUE`] waiting.
pub struct Notices {
    rx: mpsc::Receiver<Notice>,
    overflowed: Arc<AtomicBool>,
}

impl Notices {
    fn channel() -> (NoticeSender, Self) {
        let (tx, rx) = mpsc::channel(NOTICE_QUEUE);
        let overflowed = Arc::new(AtomicBool::new(false));
        let sender = NoticeSender {
            tx,
            overflowed: Arc::clone(&overflowed),
        };
        (sender, Self { rx, overflowed })
    }

    /// The next notice; [`Notice::Overflowed`] once one had to be dropped, `None` when the
    /// room let go of this session.
    pub async fn recv(&mut self) -> Option<Notice> {
        let notice = self.rx.recv().await;
        if self.overflowed.load(Ordering::Relaxed) {
            return Some(Notice::Overflowed);
        }
        notice
    }

    /// A notice already waiting, if any (tests).
    pub fn try_recv(&mut self) -> Result<Notice, mpsc::error::TryRecvError> {
        self.rx.try_recv()
    }
}

/// The case session a room holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLink {
    /// The case.
    pub case_id: String,
    /// The session.
    pub session_id: String,
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
}

/// Why a participant could not be admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum AdmitError {
    /// The room is at its limit.
    Full,
    /// The room is locked and they were not in it.
    Locked,
    /// A moderator removed them from this session.
    Removed,
}

/// A new seat.
pub struct Admission {
    /// The seat.
    pub participant: ParticipantInfo,
    /// They are in the waiting room: wait for [`Notice::Admitted`].
    pub waiting: bool,
    /// Present this to resume.
    pub resume_token: String,
    /// Notices for this session.
    pub notices: Notices,
    /// Seat generation (see [`Rooms::detach`]).
    pub generation: u64,
}

/// What a client is given on entering (or re-entering) the room.
pub struct Snapshot {
    /// Everyone they see.
    pub others: Vec<ParticipantInfo>,
    /// Where they are.
    pub space: Space,
    /// The room admits nobody new.
    pub locked: bool,
    /// They may moderate.
    pub moderator: bool,
    /// Earlier chat they may read.
    pub chat: Vec<ChatMessage>,
    /// The case session.
    pub session: Option<String>,
}

/// A resumed seat.
pub struct Resumed {
    /// The seat's participant.
    pub participant: ParticipantInfo,
    /// The media side, with events buffered while the socket was gone.
    pub seat: Seat,
    /// Notices for the new session.
    pub notices: Notices,
    /// Seat generation.
    pub generation: u64,
}

/// How long a resume waits for an older session that still holds the seat to let go of it.
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(3);

/// What one look at a seat asked for by a resume found.
enum ResumeAttempt {
    Resumed(Resumed),
    /// An older session holds it and has been asked to let go.
    HeldElsewhere,
    NoSuchSeat,
}

/// Every room's membership.
#[derive(Clone, Default)]
pub struct Rooms {
    inner: Arc<Mutex<HashMap<String, RoomState>>>,
    /// Woken whenever a seat is detached, for resumes waiting on a handover.
    seat_detached: Arc<Notify>,
    minutes: Minutes,
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

    /// Takes a seat for the token's identity; an earlier seat of the same identity is
    /// replaced (and its space kept). Someone seated with a lobby who was not admitted
    /// before waits.
    pub fn admit(
        &self,
        claims: &JoinClaims,
        seating: Seating,
        max_participants: usize,
    ) -> Result<Admission, AdmitError> {
        let mut rooms = self.lock();
        let room = rooms.entry(claims.room.clone()).or_default();
        let outcome = self.admit_into(room, claims, seating, max_participants);
        if room.members.is_empty() {
            rooms.remove(&claims.room);
        }
        outcome
    }

    fn admit_into(
        &self,
        room: &mut RoomState,
        claims: &JoinClaims,
        seating: Seating,
        max_participants: usize,
    ) -> Result<Admission, AdmitError> {
        let identity = claims.sub.as_str();
        if room.removed.contains(identity) {
            return Err(AdmitError::Removed);
        }
        let replaced: Vec<String> = room
            .members
            .iter()
            .filter(|(_, m)| m.info.identity == identity)
            .map(|(id, _)| id.clone())
            .collect();
        let returning = !replaced.is_empty() || room.admitted.contains(identity);
        if room.locked && !returning && claims.role != Role::Mediator && !claims.hidden {
            return Err(AdmitError::Locked);
        }
        if replaced.is_empty() && room.members.len() >= max_participants {
            return Err(AdmitError::Full);
        }
        if room.session.is_none() {
            room.session = seating.session.clone();
        }
        let mut gone = Vec::new();
        for id in &replaced {
            if let Some(old) = room.members.remove(id) {
                old.tell(Notice::YouAreGone(LeaveReason::Replaced, None));
                gone.push((id.clone(), LeaveReason::Replaced));
            }
        }
        let waiting = seating.lobby && !returning;
        // Back where they were; a helper goes where the party they follow is.
        let space = seating
            .follows
            .as_ref()
            .and_then(|party| {
                room.members
                    .values()
                    .find(|m| &m.info.identity == party && !m.waiting)
                    .map(|m| m.space)
            })
            .or_else(|| room.last_space.get(identity).copied())
            .unwrap_or_default();
        let participant = ParticipantInfo {
            id: format!("PA_{}", accord_sfu::random_token(12)),
            identity: identity.to_owned(),
            name: claims.name.clone(),
            role: claims.role,
            paused: None,
            side: seating.side,
            kind: seating.kind,
            hand_raised: false,
            space: None,
            elsewhere: false,
            with_other_side: false,
        };
        let (tx, notices) = Notices::channel();
        let resume_token = accord_sfu::random_token(32);
        room.arrivals += 1;
        let member = Member {
            info: participant.clone(),
            follows: seating.follows,
            hidden: claims.hidden,
            waiting,
            arrived: room.arrivals,
            space,
            resume_token: resume_token.clone(),
            notices: Some(tx),
            detached: None,
            generation: 1,
            in_view: false,
            seen: HashMap::new(),
            seen_waiting: Vec::new(),
            health: None,
        };
        if !waiting {
            room.admitted.insert(identity.to_owned());
        }
        let kind = if waiting { "waiting" } else { "joined" };
        self.minutes
            .note(room, kind, Some(&member), None, Some(space), None);
        room.members.insert(participant.id.clone(), member);
        view::sync(room, &gone);
        Ok(Admission {
            participant,
            waiting,
            resume_token,
            notices,
            generation: 1,
        })
    }

    /// The room as a member is to be shown it now; from here on they get differences.
    pub fn snapshot(&self, room: &str, participant_id: &str) -> Option<Snapshot> {
        let mut rooms = self.lock();
        let state = rooms.get_mut(room)?;
        let others = view::take_view(state, participant_id)?;
        let member = state.members.get(participant_id)?;
        let moderator = member.is_moderator();
        let space = member.space;
        let chat = state
            .chat
            .iter()
            .filter(|m| moderator || m.space == Some(space))
            .map(|m| view::chat_for(m, moderator))
            .collect();
        Some(Snapshot {
            others,
            space,
            locked: state.locked,
            moderator,
            chat,
            session: state.session.as_ref().map(|s| s.session_id.clone()),
        })
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

    /// Takes back a seat by its resume token. The seat is usually detached already; if an
    /// older session still holds it (its socket died without the server noticing), that session
    /// is asked to let go and the seat is taken once it has, within [`HANDOVER_TIMEOUT`].
    pub async fn resume(&self, room: &str, identity: &str, resume_token: &str) -> Option<Resumed> {
        let deadline = tokio::time::Instant::now() + HANDOVER_TIMEOUT;
        loop {
            // Registered before looking, so a detach between the look and the wait is not missed.
            let detached = self.seat_detached.notified();
            match self.try_resume(room, identity, resume_token) {
                ResumeAttempt::Resumed(resumed) => return Some(resumed),
                ResumeAttempt::NoSuchSeat => return None,
                ResumeAttempt::HeldElsewhere => {}
            }
            tokio::time::timeout_at(deadline, detached).await.ok()?;
        }
    }

    fn try_resume(&self, room: &str, identity: &str, resume_token: &str) -> ResumeAttempt {
        let mut rooms = self.lock();
        let Some(state) = rooms.get_mut(room) else {
            return ResumeAttempt::NoSuchSeat;
        };
        let Some((_, member)) = state.members.iter_mut().find(|(_, m)| {
            m.info.identity == identity
                && !m.waiting
                && crate::auth::constant_time_eq(m.resume_token.as_bytes(), resume_token.as_bytes())
        }) else {
            return ResumeAttempt::NoSuchSeat;
        };
        let Some(seat) = member.detached.take() else {
            member.tell(Notice::ResumedElsewhere);
            return ResumeAttempt::HeldElsewhere;
        };
        let (tx, notices) = Notices::channel();
        member.notices = Some(tx);
        member.generation += 1;
        member.in_view = false;
        if member.info.paused == Some(PauseReason::Reconnecting) {
            member.info.paused = None;
        }
        let participant = member.info.clone();
        let generation = member.generation;
        view::sync(state, &[]);
        ResumeAttempt::Resumed(Resumed {
            participant,
            seat,
            notices,
            generation,
        })
    }

    /// Keeps a seat whose socket dropped for `grace`; afterwards it is removed as
    /// disconnected unless resumed.
    pub fn detach(&self, room: &str, participant_id: &str, seat: Seat, grace: Duration) {
        let generation = {
            let mut rooms = self.lock();
            let Some(state) = rooms.get_mut(room) else {
                return;
            };
            let Some(member) = state.members.get_mut(participant_id) else {
                return;
            };
            member.notices = None;
            member.detached = Some(seat);
            // Someone already away stays "away": that says more than "reconnecting".
            if member.info.paused.is_none() {
                member.info.paused = Some(PauseReason::Reconnecting);
            }
            let generation = member.generation;
            view::sync(state, &[]);
            generation
        };
        self.seat_detached.notify_waiters();
        let rooms = self.clone();
        let (room, participant_id) = (room.to_owned(), participant_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            rooms.remove_if_detached(&room, &participant_id, generation);
        });
    }

    fn remove_if_detached(&self, room: &str, participant_id: &str, generation: u64) {
        let still_detached = {
            let rooms = self.lock();
            rooms
                .get(room)
                .and_then(|r| r.members.get(participant_id))
                .is_some_and(|m| m.generation == generation && m.detached.is_some())
        };
        if still_detached {
            self.remove(room, participant_id, LeaveReason::Disconnected);
        }
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

    /// The connection health `participant_id` may see now (see [`view::health_of`]).
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
                self.minutes
                    .note(state, "left", Some(m), None, Some(m.space), Some(detail));
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

#[cfg(test)]
mod tests;
