//! The seats of a case's live sessions as agreement drafting addresses them: the agreement
//! belongs to the case, not to a room, so a change reaches every room that holds a session of
//! that case, and only the seats that have been let in (the waiting room sees no draft).

use accord_cases::CaseId;
use accord_cases::SessionId;
use accord_cases::store::model::Side;
use accord_cases::tokens::Role;
use accord_protocol::ServerMessage;

use super::{Notice, Rooms};

/// An admitted seat of a case's live session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseSeat {
    /// The room holding the session.
    pub room: String,
    /// The session.
    pub session_id: SessionId,
    /// The seat.
    pub participant_id: String,
    /// Who sits there (`ST_…`, `PT_…`).
    pub identity: String,
    /// Their display name.
    pub name: String,
    /// Their role in the room.
    pub role: Role,
    /// Their side, for parties and the people acting for them.
    pub side: Option<Side>,
    /// Whether the seat moderates (a mediator, not hidden).
    pub moderator: bool,
}

impl Rooms {
    /// Every admitted seat of every live session of `case_id`.
    pub fn case_seats(&self, case_id: &CaseId) -> Vec<CaseSeat> {
        let rooms = self.lock();
        let mut seats = Vec::new();
        for (room, state) in rooms.iter() {
            let Some(session) = state.session.as_ref() else {
                continue;
            };
            if &session.case_id != case_id {
                continue;
            }
            seats.extend(
                state
                    .members
                    .values()
                    .filter(|m| !m.waiting && m.in_view)
                    .map(|m| CaseSeat {
                        room: room.clone(),
                        session_id: session.session_id.clone(),
                        participant_id: m.info.id.clone(),
                        identity: m.info.identity.clone(),
                        name: m.info.name.clone(),
                        role: m.info.role,
                        side: m.info.side,
                        moderator: m.is_moderator(),
                    }),
            );
        }
        seats
    }

    /// The admitted seat `participant_id` of `room`, as [`Rooms::case_seats`] lists it.
    pub fn case_seat(&self, room: &str, participant_id: &str) -> Option<CaseSeat> {
        let rooms = self.lock();
        let state = rooms.get(room)?;
        let session = state.session.as_ref()?;
        let m = state.members.get(participant_id)?;
        if m.waiting {
            return None;
        }
        Some(CaseSeat {
            room: room.to_owned(),
            session_id: session.session_id.clone(),
            participant_id: m.info.id.clone(),
            identity: m.info.identity.clone(),
            name: m.info.name.clone(),
            role: m.info.role,
            side: m.info.side,
            moderator: m.is_moderator(),
        })
    }

    /// Queues `frame` for one admitted seat's session; false when the seat is gone (or waits).
    pub fn tell_seat(&self, room: &str, participant_id: &str, frame: ServerMessage) -> bool {
        let rooms = self.lock();
        let Some(member) = rooms
            .get(room)
            .and_then(|state| state.members.get(participant_id))
        else {
            return false;
        };
        if member.waiting || member.notices.is_none() {
            return false;
        }
        member.tell(Notice::Frame(Box::new(frame)));
        true
    }
}
