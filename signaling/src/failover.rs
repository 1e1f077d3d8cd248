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
//! `recording::finish::recover_dead_nodes`.
//!
//! Placement tells only the join that took the session over (`moved_from`). Other joins of
//! the session can reach this node a moment earlier or later, so on a node of several every
//! join that would open the room here rebuilds it first, behind one gate per room: the first
//! rebuilds, the others wait and find it built. A brand-new session replays an empty record.

use std::time::Duration;

use accord_cases::tokens::JoinClaims;

use crate::rooms::{Restored, SessionLink};
use crate::{AppState, Error, Result};

/// How long a join waits for the room's rebuild (its own or another join's) before it is
/// refused, to join again.
const REBUILD_WAIT: Duration = Duration::from_secs(10);

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
        }
    }
    Ok(())
}
