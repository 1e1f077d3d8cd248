//! The join handshake and taking a seat: the first frame must be `join` in our protocol
//! version, its token must verify and the case must still admit it; then the seat is resumed
//! or newly admitted (through the waiting room if need be), given its media side, and the
//! client is sent `joined`.

use std::time::Duration;

use accord_protocol::{
    ClientMessage, ErrorCode, LeaveReason, PROTOCOL_VERSION, ParticipantInfo, ServerMessage,
};
use accord_sfu::{JoinRequest, ParticipantId, RoomId};
use axum::extract::ws::WebSocket;

use super::resume::{self, Resumption};
use super::wire::{Inbound, receive, refuse, send};
use super::{Origin, Refusal, Seated, actions, forward, seating, waiting};
use crate::AppState;
use crate::cluster::{ClusterError, Placement, placement_key};
use crate::rooms::{AdmitError, Placed, Seat, Seating};
use accord_cases::tokens::JoinClaims;

/// The first frame must arrive within this.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A join that passed the handshake: who it is, where they sit, and what they asked for.
pub(super) struct Joining {
    pub(super) claims: JoinClaims,
    pub(super) seating: Seating,
    /// The resume token of a seat held open since a dropped socket.
    pub(super) resume: Option<String>,
    pub(super) request_id: Option<String>,
    /// Keeps the session placed here until the seat is taken (or refused).
    pub(super) placed: crate::rooms::Joining,
    /// The session's placement key, to give it up when its room is gone.
    pub(super) key: String,
}

/// Where a join that passed the handshake is served.
pub(super) enum Handshake {
    /// Here: seat it.
    Here(Box<Joining>),
    /// On another node: relay the socket there, starting with this `join` frame.
    Elsewhere {
        placement: Placement,
        join: String,
        request_id: Option<String>,
    },
}

/// Reads the first frame and checks it, its token and the case's say on it, and places its
/// session (unless another node placed it and relayed the socket here). `None` when the
/// client was refused (and told so where it could hear): the socket is to be closed.
pub(super) async fn handshake(
    state: &AppState,
    socket: &mut WebSocket,
    origin: &Origin,
) -> Option<Handshake> {
    let first = tokio::time::timeout(JOIN_TIMEOUT, receive(socket)).await;
    let (token, resume, request_id, join) = match first {
        Ok(Inbound::Message(ClientMessage::Join {
            protocol,
            token,
            resume,
            request_id,
        })) => {
            if protocol != PROTOCOL_VERSION {
                let r = Refusal::new(
                    ErrorCode::UnsupportedProtocol,
                    format!("this server speaks protocol {PROTOCOL_VERSION}"),
                    true,
                );
                refuse(socket, request_id, r).await;
                return None;
            }
            let join = serde_json::json!({
                "type": "join",
                "protocol": protocol,
                "token": token,
                "resume": resume,
                "request_id": request_id,
            })
            .to_string();
            (token, resume, request_id, join)
        }
        Ok(Inbound::Refused(id, r)) if r.fatal => {
            refuse(socket, id, r).await;
            return None;
        }
        Ok(Inbound::Closed) | Err(_) => return None,
        Ok(other) => {
            let id = match other {
                Inbound::Refused(id, _) => id,
                Inbound::Message(m) => m.request_id().map(str::to_owned),
                _ => None,
            };
            let r = Refusal::new(ErrorCode::NotJoined, "the first frame must be join", true);
            refuse(socket, id, r).await;
            return None;
        }
    };
    let verified = match state.keys().verify(&token) {
        Ok(claims) => crate::casework::check_join(state, &claims)
            .await
            .map(|()| claims),
        Err(e) => Err(e.into()),
    };
    let claims = match verified {
        Ok(c) => c,
        Err(e) => {
            refuse(
                socket,
                request_id,
                Refusal::new(ErrorCode::InvalidToken, e.to_string(), true),
            )
            .await;
            return None;
        }
    };
    let key = placement_key(claims.session.as_deref(), &claims.room);
    let (placed, moved_from) = match &origin.relayed {
        // Placed by the node that relayed it: never placed (nor relayed) again.
        Some(relayed) => match crate::rooms::relayed_join(state, &claims.room, &key).await {
            Some(placed) => (placed, relayed.moved_from.clone()),
            None => {
                refuse(
                    socket,
                    request_id,
                    actions::admit_refusal(AdmitError::Draining),
                )
                .await;
                return None;
            }
        },
        None => match crate::rooms::place_join(state, &claims.room, &key).await {
            Ok(Placed::Here(placed, moved_from)) => (placed, moved_from),
            Ok(Placed::Elsewhere(placement)) => {
                return Some(Handshake::Elsewhere {
                    placement,
                    join,
                    request_id,
                });
            }
            // Today's refusal of a draining node, said of the whole cluster: every node is
            // draining or at its `max_rooms`, so the client tries again shortly.
            Err(ClusterError::NoNodeAvailable) => {
                let r = Refusal {
                    retry_after: Some(crate::drain::RETRY_AFTER),
                    ..Refusal::new(
                        ErrorCode::NodeDraining,
                        "no server takes a new session now (each is full or shutting down); \
                         joining again shortly",
                        true,
                    )
                };
                refuse(socket, request_id, r).await;
                return None;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot place a session");
                let r =
                    forward::unavailable("the session cannot be placed now; joining again shortly");
                refuse(socket, request_id, r).await;
                return None;
            }
        },
    };
    if let Err(e) = crate::failover::before_seating(state, &claims, moved_from.as_deref()).await {
        tracing::error!(error = %e, "cannot take over a session from a node that is gone");
        let r = forward::unavailable(
            "this session is being moved to another server; joining again shortly",
        );
        refuse(socket, request_id, r).await;
        return None;
    }
    let seating = match seating::seating(state, &claims).await {
        Ok(s) => s,
        Err(r) => {
            refuse(socket, request_id, r).await;
            return None;
        }
    };
    Some(Handshake::Here(Box::new(Joining {
        claims,
        seating,
        resume,
        request_id,
        placed,
        key,
    })))
}

