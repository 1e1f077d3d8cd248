//! The WebSocket protocol's messages, one tagged enum per direction (see `docs/protocol.md`).

use std::collections::BTreeMap;

use accord_sfu::{IceCandidate, Speaker, TrackDeclaration, TrackId, TrackInfo, TrackSource};
use serde::{Deserialize, Serialize};

use crate::auth::Role;

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest client frame accepted.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// A frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Enter a room.
    Join {
        /// Must be [`PROTOCOL_VERSION`].
        protocol: u32,
        /// The join token.
        token: String,
        /// A `resume_token` from an earlier `joined`.
        #[serde(default)]
        resume: Option<String>,
        /// Echoed in the reply.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// The client's SDP offer.
    Offer {
        /// SDP text.
        sdp: String,
        /// What each sending transceiver carries.
        #[serde(default)]
        tracks: Vec<TrackDeclaration>,
        /// Echoed in the reply.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// The client's answer to a server offer.
    Answer {
        /// SDP text.
        sdp: String,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// A trickled ICE candidate.
    Candidate {
        /// The candidate.
        candidate: IceCandidate,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// The size a remote video is rendered at.
    TrackSettings {
        /// The remote track.
        track_id: TrackId,
        /// Rendered width in device pixels.
        width: u32,
        /// Rendered height in device pixels.
        height: u32,
        /// `false` asks for no video of it.
        #[serde(default)]
        enabled: Option<bool>,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// The client muted or unmuted its own source.
    Mute {
        /// Microphone, camera or screen.
        source: TrackSource,
        /// Muted now.
        muted: bool,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// The app went to the background or a phone call took over (`true`), or is back.
    /// Others are told; the seat is kept however long the media stays quiet meanwhile.
    Pause {
        /// Paused now.
        paused: bool,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Leave the room.
    Leave {
        /// Echoed in the reply.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Keep-alive.
    Ping {
        /// Echoed in the reply.
        #[serde(default)]
        request_id: Option<String>,
    },
}

impl ClientMessage {
    /// The request id the client attached, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ClientMessage::Join { request_id, .. }
            | ClientMessage::Offer { request_id, .. }
            | ClientMessage::Answer { request_id, .. }
            | ClientMessage::Candidate { request_id, .. }
            | ClientMessage::TrackSettings { request_id, .. }
            | ClientMessage::Mute { request_id, .. }
            | ClientMessage::Pause { request_id, .. }
            | ClientMessage::Leave { request_id, .. }
            | ClientMessage::Ping { request_id, .. } => request_id.as_deref(),
        }
    }
}

/// A participant as others see them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParticipantInfo {
    /// The seat.
    pub id: String,
    /// Stable identity from the token.
    pub identity: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Present while they are away or reconnecting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<PauseReason>,
}

/// Why someone's media is quiet although they are still in the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// Their app is in the background or a phone call took over.
    Away,
    /// Their connection dropped; their seat waits for them to resume.
    Reconnecting,
}

/// An ICE server for the client's `RTCPeerConnection`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:` / `turn:` URLs.
    pub urls: Vec<String>,
    /// TURN username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A frame to the client.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Admitted.
    Joined {
        /// Echo of the join's request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// [`PROTOCOL_VERSION`].
        protocol: u32,
        /// You.
        participant: ParticipantInfo,
        /// The room id.
        room: String,
        /// Everyone else who is visible.
        participants: Vec<ParticipantInfo>,
        /// Tracks already published.
        tracks: Vec<TrackInfo>,
        /// For `new RTCPeerConnection({iceServers})`.
        ice_servers: Vec<IceServer>,
        /// Present this in `join.resume` after a dropped socket to keep your seat.
        resume_token: String,
    },
    /// A server offer.
    Offer {
        /// SDP text.
        sdp: String,
        /// `mid` → track it carries.
        tracks: BTreeMap<String, TrackId>,
    },
    /// The answer to the client's offer.
    Answer {
        /// Echo of the offer's request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// SDP text.
        sdp: String,
    },
    /// Someone entered.
    ParticipantJoined {
        /// Who.
        participant: ParticipantInfo,
    },
    /// Someone left.
    ParticipantLeft {
        /// Who.
        participant_id: String,
        /// `left`, `disconnected`, `removed` or `replaced`.
        reason: LeaveReason,
    },
    /// Someone's media went quiet while they stay in the room, or came back.
    ParticipantPaused {
        /// Who.
        participant_id: String,
        /// Paused now.
        paused: bool,
        /// Why, while paused.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<PauseReason>,
    },
    /// A track is available.
    TrackPublished {
        /// The track.
        track: TrackInfo,
    },
    /// A track went away.
    TrackUnpublished {
        /// The track.
        track_id: TrackId,
    },
    /// A track was muted or unmuted.
    TrackMuted {
        /// The track.
        track_id: TrackId,
        /// Muted now.
        muted: bool,
    },
    /// The loudest speakers, loudest first.
    ActiveSpeakers {
        /// Speakers.
        speakers: Vec<Speaker>,
    },
    /// Which simulcast layers of your track anybody receives; you may stop the rest.
    LayerDemand {
        /// Your track.
        track_id: TrackId,
        /// Per layer, lowest first.
        active: Vec<bool>,
    },
    /// You have left; the socket closes.
    Left {
        /// Why.
        reason: LeaveReason,
    },
    /// Keep-alive reply.
    Pong {
        /// Echo.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    /// Something was refused.
    Error {
        /// Echo of the offending frame's request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// Machine-readable code (see `docs/protocol.md`).
        code: &'static str,
        /// For humans.
        message: String,
        /// The server closes the socket after this frame.
        fatal: bool,
    },
}

/// Why someone is no longer in the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// They left.
    Left,
    /// Their connection died.
    Disconnected,
    /// A moderator removed them.
    Removed,
    /// They joined again elsewhere with the same identity.
    Replaced,
    /// The server is shutting down.
    ServerShutdown,
}
