//! Writes what happens in a case session's room to its record (笔录), in order, without
//! holding up the room: entries are numbered when they happen and written by one task.

use accord_protocol::Space;
use tokio::sync::mpsc;

use super::{Member, RoomState};
use accord_cases::store::model::SessionEvent;
use accord_cases::store::model::SessionEventKind;
use accord_cases::store::{Store, new_id, next_seq, now_ms};

/// Entries waiting for the writer. Every entry comes from a join, a leave, a moderator's
/// action or a rate-limited party action, so this absorbs bursts of a busy node many times
/// over; past it, entries wait in tasks of their own rather than being lost (a record must
/// not miss what happened), which shows as a warning.
const RECORD_QUEUE: usize = 4096;

/// The session's minutes (笔录) being taken: hands session-record entries to the writer
/// task. Named apart from the media recorder, which keeps the session's audio and video. The
/// default records nothing (rooms that are not case sessions, unit tests).
#[derive(Clone, Default)]
pub struct Minutes {
    entries: Option<mpsc::Sender<SessionEvent>>,
}

impl Minutes {
    /// Starts the writer on the current tokio runtime.
    pub fn start(store: Store) -> Self {
        let (tx, mut rx) = mpsc::channel::<SessionEvent>(RECORD_QUEUE);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if let Err(e) = store.append_session_event(&event).await {
                    tracing::error!(error = %e, kind = %event.kind, session = %event.session_id,
                        "cannot write to the session record");
                }
            }
        });
        Self { entries: Some(tx) }
    }

    /// Records an entry for a room of a case session.
    pub(super) fn note(
        &self,
        room: &RoomState,
        kind: SessionEventKind,
        actor: Option<&Member>,
        subject: Option<&Member>,
        space: Option<Space>,
        detail: Option<String>,
    ) {
        let (Some(tx), Some(event)) = (
            &self.entries,
            entry(room, kind, actor, subject, space, detail),
        ) else {
            return;
        };
        // Entries are numbered already, so one that waits is still written in its place.
        if let Err(mpsc::error::TrySendError::Full(event)) = tx.try_send(event) {
            tracing::warn!("the session record writer is behind; an entry waits");
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(event).await;
            });
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
