//! One WebSocket session, from upgrade to close: the join handshake (and the waiting room),
//! then relaying between the client, its seat in the SFU, and the room's notices until it
//! leaves, drops, is removed, or loses its media.
//!
//! [`run`] takes a session through its steps, each in its own file:
//!
//! 1. `join`: the first frame must be `join` in our protocol version, within a few seconds;
//!    its token must verify and the case must still admit it (an invite not revoked, a
//!    session not over). Its session is then placed in the cluster: if another node owns it,
//!    `forward` relays the socket there and this node only passes frames; a socket another
//!    node relayed here (its signature checked in `http`) is served without placing it
//!    again. `seating` works out where the person sits: their side, whom they follow into
//!    private rooms, whether they wait, and whether they have consented yet.
//! 2. The seat: a resume token takes back a seat held open since a dropped socket
//!    (`resume`); otherwise the room admits a new seat, and someone seated with a lobby
//!    waits in the waiting room (`waiting`) until a moderator lets them in or turns them
//!    away. The SFU then gives the seat its media side and the client is sent `joined`.
//! 3. `relay`: client frames go to the SFU or, for the frames that run a session (admit,
//!    move, mute, chat, …), to the room through `actions`, and the agreement's drafting frames
//!    to `drafting`; the room's notices and the SFU's events go to the client.
//! 4. The `Ending` decides what becomes of the seat: removed, already taken from us, or
//!    held open for a resume when only the socket dropped. A room left empty gives up its
//!    placement (after the resume grace, for a held seat), so the next join places the
//!    session by load again.
//!
//! `wire` reads and writes frames. Every write has a deadline, so a client that stops
//! reading is dropped rather than left holding its seat while everything meant for it piles
//! up; a frame that is not JSON, too large, or not a client message is answered with an error
//! frame (`refusal`), fatal or not, as docs/protocol.md says.

mod actions;
mod drafting;
mod forward;
mod join;
mod refusal;
mod relay;
mod resume;
mod seating;
mod waiting;
mod wire;

use std::net::IpAddr;
use std::time::Duration;

use accord_protocol::{ErrorCode, LeaveReason, ParticipantInfo, ServerMessage};
use axum::extract::ws::WebSocket;

use crate::AppState;
use crate::cluster::relay::Relayed;
use crate::rooms::{Notices, Seat, SessionLink};
use join::Handshake;
use refusal::Refusal;
use wire::{PARTING_TIMEOUT, send};

/// Where a socket came from.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The client's address: as this node saw it, or as the node that relayed the socket
    /// saw it (only when the relay's signature verified).
    pub client: Option<IpAddr>,
    /// Set when another node of the cluster placed the session here and relayed the socket.
    pub relayed: Option<Relayed>,
}

/// A seat held for a resume keeps its room's placement; it is looked at again this long
/// after the grace, when the seat is taken back or its room is gone.
const RELEASE_MARGIN: Duration = Duration::from_secs(1);

/// A seated session: whom it relays for, and the room and media ends it relays between.
struct Seated {
    room: String,
    participant: ParticipantInfo,
    session: Option<SessionLink>,
    seat: Seat,
    notices: Notices,
    generation: u64,
    /// When the join token was issued (Unix seconds): a staff member's token can be revoked.
    token_issued_at: u64,
}

/// How a session ended, which decides what becomes of its seat.
enum Ending {
    /// The participant is leaving (asked to, or its media died): remove the seat.
    Leave(LeaveReason),
    /// The seat was already taken from us (replaced, removed, denied, ended), with a
    /// moderator's reason.
    Gone(LeaveReason, Option<String>),
    /// The socket dropped: hold the seat for a resume.
    SocketLost,
    /// The client stopped reading (a write timed out, or its notices overflowed): tell it
    /// if it can still hear, and give its seat up.
    SlowConsumer,
}

/// Runs a socket from upgrade to close: served here, or relayed to the node that owns its
/// session.
pub async fn run(mut socket: WebSocket, state: AppState, origin: Origin) {
    state.metrics().sessions_changed(1);
    let joining = match join::handshake(&state, &mut socket, &origin).await {
        None => return finish(&state, socket).await,
        Some(Handshake::Here(joining)) => *joining,
        Some(Handshake::Elsewhere {
            placement,
            join,
            request_id,
        }) => {
            forward::forward(
                &state,
                &mut socket,
                &placement,
                join,
                origin.client,
                request_id,
            )
            .await;
            return finish(&state, socket).await;
        }
    };
    if let Some(relayed) = &origin.relayed {
        tracing::debug!(
            from = %relayed.node,
            client = %crate::cluster::relay::MaskedIp(origin.client),
            "serving a socket relayed by another node"
        );
    }
    let claims = joining.claims;
    let key = joining.key;
    let placed = joining.placed;
    let seated = join::take_seat(
        &state,
        &mut socket,
        &claims,
        joining.seating,
        joining.resume,
        joining.request_id,
    )
    .await;
    // Seated (the room is live) or refused (the placement goes if the room is gone).
    drop(placed);
    let Some(mut seated) = seated else {
        return finish(&state, socket).await;
    };
    let outcome = relay::relay(&state, &mut socket, &mut seated).await;
    let room = claims.room.as_str();
    let id = seated.participant.id.as_str();
    let held = matches!(outcome, Ending::SocketLost);
    match outcome {
        Ending::Leave(reason) => {
            let _ = send(&mut socket, &actions::gone_message(reason, None)).await;
            if state.rooms().holds(room, id, seated.generation) {
                state.rooms().remove(room, id, reason);
            }
        }
        Ending::Gone(reason, message) => {
            let _ = send(&mut socket, &actions::gone_message(reason, message)).await;
        }
        Ending::SlowConsumer => {
            tracing::info!("dropping a client that stopped reading its socket");
            let message = ServerMessage::Error {
                request_id: None,
                code: ErrorCode::SlowConsumer,
                message: "this connection stopped taking messages; join again".to_owned(),
                fatal: true,
                retry_after_ms: None,
            };
            let _ = tokio::time::timeout(PARTING_TIMEOUT, send(&mut socket, &message)).await;
            if state.rooms().holds(room, id, seated.generation) {
                state.rooms().remove(room, id, LeaveReason::Disconnected);
            }
        }
        Ending::SocketLost => {
            if state.rooms().holds(room, id, seated.generation) {
                // Its media stops too; the seat must not be dropped for that before the grace.
                let _ = seated.seat.handle.set_paused(true).await;
                state
                    .rooms()
                    .detach(room, id, seated.seat, state.config().resume_grace);
            }
        }
    }
    if held {
        let after = state.config().resume_grace + RELEASE_MARGIN;
        crate::rooms::release_after(&state, room, &key, after);
    } else {
        crate::rooms::release_if_gone(&state, room, &key).await;
    }
    finish(&state, socket).await;
}

/// Closes the socket and counts the session out.
async fn finish(state: &AppState, mut socket: WebSocket) {
    wire::close(&mut socket).await;
    state.metrics().sessions_changed(-1);
}
