//! The waiting room: a joiner seated with a lobby is told it waits, and its socket is kept
//! alive until a moderator admits or denies it (or it leaves, or goes silent).

use std::time::Instant;

use accord_protocol::{ClientMessage, ErrorCode, LeaveReason, PROTOCOL_VERSION, ServerMessage};
use axum::extract::ws::WebSocket;

use super::wire::{IDLE_TIMEOUT, Inbound, PING_INTERVAL, ping, receive, refuse, send};
use super::{Ending, Refusal, actions};
use crate::rooms::{Admission, Notice, Notices, Rooms};

/// Tells the client it waits, then waits with it. Whether a moderator let it in; if not, its
/// seat is settled (removed unless it was taken already) and the client told why where it can
/// still hear.
pub(super) async fn until_admitted(
    rooms: &Rooms,
    socket: &mut WebSocket,
    room: &str,
    admission: &mut Admission,
    request_id: &Option<String>,
) -> bool {
    let id = admission.participant.id.as_str();
    let waiting = ServerMessage::Waiting {
        request_id: request_id.clone(),
        protocol: PROTOCOL_VERSION,
        participant: admission.participant.clone(),
    };
    if !send(socket, &waiting).await {
        rooms.remove(room, id, LeaveReason::Disconnected);
        return false;
    }
    if let Some(status) = rooms.recording_for(room, id)
        && !send(socket, &ServerMessage::Recording { status }).await
    {
        rooms.remove(room, id, LeaveReason::Disconnected);
        return false;
    }
    let Err(ending) = keep_alive(socket, &mut admission.notices).await else {
        return true;
    };
    match ending {
        Ending::Gone(reason, message) => {
            let _ = send(socket, &actions::gone_message(reason, message)).await;
        }
        Ending::Leave(reason) => {
            let _ = send(socket, &actions::gone_message(reason, None)).await;
            rooms.remove(room, id, reason);
        }
        Ending::SocketLost | Ending::SlowConsumer => {
            rooms.remove(room, id, LeaveReason::Disconnected)
        }
    }
    false
}

/// Keeps a waiting client's socket alive until a moderator admits or denies it.
async fn keep_alive(socket: &mut WebSocket, notices: &mut Notices) -> Result<(), Ending> {
    let mut ping_timer = tokio::time::interval(PING_INTERVAL);
    ping_timer.tick().await;
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            inbound = receive(socket) => {
                last_heard = Instant::now();
                match inbound {
                    Inbound::Closed => return Err(Ending::SocketLost),
                    Inbound::Activity => {}
                    Inbound::Refused(id, r) => {
                        if !refuse(socket, id, r).await {
                            return Err(Ending::SocketLost);
                        }
                    }
                    Inbound::Message(ClientMessage::Leave { .. }) => {
                        return Err(Ending::Leave(LeaveReason::Left));
                    }
                    Inbound::Message(ClientMessage::Ping { request_id }) => {
                        send(socket, &ServerMessage::Pong { request_id }).await;
                    }
                    Inbound::Message(m) => {
                        let r = Refusal::new(
                            ErrorCode::NotAdmitted,
                            "you are in the waiting room until the mediator lets you in",
                            false,
                        );
                        if !refuse(socket, m.request_id().map(str::to_owned), r).await {
                            return Err(Ending::SocketLost);
                        }
                    }
                }
            }
            notice = notices.recv() => match notice {
                Some(Notice::Admitted) => return Ok(()),
                Some(Notice::YouAreGone(reason, message)) => {
                    return Err(Ending::Gone(reason, message));
                }
                // People waiting hear of recording too: they must know before they speak.
                Some(Notice::Recording(status)) => {
                    if !send(socket, &ServerMessage::Recording { status }).await {
                        return Err(Ending::SocketLost);
                    }
                }
                Some(_) => {}
                None => return Err(Ending::Gone(LeaveReason::Removed, None)),
            },
            _ = ping_timer.tick() => {
                if last_heard.elapsed() > IDLE_TIMEOUT {
                    return Err(Ending::SocketLost);
                }
                ping(socket).await?;
            }
        }
    }
}
