//! The WebSocket protocol's messages, one tagged enum per direction (see `docs/protocol.md`).

use std::collections::BTreeMap;

use accord_sfu::{
    AudioOnlyReason, IceCandidate, IceRestartReason, LinkHealth, LinkQuality, Speaker,
    TrackDeclaration, TrackId, TrackInfo, TrackSource,
};
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::store::model::{PartyKind, Side};

mod codes;
#[cfg(test)]
mod tests;

pub use codes::ErrorCode;

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
    /// Your "save data" switch: no video to you while `enabled` (answered by `audio_only`).
    SaveData {
        /// On now.
        enabled: bool,
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
    /// Moderators: admit one waiting person, or everyone waiting.
    Admit {
        /// Who; everyone waiting when absent.
        #[serde(default)]
        participant_id: Option<String>,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Moderators: turn a waiting person away.
    Deny {
        /// Who.
        participant_id: String,
        /// Told to them.
        reason: String,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Moderators: a locked room admits nobody new.
    Lock {
        /// Locked now.
        locked: bool,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Moderators: move someone (or yourself) to a space; a party's helpers follow.
    Move {
        /// Who.
        participant_id: String,
        /// Where.
        to: Space,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Moderators: everyone back to the joint room.
    Gather {
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Moderators: ask someone to turn a source on.
    AskUnmute {
        /// Who.
        participant_id: String,
        /// Microphone or camera.
        source: TrackSource,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Moderators: mute someone's microphone or stop their camera.
    MuteParticipant {
        /// Who.
        participant_id: String,
        /// Microphone, camera or screen.
        source: TrackSource,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Moderators: remove someone from the session for good.
    Remove {
        /// Who.
        participant_id: String,
        /// Told to them and kept in the record.
        reason: String,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Moderators: end the session for everyone.
    EndSession {
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Raise or lower your hand.
    RaiseHand {
        /// Raised now.
        raised: bool,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// A chat message to your space.
    Chat {
        /// 1–2000 characters.
        text: String,
        /// Echoed in errors.
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
            | ClientMessage::SaveData { request_id, .. }
            | ClientMessage::Leave { request_id, .. }
            | ClientMessage::Ping { request_id, .. }
            | ClientMessage::Admit { request_id, .. }
            | ClientMessage::Deny { request_id, .. }
            | ClientMessage::Lock { request_id, .. }
            | ClientMessage::Move { request_id, .. }
            | ClientMessage::Gather { request_id, .. }
            | ClientMessage::AskUnmute { request_id, .. }
            | ClientMessage::MuteParticipant { request_id, .. }
            | ClientMessage::Remove { request_id, .. }
            | ClientMessage::EndSession { request_id, .. }
            | ClientMessage::RaiseHand { request_id, .. }
            | ClientMessage::Chat { request_id, .. } => request_id.as_deref(),
        }
    }
}

/// A participant as others see them.
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
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
    /// For parties and their helpers: their side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// For parties and their helpers: person, organisation, representative, interpreter…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<PartyKind>,
    /// Their hand is raised.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hand_raised: bool,
    /// Where they are; shown to moderators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space: Option<Space>,
    /// A mediator in another space than the viewer's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub elsewhere: bool,
    /// A mediator elsewhere who is in the private room of the viewer's other side (not, say,
    /// alone in the joint room): what a party is told while waiting in caucus.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_other_side: bool,
}

/// A part of the room: the joint room, or one side's private room (背对背).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Space {
    /// Everyone together.
    #[default]
    Joint,
    /// The applicant side's private room.
    Applicant,
    /// The respondent side's private room.
    Respondent,
}

impl Space {
    /// As written in the session record.
    pub fn as_str(self) -> &'static str {
        match self {
            Space::Joint => "joint",
            Space::Applicant => "applicant",
            Space::Respondent => "respondent",
        }
    }

    /// The media server's space.
    pub fn media(self) -> accord_sfu::Space {
        match self {
            Space::Joint => accord_sfu::Space::MAIN,
            Space::Applicant => accord_sfu::Space(1),
            Space::Respondent => accord_sfu::Space(2),
        }
    }

    /// A side's private room.
    pub fn of_side(side: Side) -> Space {
        match side {
            Side::Applicant => Space::Applicant,
            Side::Respondent => Space::Respondent,
        }
    }
}

/// A chat message as delivered.
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChatMessage {
    /// Its record entry's id.
    pub id: String,
    /// The sender's seat.
    pub participant_id: String,
    /// The sender's name.
    pub name: String,
    /// The text.
    pub text: String,
    /// Unix milliseconds.
    pub at: i64,
    /// Where it was said; shown to moderators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space: Option<Space>,
}

/// A file shared in the room.
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SharedEvidence {
    /// The evidence id (fetch with `GET /api/v1/room/evidence/{id}`).
    pub id: String,
    /// File name.
    pub name: String,
    /// Media type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// The sharer's seat.
    pub participant_id: String,
    /// The sharer's name.
    pub shared_by: String,
    /// Unix milliseconds.
    pub at: i64,
}

/// Why someone's media is quiet although they are still in the room.
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
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
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
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
        /// Where you are.
        space: Space,
        /// The room admits nobody new.
        locked: bool,
        /// You may moderate.
        moderator: bool,
        /// Earlier chat of your space, oldest first.
        chat: Vec<ChatMessage>,
        /// The case session, if this room is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        session: Option<String>,
    },
    /// You are in the waiting room; `joined` follows when a moderator admits you.
    Waiting {
        /// Echo of the join's request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// [`PROTOCOL_VERSION`].
        protocol: u32,
        /// You.
        participant: ParticipantInfo,
    },
    /// To moderators: everyone waiting, oldest first.
    WaitingRoom {
        /// Who.
        waiting: Vec<ParticipantInfo>,
    },
    /// Someone you see changed.
    ParticipantUpdated {
        /// As you see them now.
        participant: ParticipantInfo,
    },
    /// You are now in this space.
    Moved {
        /// Where.
        space: Space,
    },
    /// The room was locked or unlocked.
    Locked {
        /// Locked now.
        locked: bool,
    },
    /// A mediator asks you to turn a source on.
    UnmuteRequested {
        /// Microphone or camera.
        source: TrackSource,
        /// The mediator's name.
        by: String,
    },
    /// A mediator muted your microphone or stopped your camera.
    MutedByModerator {
        /// Which.
        source: TrackSource,
    },
    /// A chat message.
    Chat {
        /// The message.
        message: ChatMessage,
    },
    /// A file was shared in your space.
    EvidenceShared {
        /// The file.
        evidence: SharedEvidence,
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
    /// Your media path broke (silence, or your packets now come from another address):
    /// restart ICE now. Repeated every few seconds while it lasts.
    IceRestart {
        /// What the server noticed.
        reason: IceRestartReason,
    },
    /// How connections are doing, every two seconds: a moderator gets everyone admitted, in
    /// every room of the session; anyone else only themselves.
    ConnectionHealth {
        /// One entry per participant.
        participants: Vec<ConnectionHealth>,
    },
    /// The server stopped (`active`) or resumed sending you video; audio keeps flowing.
    AudioOnly {
        /// No video now.
        active: bool,
        /// Why, while active.
        reason: Option<AudioOnlyReason>,
    },
    /// You have left; the socket closes.
    Left {
        /// Why.
        reason: LeaveReason,
        /// A moderator's reason for a removal or denial.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
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
        code: ErrorCode,
        /// For humans.
        message: String,
        /// The server closes the socket after this frame.
        fatal: bool,
        /// For `rate_limited`: when the frame would be taken again.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

/// One participant's connection over the last two seconds: the SFU's measurement
/// ([`LinkHealth`]: loss both ways, round trip, bitrates, audio-only) and its verdict.
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectionHealth {
    /// Whose.
    pub participant_id: String,
    /// The verdict.
    pub quality: LinkQuality,
    /// The measurement.
    #[serde(flatten)]
    pub link: LinkHealth,
}

impl ConnectionHealth {
    /// The entry for `participant_id` from the SFU's measurement.
    pub fn of(participant_id: &str, link: &LinkHealth) -> Self {
        Self {
            participant_id: participant_id.to_owned(),
            quality: link.quality(),
            link: link.clone(),
        }
    }
}

/// Why someone is no longer in the room.
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
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
    /// A moderator turned them away from the waiting room.
    Denied,
    /// A moderator ended the session.
    Ended,
    /// They went to another space (only in `participant_left`).
    Moved,
}

impl LeaveReason {
    /// As written in the session record.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveReason::Left => "left",
            LeaveReason::Disconnected => "disconnected",
            LeaveReason::Removed => "removed",
            LeaveReason::Replaced => "replaced",
            LeaveReason::ServerShutdown => "server_shutdown",
            LeaveReason::Denied => "denied",
            LeaveReason::Ended => "ended",
            LeaveReason::Moved => "moved",
        }
    }
}
