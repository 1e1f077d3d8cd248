//! What a client sends: [`ClientMessage`], one variant per frame `type`.

use accord_sfu::{IceCandidate, TrackDeclaration, TrackId, TrackSource};
use serde::Deserialize;

use crate::{RecordAction, Space};

/// A frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Enter a room.
    Join {
        /// Must be [`crate::PROTOCOL_VERSION`].
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
        /// Only this person: their representatives and interpreters stay where they are (the
        /// free-will question before signing is asked with the party alone).
        #[serde(default)]
        alone: bool,
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
    /// Moderators: start, pause, resume or stop recording the session.
    Record {
        /// What to do.
        action: RecordAction,
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
    /// Start following an agreement draft: the server answers `draft_state` with what this
    /// client lacks, then sends every `draft_changed`.
    DraftOpen {
        /// `AG_…`.
        agreement_id: String,
        /// `main`, or a private draft `PD_…` the caller may see.
        doc: String,
        /// The client's Yjs state vector (base64), empty for a fresh document.
        #[serde(default)]
        state_vector: String,
        /// Echoed in the reply.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Editors: a Yjs update (v1 encoding, base64). Acknowledged with `draft_ack` only once
    /// stored.
    DraftUpdate {
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// Base64 of the update, at most 64 KiB decoded.
        update: String,
        /// Echoed in the reply.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Editors: "I am typing in this clause", shown to the others for a few seconds.
    DraftTyping {
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// The clause's stable id.
        clause_id: String,
        /// Echoed in errors.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// A comment on a clause of the agreement.
    DraftComment {
        /// `AG_…`.
        agreement_id: String,
        /// The clause's stable id.
        clause_id: String,
        /// 1–1000 characters.
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
            | ClientMessage::Record { request_id, .. }
            | ClientMessage::RaiseHand { request_id, .. }
            | ClientMessage::Chat { request_id, .. }
            | ClientMessage::DraftOpen { request_id, .. }
            | ClientMessage::DraftUpdate { request_id, .. }
            | ClientMessage::DraftTyping { request_id, .. }
            | ClientMessage::DraftComment { request_id, .. } => request_id.as_deref(),
        }
    }
}
