//! Frames on the socket: decoding what the client sends, writing ours within a deadline, and
//! the pings that tell a live client from a dead one.

use std::time::Duration;

use accord_protocol::{ClientMessage, ErrorCode, MAX_FRAME_BYTES, ServerMessage};
use axum::extract::ws::{Message, WebSocket};

use super::{Ending, Refusal};

/// We ping this often…
pub(super) const PING_INTERVAL: Duration = Duration::from_secs(15);
/// …and give up on a client silent for this long.
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// How long a client whose media died has to answer a ping before its socket counts as dead too.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// A frame the client's connection has not taken in this long means the client stopped
/// reading (its TCP window stays shut): it is dropped rather than left holding its seat while
/// everything meant for it piles up.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The last words to a client being dropped (an error frame, the close) get this long.
pub(super) const PARTING_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest `request_id` a frame may carry (docs/protocol.md).
const MAX_REQUEST_ID_CHARS: usize = 64;

/// What one read from the socket brought.
pub(super) enum Inbound {
    Message(ClientMessage),
    Refused(Option<String>, Refusal),
    Closed,
    Activity,
}

/// Writes one frame within [`WRITE_TIMEOUT`]; how the session ends if it cannot.
async fn write(socket: &mut WebSocket, message: Message) -> Result<(), Ending> {
    match tokio::time::timeout(WRITE_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Ending::SocketLost),
        Err(_) => Err(Ending::SlowConsumer),
    }
}

/// Sends a keep-alive ping within [`WRITE_TIMEOUT`].
pub(super) async fn ping(socket: &mut WebSocket) -> Result<(), Ending> {
    write(socket, Message::Ping(Vec::new().into())).await
}

/// Sends a server frame within [`WRITE_TIMEOUT`]; how the session ends if it cannot.
pub(super) async fn deliver(socket: &mut WebSocket, message: &ServerMessage) -> Result<(), Ending> {
    match serde_json::to_string(message) {
        Ok(text) => write(socket, Message::Text(text.into())).await,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a server message");
            Ok(())
        }
    }
}

/// Sends a server frame; whether it went.
pub(super) async fn send(socket: &mut WebSocket, message: &ServerMessage) -> bool {
    deliver(socket, message).await.is_ok()
}

/// Sends an error frame; whether the session goes on (it went, and was not fatal).
pub(super) async fn refuse(socket: &mut WebSocket, request_id: Option<String>, r: Refusal) -> bool {
    let fatal = r.fatal;
    let delivered = send(
        socket,
        &ServerMessage::Error {
            request_id,
            code: r.code,
            message: r.message,
            fatal,
            retry_after_ms: r
                .retry_after
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        },
    )
    .await;
    delivered && !fatal
}

/// Closes the socket, giving the close frame [`PARTING_TIMEOUT`] to go.
pub(super) async fn close(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(PARTING_TIMEOUT, socket.send(Message::Close(None))).await;
}

/// Reads the next frame and decodes it, refusing binary, oversized and malformed frames.
pub(super) async fn receive(socket: &mut WebSocket) -> Inbound {
    let Some(Ok(message)) = socket.recv().await else {
        return Inbound::Closed;
    };
    let text = match message {
        Message::Text(text) => text,
        Message::Binary(_) => {
            return Inbound::Refused(
                None,
                Refusal::new(ErrorCode::BadJson, "frames are JSON text", false),
            );
        }
        Message::Close(_) => return Inbound::Closed,
        Message::Ping(_) | Message::Pong(_) => return Inbound::Activity,
    };
    if text.len() > MAX_FRAME_BYTES {
        return Inbound::Refused(
            None,
            Refusal::new(
                ErrorCode::FrameTooLarge,
                format!("frames are limited to {MAX_FRAME_BYTES} bytes"),
                true,
            ),
        );
    }
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            return Inbound::Refused(None, Refusal::new(ErrorCode::BadJson, e.to_string(), false));
        }
    };
    let request_id = value
        .get("request_id")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    if request_id
        .as_deref()
        .is_some_and(|id| id.chars().count() > MAX_REQUEST_ID_CHARS)
    {
        // Not echoed: a client must not make the server repeat what it likes at any length.
        let message = format!("request_id is limited to {MAX_REQUEST_ID_CHARS} characters");
        return Inbound::Refused(None, Refusal::new(ErrorCode::BadJson, message, false));
    }
    match serde_json::from_value::<ClientMessage>(value) {
        Ok(m) => Inbound::Message(m),
        Err(e) => Inbound::Refused(
            request_id,
            Refusal::new(ErrorCode::BadJson, e.to_string(), false),
        ),
    }
}

/// Whether the client answers a ping (or says anything) within [`PROBE_TIMEOUT`].
pub(super) async fn answers_ping(socket: &mut WebSocket) -> bool {
    let probe = async {
        socket.send(Message::Ping(Vec::new().into())).await.is_ok()
            && !matches!(receive(socket).await, Inbound::Closed)
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe)
        .await
        .unwrap_or(false)
}
