//! What of a case session's room goes into its record (笔录): the entry for a join, a leave,
//! a moderator's action or a message, built from the room's own state. The case domain's
//! [`Minutes`] writes the entries, in order, without holding up the room.

use accord_cases::minutes::Minutes;
use accord_protocol::Space;

use super::{Member, RoomState};
use accord_cases::store::model::SessionEvent;
use accord_cases::store::model::SessionEventKind;
use accord_cases::store::{new_id, next_seq, now_ms};

/// Taking the minutes of a room: what the rooms call to record what happened in one.
pub(super) trait RoomMinutes {
    /// Records an entry for a room of a case session.
    fn note(
        &self,
        room: &RoomState,
        kind: SessionEventKind,
        actor: Option<&Member>,
        subject: Option<&Member>,
        space: Option<Space>,
        detail: Option<String>,
    );
}

impl RoomMinutes for Minutes {
    fn note(
        &self,
        room: &RoomState,
        kind: SessionEventKind,
        actor: Option<&Member>,
        subject: Option<&Member>,
        space: Option<Space>,
        detail: Option<String>,
    ) {
        if let Some(event) = entry(room, kind, actor, subject, space, detail) {
            self.record(event);
        }
    }
}

/// A record entry for a room of a case session (`None` for other rooms, and for hidden
/// participants' own comings and goings).
pub(super) fn entry(
    room: &RoomState,
    kind: SessionEventKind,
    actor: Option<&Member>,
    subject: Option<&Member>,
    space: Option<Space>,
    detail: Option<String>,
) -> Option<SessionEvent> {
    let session = room.session.as_ref()?;
    if actor.is_some_and(|a| a.hidden) && subject.is_none() {
        return None;
    }
    Some(SessionEvent {
        id: new_id("SV"),
        seq: next_seq(),
        session_id: session.session_id.clone(),
        case_id: session.case_id.clone(),
        at: now_ms(),
        kind,
        actor_identity: actor.map(|a| a.info.identity.clone()),
        actor_name: actor.map(|a| a.info.name.clone()),
        actor_role: actor.map(|a| a.info.role.as_str().to_owned()),
        subject_identity: subject.map(|s| s.info.identity.clone()),
        subject_name: subject.map(|s| s.info.name.clone()),
        space: space.map(|s| s.as_str().to_owned()),
        detail,
    })
}