/// The `joined` frame for a seat, from the room as the participant is to see it now.
pub(super) async fn joined_frame(
    state: &AppState,
    claims: &JoinClaims,
    participant: &ParticipantInfo,
    tracks: Vec<accord_sfu::TrackInfo>,
    resume_token: String,
    request_id: Option<String>,
) -> Option<ServerMessage> {
    let snapshot = state.rooms().snapshot(&claims.room, &participant.id)?;
    Some(ServerMessage::Joined {
        request_id,
        protocol: PROTOCOL_VERSION,
        participant: participant.clone(),
        room: claims.room.clone(),
        participants: snapshot.others,
        tracks,
        ice_servers: accord_sfu::ice_servers_for(
            &state.config().ice_servers,
            state.config().turn.as_ref(),
            &participant.identity,
        ),
        resume_token,
        space: snapshot.space,
        locked: snapshot.locked,
        moderator: snapshot.moderator,
        chat: snapshot.chat,
        session: snapshot.session,
        recording: snapshot.recording,
    })
}

/// Seats a verified join: takes back its old seat if it asked to resume and still may,
/// otherwise admits a new one. `None` when there is no seat to relay for (refused, never let in
/// from the waiting room, gone while joining, or the client stopped hearing).
pub(super) async fn take_seat(
    state: &AppState,
    socket: &mut WebSocket,
    claims: &JoinClaims,
    seating: Seating,
    resume: Option<String>,
    request_id: Option<String>,
) -> Option<Seated> {
    let rooms = state.rooms();
    let session = seating.session.clone();
    let mut resume_refused = false;
    if let Some(token) = resume {
        let resumed = resume::resume(
            state,
            socket,
            claims,
            session.clone(),
            token,
            request_id.clone(),
        )
        .await;
        match resumed {
            Resumption::Seated(seated) => return Some(*seated),
            Resumption::Ended => return None,
            Resumption::NoSuchSeat => resume_refused = true,
        }
    }
    let mut admission = match rooms.admit(claims, seating, state.config().max_participants) {
        Ok(a) => a,
        Err(e) => {
            refuse(socket, request_id, actions::admit_refusal(e)).await;
            return None;
        }
    };
    let id = admission.participant.id.clone();
    if admission.waiting
        && !waiting::until_admitted(rooms, socket, &claims.room, &mut admission, &request_id).await
    {
        return None;
    }
    let space = rooms.space_of(&claims.room, &id).unwrap_or_default();
    let joined = state
        .sfu()
        .join(JoinRequest {
            room: RoomId::new(&claims.room),
            participant: ParticipantId::new(&id),
            // Observers watch; whatever their token says, they never publish.
            can_publish: claims.can_publish && claims.role != accord_cases::tokens::Role::Observer,
            can_subscribe: claims.can_subscribe,
            space: space.media(),
        })
        .await;
    let joined = match joined {
        Ok(j) => j,
        Err(e) => {
            rooms.remove(&claims.room, &id, LeaveReason::Disconnected);
            refuse(socket, request_id, Refusal::from(e)).await;
            return None;
        }
    };
    // A move made while the media seat was being set up is applied now.
    if let Some(now) = rooms
        .space_of(&claims.room, &id)
        .filter(|now| *now != space)
    {
        let _ = joined.handle.move_to(now.media()).await;
    }
    if resume_refused {
        let r = Refusal::new(
            ErrorCode::ResumeFailed,
            "the seat could not be resumed; joined as new",
            false,
        );
        refuse(socket, None, r).await;
    }
    let tracks = joined.handle.room_tracks().await.unwrap_or(joined.tracks);
    let Some(message) = joined_frame(
        state,
        claims,
        &admission.participant,
        tracks,
        admission.resume_token,
        request_id,
    )
    .await
    else {
        // Removed or the session ended while joining.
        return None;
    };
    if !send(socket, &message).await {
        rooms.remove(&claims.room, &id, LeaveReason::Disconnected);
        return None;
    }
    Some(Seated {
        room: claims.room.clone(),
        participant: admission.participant,
        session,
        seat: Seat {
            handle: joined.handle,
            events: joined.events,
        },
        notices: admission.notices,
        generation: admission.generation,
        token_issued_at: claims.iat,
    })
}
