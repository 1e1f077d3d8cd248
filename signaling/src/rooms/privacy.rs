//! Who can hear whom, for the questions a mediator must ask a party alone: before signing an
//! agreement, each party is asked in a private room, with nobody but the mediators present,
//! whether they sign of their own free will (人民调解 practice; issue 15). The answer is only
//! worth keeping if nobody else was listening, so the room's own membership decides, not the
//! mediator's word.

use accord_cases::{CaseId, SessionId};
use accord_protocol::Space;

use super::Rooms;

/// A seat of a case's live session, found by the identity in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSeat {
    /// The room that holds the session.
    pub room: String,
    /// The session.
    pub session_id: SessionId,
    /// Where the identity is now.
    pub space: Space,
    /// Whether the seat moderates.
    pub moderator: bool,
}

impl Rooms {
    /// The admitted seat of `identity` in a live session of `case_id`, if it has one (a
    /// person is seated in one room at a time; the first found is theirs).
    pub fn live_seat(&self, case_id: &CaseId, identity: &str) -> Option<LiveSeat> {
        let rooms = self.lock();
        rooms.iter().find_map(|(room, state)| {
            let session = state.session.as_ref()?;
            if &session.case_id != case_id {
                return None;
            }
            state
                .members
                .values()
                .find(|m| m.info.identity == identity && !m.waiting)
                .map(|m| LiveSeat {
                    room: room.clone(),
                    session_id: session.session_id.clone(),
                    space: m.space,
                    moderator: m.is_moderator(),
                })
        })
    }

    /// The private space `identity` is in, when everyone else there (and at least one) is a
    /// moderator; `None` when they are not seated in `room`, are in the joint room, are there
    /// without a moderator, or share their private room
    /// with anyone else (their own representative, another party of their side, a hidden
    /// observer): then nobody can say the answer was given freely.
    pub fn alone_with_moderators(&self, room: &str, identity: &str) -> Option<Space> {
        let rooms = self.lock();
        let state = rooms.get(room)?;
        let person = state
            .members
            .values()
            .find(|m| m.info.identity == identity && !m.waiting)?;
        let space = person.space;
        if space == Space::Joint {
            return None;
        }
        let mut others = state
            .members
            .values()
            .filter(|m| m.info.id != person.info.id && !m.waiting && m.space == space)
            .peekable();
        // Alone with the mediator: someone moderating must be there to ask.
        let asked = others.peek().is_some();
        (asked && others.all(|m| m.is_moderator())).then_some(space)
    }
}
