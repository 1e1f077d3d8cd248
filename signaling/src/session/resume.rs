//! Resuming: a client whose socket dropped comes back with its seat's resume token and takes
//! the seat back, media and all, as it was (or as a moderator left it meanwhile).

use axum::extract::ws::WebSocket;

use super::Seated;
use super::join::joined_frame;
use super::wire::send;
use crate::AppState;
use crate::rooms::SessionLink;
use accord_cases::tokens::JoinClaims;

/// What a resume came to.
pub(super) enum Resumption {
    /// The seat is the client's again; it has been sent `joined`.
    Seated(Box<Seated>),
    /// No seat matched the token (gone after its grace, or never there): join as new.
    NoSuchSeat,
    /// The seat was taken back, but removed or the session ended while it was.
    Ended,
}

/// Takes back the seat `token` names for the joining identity.
pub(super) async fn resume(
    state: &AppState,
    socket: &mut WebSocket,
    claims: &JoinClaims,
    session: Option<SessionLink>,
    token: String,
    request_id: Option<String>,
) -> Resumption {
    let rooms = state.rooms();
    let Some(r) = rooms.resume(&claims.room, &claims.sub, &token).await else {
        return Resumption::NoSuchSeat;
    };
    // It may have been moved while its socket was gone.
    if let Some(space) = rooms.space_of(&claims.room, &r.participant.id) {
        let _ = r.seat.handle.move_to(space.media()).await;
    }
    let tracks = r.seat.handle.room_tracks().await.unwrap_or_default();
    let Some(joined) = joined_frame(state, claims, &r.participant, tracks, token, request_id).await
    else {
        return Resumption::Ended;
    };
    send(socket, &joined).await;
    // Whatever made the media quiet is over or will be said again by the client.
    let _ = r.seat.handle.set_paused(false).await;
    Resumption::Seated(Box::new(Seated {
        room: claims.room.clone(),
        participant: r.participant,
        session,
        seat: r.seat,
        notices: r.notices,
        generation: r.generation,
        token_issued_at: claims.iat,
    }))
}
