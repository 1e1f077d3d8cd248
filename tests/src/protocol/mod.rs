//! The WebSocket signaling protocol of `docs/protocol.md`, version 1, as serde types.
//!
//! Server frames are decoded leniently (unknown fields ignored, optional fields defaulted)
//! because the point of the tests is to observe the server, not to reject it on a detail; the
//! raw JSON of every frame is kept alongside for assertions and diagnostics.
//!
//! It stays a copy of its own, apart from the server's `accord-protocol` crate, on purpose: an
//! independent check of what the server sends. The example-frame tests keep the copies equal.

mod client;
mod codes;
mod parts;
mod server;
#[cfg(test)]
mod tests;

pub use client::{ClientFrame, TrackDescription};
pub use codes::{ErrorCode, ErrorFrame};
pub use parts::{ConnectionHealth, Joined, Participant, Recording, Speaker, TrackInfo};
pub use server::{ServerFrame, parse_server_frame};

/// Protocol version this client speaks.
pub const PROTOCOL_VERSION: u32 = 1;
