//! A socket whose session another node owns is relayed to that node, server-side: this node
//! opens a WebSocket to the owner's `internal_url`, signed as a relay ([`crate::cluster::relay`]),
//! sends the client's join, and passes frames both ways until either side ends. The client
//! keeps one origin and its Content-Security-Policy; only signaling takes the extra hop,
//! since the owner's ICE candidates send the media straight to it.
//!
//! Each hop keeps itself alive: this node pings the client as the owner would and gives it
//! up after the same silence; the owner's pings are answered here. Nothing is queued: one
//! frame at a time, each write within the session's write deadline, so a side that stops
//! reading holds the other back only until the deadline ends the relay. When one side closes,
//! the other is closed with the same code and reason; a client that just vanished is passed
//! on as a dropped socket, so the owner holds its seat for a resume.

use std::net::IpAddr;
use std::time::Instant;

use accord_protocol::ErrorCode;
use axum::extract::ws::{self, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Refusal;
use super::wire::{IDLE_TIMEOUT, PARTING_TIMEOUT, PING_INTERVAL, WRITE_TIMEOUT, refuse};
use crate::AppState;
use crate::cluster::Placement;
use crate::cluster::relay::{self, MaskedIp};

type Owner = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The refusal a client gets when its session's node cannot be reached (or cannot take it
/// yet): its socket closes, nothing is wrong with its token or its session, and it joins
/// again after the pause (by then a dead owner's lease may have run out, and the session
/// is placed on a live node).
pub(super) fn unavailable(message: &str) -> Refusal {
    Refusal {
        retry_after: Some(relay::RETRY_AFTER),
        ..Refusal::new(ErrorCode::SessionUnavailable, message, true)
    }
}

/// Relays `socket` to the node `placement` names, starting with the client's `join` frame.
/// Returns when either side has ended; both are closed by then (the caller's close of the
/// client socket finds it closed).
pub(super) async fn forward(
    state: &AppState,
    socket: &mut WebSocket,
    placement: &Placement,
    join: String,
    client: Option<IpAddr>,
    request_id: Option<String>,
) {
    let mut owner = match connect(state, placement, client).await {
        Ok(owner) => owner,
        Err(reason) => {
            tracing::warn!(
                owner = %placement.owner,
                error = %reason,
                "cannot reach the node that owns a session; its client will join again"
            );
            let r = unavailable(
                "the server running this session cannot be reached; joining again shortly",
            );
            refuse(socket, request_id, r).await;
            return;
        }
    };
    tracing::info!(
        owner = %placement.owner,
        client = %MaskedIp(client),
        "relaying a socket to the node that owns its session"
    );
    let sent = tokio::time::timeout(WRITE_TIMEOUT, owner.send(Message::text(join))).await;
    if !matches!(sent, Ok(Ok(()))) {
        tracing::warn!(owner = %placement.owner, "the owning node did not take a relayed join");
        let r =
            unavailable("the server running this session did not answer; joining again shortly");
        refuse(socket, request_id, r).await;
        close_owner(&mut owner, None).await;
        return;
    }
    pipe(socket, owner).await;
}

/// Opens the relay's socket to the owner within [`relay::CONNECT_TIMEOUT`].
async fn connect(
    state: &AppState,
    placement: &Placement,
    client: Option<IpAddr>,
) -> Result<Owner, String> {
    let url = relay::ws_url(&placement.internal_url)
        .ok_or_else(|| "its internal_url is not http:// or https://".to_owned())?;
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("its internal_url: {e}"))?;
    let headers = relay::signed_headers(
        state.keys(),
        state.cluster().node_id(),
        client,
        placement.moved_from.as_deref(),
        "GET",
        "/ws",
        relay::now_s(),
    );
    for (name, value) in headers {
        let value = HeaderValue::from_str(&value).map_err(|e| format!("a relay header: {e}"))?;
        request.headers_mut().insert(name, value);
    }
    let connecting = tokio_tungstenite::connect_async_with_config(request, None, true);
    match tokio::time::timeout(relay::CONNECT_TIMEOUT, connecting).await {
        Ok(Ok((owner, _))) => Ok(owner),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {:?}", relay::CONNECT_TIMEOUT)),
    }
}

