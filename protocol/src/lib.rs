//! Accord's WebSocket signaling protocol: the vocabulary a client and the server speak on
//! `GET /ws`, with no web framework in it (no axum, tower or tungstenite), so that the server
//! and any tool can depend on it without the HTTP edge. `docs/protocol.md` is the narrative
//! (negotiation, waiting room, caucus, moderation); this crate is the exact shape.
//!
//! # Frames
//! A frame is one JSON object in one WebSocket text message, tagged by its `type`
//! (snake_case). Each direction is one enum: [`ClientMessage`] (what a client may send,
//! unknown fields refused) and [`ServerMessage`] (what the server sends). Both carry the
//! same values: [`ParticipantInfo`], [`Space`], [`ChatMessage`], [`SharedEvidence`],
//! [`ConnectionHealth`], and why someone paused ([`PauseReason`]) or left ([`LeaveReason`]).
//! Recording has its own vocabulary: a moderator's [`RecordAction`], and the
//! [`RecordingStatus`] everyone is told (in `recording` and `joined`). A refused frame is answered by
//! `ServerMessage::Error` with an [`ErrorCode`]; the codes are one enum so the server cannot
//! send one the clients do not know. [`Role`] is what someone does in a room; join tokens
//! carry it too.
//!
//! # Versioning
//! The first client frame is `join`, carrying [`PROTOCOL_VERSION`]; any other version is
//! refused (`unsupported_protocol`, fatal). Adding an optional field is compatible and keeps
//! the version; renaming or removing a frame or field, or changing what one means, needs a
//! new version.
//!
//! # Limits
//! A client frame is at most [`MAX_FRAME_BYTES`] (`frame_too_large`, fatal). Rate limits per
//! participant (chat, raised hands, pauses) are the server's configuration, described in
//! `docs/protocol.md`.
//!
//! # Examples and the other copies
//! `docs/protocol/examples/` holds one JSON file per frame in each direction and the list of
//! error codes. The Rust test client (`tests/src/protocol/`) and the web client
//! (`web-client/src/signal/messages.ts`) keep their own copies of the protocol on purpose, as
//! independent checks of the server; all three parse those files in their unit tests, so a
//! frame added to one copy and not the others fails a test.
//!
//! Server types derive `Deserialize` only under `cfg(test)`: the server never reads them, and
//! the example-frame tests parse them back.

mod client;
mod codes;
mod parts;
mod recording;
mod server;
#[cfg(test)]
mod tests;

pub use accord_cases::tokens::Role;
pub use client::ClientMessage;
pub use codes::ErrorCode;
pub use parts::{
    ChatMessage, ConnectionHealth, DraftCommentInfo, IceServer, LeaveReason, ParticipantInfo,
    PauseReason, SharedEvidence, Space,
};
pub use recording::{RecordAction, RecordingEndReason, RecordingState, RecordingStatus};
pub use server::ServerMessage;

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest client frame accepted: a `draft_update` carries up to 64 KiB of update in base64
/// (87 382 characters), so frames may be twice that; anything larger is hostile or broken.
pub const MAX_FRAME_BYTES: usize = 128 * 1024;
