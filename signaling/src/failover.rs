//! A session whose node died goes on here: before anyone is seated in a room this node has
//! just taken over, the room is rebuilt from the session record, and the record and the
//! case's audit trail say that the session was interrupted and moved.
//!
//! The clients of the dead node come back with `join` and a resume token this node never
//! issued: they get a new seat, and because the rebuilt room remembers who had been let in
//! and which private room each person was last in, the new seat is straight in that room,
//! without the waiting room. The media start again on a new peer connection. A recording
//! that was running is not started again here: the room is not recording until the mediator
//! starts a new one, and the dead node's recording is finished as `interrupted` by
//! `recording::finish::recover_dead_nodes`, looked for as soon as its writer has been silent
//! long enough: until then the mediator cannot start another.
//!
//! Placement tells only the join that took the session over (`moved_from`). Other joins of
//! the session can reach this node a moment earlier or later, so on a node of several every
//! join that would open the room here rebuilds it first, behind one gate per room: the first
//! rebuilds, the others wait and find it built. A brand-new session replays an empty record.

use std::time::Duration;

use accord_cases::store::now_ms;
use accord_cases::tokens::JoinClaims;

use crate::recording::finish::{WRITER_SILENCE, recover_dead_nodes};
use crate::rooms::{Restored, SessionLink};
use crate::{AppState, Error, Result};

/// How long a join waits for the room's rebuild (its own or another join's) before it is
/// refused, to join again.
const REBUILD_WAIT: Duration = Duration::from_secs(10);
/// Past the writer's silence, so the look finds it silent whatever the clocks' rounding.
const SILENCE_MARGIN_MS: i64 = 500;

/// Called for every join this node serves itself, after placement. `moved_from` is the dead
/// node placement took the session over from (only the join that took it over learns it);
/// joins of the same session arriving meanwhile wait until the room is rebuilt.
pub async fn before_seating(
    state: &AppState,
    claims: &JoinClaims,
    moved_from: Option<&str>,
) -> Result<()> {
    let (Some(case_id), Some(session_id)) = (&claims.case, &claims.session) else {
        // Only a case session has a record to rebuild from.
        return Ok(());
    };
    let rooms = state.rooms();
    // A single node never takes a session over; a room with seats here is built already.
    if moved_from.is_none() && (!state.cluster().clustered() || rooms.has_room(&claims.room)) {
        return Ok(());
    }
    let link = SessionLink {
        case_id: case_id.into(),
        session_id: session_id.into(),
    };
    tokio::time::timeout(
        REBUILD_WAIT,
        rebuild(state, &claims.room, &link, moved_from),
    )
    .await
    .map_err(|_| Error::Unavailable("the session is moving to another server; join again".into()))?
}

async fn rebuild(
    state: &AppState,
    room: &str,
    link: &SessionLink,
    moved_from: Option<&str>,
) -> Result<()> {
    let rooms = state.rooms();
    let _gate = rooms.rebuild_gate(room).await;
    let store = state.store();
    if !rooms.has_room(room) {
        // What this node writes in the record from now on sorts after the dead node's entries,
        // whatever its clock said.
        store.seed_record_seq().await?;
        let events = store.session_events(&link.session_id).await?;
        rooms.restore(room, Restored::replay(link, &events));
    }
    if let Some(from) = moved_from {
        let to = state.cluster().node_id();
        if store
            .record_failover(&link.case_id, &link.session_id, from, to)
            .await?
        {
            tracing::warn!(session = %link.session_id, from_node = from,
                "took over a session whose node is gone; its room was rebuilt from the record");
            finish_its_recording_soon(state, link, from).await;
        }
    }
    Ok(())
}

/// A recording the dead node left unfinished keeps the mediator from starting a new one (a
/// session has one running recording at a time) until a live node finishes it, which waits
/// for [`WRITER_SILENCE`] since its writer's last checkpoint (the node may only have lost
/// Redis and still be writing). Rather than leave it to the next periodic look, up to
/// [`DEAD_NODE_CHECK`](crate::recording::finish::DEAD_NODE_CHECK) later, this looks again
/// as soon as that silence has passed.
async fn finish_its_recording_soon(state: &AppState, link: &SessionLink, from: &str) {
    let unfinished = match state.store().unfinished_recordings().await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for the recording of a node that is gone");
            return;
        }
    };
    let Some(last_sign) = unfinished
        .iter()
        .filter(|r| r.session_id == link.session_id && r.node == from)
        .map(|r| r.checkpoint_at.unwrap_or(r.started_at))
        .max()
    else {
        return;
    };
    let silence = i64::try_from(WRITER_SILENCE.as_millis()).unwrap_or(i64::MAX / 2);
    let wait_ms = (last_sign.saturating_add(silence) - now_ms()).max(0) + SILENCE_MARGIN_MS;
    let weak = state.downgrade();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(wait_ms.unsigned_abs())).await;
        let Some(state) = AppState::upgrade(&weak) else {
            return;
        };
        if let Err(e) = recover_dead_nodes(&state).await {
            tracing::warn!(error = %e, "cannot finish the recording of a node that is gone");
        }
    });
}
