//! Admission: taking a seat for a joining identity (replacing an older seat of the same
//! identity; into the waiting room or straight in), and the snapshot of the room a newly
//! seated client is given.

use std::collections::HashMap;

use accord_protocol::{ChatMessage, LeaveReason, ParticipantInfo, Space};

use super::minutes::RoomMinutes;
use super::{Member, Notice, Notices, RoomState, Rooms, Seating, view};
use accord_cases::store::model::SessionEventKind;
use accord_cases::tokens::{JoinClaims, Role};

/// Why a participant could not be admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum AdmitError {
    /// The room is at its limit.
    Full,
    /// The room is locked and they were not in it.
    Locked,
    /// A moderator removed them from this session.
    Removed,
    /// The node is draining: it opens no new room (or, at its very end, admits nobody).
    Draining,
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
    /// The recording as they are to see it, if one is announced, running or paused.
    pub recording: Option<accord_protocol::RecordingStatus>,
}

impl Rooms {
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
        // Checked under the lock, so a room cannot start here after the drain began.
        match self.admits() {
            super::Admits::All => {}
            super::Admits::LiveRooms if rooms.contains_key(&claims.room) => {}
            _ => return Err(AdmitError::Draining),
        }
        // A room rebuilt from its record (its node died) starts from what it was.
        let room = rooms
            .entry(claims.room.clone())
            .or_insert_with(|| self.take_restored(&claims.room).unwrap_or_default());
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
        let kind = if waiting {
            SessionEventKind::Waiting
        } else {
            SessionEventKind::Joined
        };
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
            session: state.session.as_ref().map(|s| s.session_id.to_string()),
            recording: state.recording.as_ref().map(|r| r.status_for(member)),
        })
    }
}