/// How the relay ended, which decides what each side is told.
enum End {
    /// The client closed: its close frame goes to the owner.
    ClientClosed(Option<CloseFrame>),
    /// The client vanished, went silent or stopped reading: the owner sees a dropped socket.
    ClientLost,
    /// The owner closed: its close frame goes to the client.
    OwnerClosed(Option<ws::CloseFrame>),
    /// The owner's connection broke or stopped reading: the client sees a dropped socket
    /// and joins again.
    OwnerLost,
}

async fn pipe(client: &mut WebSocket, owner: Owner) {
    let (mut to_owner, mut from_owner) = owner.split();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let end = loop {
        tokio::select! {
            inbound = client.recv() => {
                last_heard = Instant::now();
                let message = match inbound {
                    Some(Ok(ws::Message::Text(text))) => Message::text(text.as_str()),
                    Some(Ok(ws::Message::Binary(bytes))) => Message::Binary(bytes),
                    // Answered by this hop; the owner's own pings are answered here too.
                    Some(Ok(ws::Message::Ping(_) | ws::Message::Pong(_))) => continue,
                    Some(Ok(ws::Message::Close(frame))) => break End::ClientClosed(frame.map(to_owner_close)),
                    Some(Err(_)) | None => break End::ClientLost,
                };
                match tokio::time::timeout(WRITE_TIMEOUT, to_owner.send(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => break End::OwnerLost,
                }
            }
            outbound = from_owner.next() => {
                let message = match outbound {
                    Some(Ok(Message::Text(text))) => ws::Message::Text(text.as_str().into()),
                    Some(Ok(Message::Binary(bytes))) => ws::Message::Binary(bytes),
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(frame))) => break End::OwnerClosed(frame.map(to_client_close)),
                    Some(Err(_)) | None => break End::OwnerLost,
                };
                match tokio::time::timeout(WRITE_TIMEOUT, client.send(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => break End::ClientLost,
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_TIMEOUT {
                    break End::ClientLost;
                }
                let pinged = tokio::time::timeout(
                    WRITE_TIMEOUT,
                    client.send(ws::Message::Ping(Vec::new().into())),
                )
                .await;
                if !matches!(pinged, Ok(Ok(()))) {
                    break End::ClientLost;
                }
            }
        }
    };
    let mut owner = match to_owner.reunite(from_owner) {
        Ok(owner) => owner,
        Err(_) => return,
    };
    match end {
        End::ClientClosed(frame) => close_owner(&mut owner, frame).await,
        // Dropped, not closed with a frame: the owner holds the seat as for any lost socket.
        End::ClientLost => {
            let _ = tokio::time::timeout(PARTING_TIMEOUT, owner.close(None)).await;
        }
        End::OwnerClosed(frame) => {
            let _ =
                tokio::time::timeout(PARTING_TIMEOUT, client.send(ws::Message::Close(frame))).await;
            close_owner(&mut owner, None).await;
        }
        End::OwnerLost => {
            let frame = ws::CloseFrame {
                code: ws::close_code::AWAY,
                reason: "the server running this session went away; join again".into(),
            };
            let _ = tokio::time::timeout(
                PARTING_TIMEOUT,
                client.send(ws::Message::Close(Some(frame))),
            )
            .await;
        }
    }
}

async fn close_owner(owner: &mut Owner, frame: Option<CloseFrame>) {
    let _ = tokio::time::timeout(PARTING_TIMEOUT, owner.close(frame)).await;
}

fn to_owner_close(frame: ws::CloseFrame) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(frame.code),
        reason: tungstenite::Utf8Bytes::from(frame.reason.as_str()),
    }
}

fn to_client_close(frame: CloseFrame) -> ws::CloseFrame {
    ws::CloseFrame {
        code: u16::from(frame.code),
        reason: frame.reason.as_str().into(),
    }
}
