//! What this client sends: [`ClientFrame`] and the tracks its offers declare.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a client publishes on one of its transceivers, listed in its `offer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackDescription {
    /// SDP mid of the transceiver.
    pub mid: String,
    /// `camera`, `microphone` or `screen`.
    pub source: String,
    /// Video width in pixels (largest layer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Video height in pixels (largest layer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// A frame the client sends (parsed back only by the example-frame tests).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Enter the room named by the token.
    Join {
        /// Always [`super::PROTOCOL_VERSION`].
        protocol: u32,
        /// Join token (JWT).
        token: String,
        /// Resume token of an earlier session.
        #[serde(skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// The client's offer.
    Offer {
        /// SDP.
        sdp: String,
        /// What the client publishes.
        #[serde(default)]
        tracks: Vec<TrackDescription>,
    },
    /// Answer to a server offer.
    Answer {
        /// SDP.
        sdp: String,
    },
    /// A trickled ICE candidate, as an `RTCIceCandidateInit`.
    Candidate {
        /// `{candidate, sdpMid, sdpMLineIndex, usernameFragment}`.
        candidate: Value,
    },
    /// How large the client renders a remote video track.
    TrackSettings {
        /// Published track id.
        track_id: String,
        /// Render width.
        width: u32,
        /// Render height.
        height: u32,
        /// `false` asks for no video.
        #[serde(skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
    },
    /// The client muted or unmuted its own source.
    Mute {
        /// `camera`, `microphone` or `screen`.
        source: String,
        /// New state.
        muted: bool,
    },
    /// Our app went to the background (or a call took over), or came back.
    Pause {
        /// Paused now.
        paused: bool,
    },
    /// Our "save data" switch: no video to us while enabled.
    SaveData {
        /// On now.
        enabled: bool,
    },
    /// Leave the room.
    Leave,
    /// Keep-alive.
    Ping,
    /// Moderators: admit one waiting person, or everyone waiting.
    Admit {
        /// Who; everyone when absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        participant_id: Option<String>,
    },
    /// Moderators: turn a waiting person away.
    Deny {
        /// Who.
        participant_id: String,
        /// Why.
        reason: String,
    },
    /// Moderators: lock or unlock the room.
    Lock {
        /// Locked now.
        locked: bool,
    },
    /// Moderators: move someone to `joint`, `applicant` or `respondent`.
    Move {
        /// Who.
        participant_id: String,
        /// Where.
        to: String,
    },
    /// Moderators: everyone back to the joint room.
    Gather,
    /// Moderators: ask someone to unmute.
    AskUnmute {
        /// Who.
        participant_id: String,
        /// `microphone` or `camera`.
        source: String,
    },
    /// Moderators: mute someone's source.
    MuteParticipant {
        /// Who.
        participant_id: String,
        /// `microphone`, `camera` or `screen`.
        source: String,
    },
    /// Moderators: remove someone for good.
    Remove {
        /// Who.
        participant_id: String,
        /// Why.
        reason: String,
    },
    /// Moderators: end the session.
    EndSession,
    /// Moderators: recording `start`, `pause`, `resume` or `stop`.
    Record {
        /// What to do.
        action: String,
    },
    /// Raise or lower a hand.
    RaiseHand {
        /// Raised now.
        raised: bool,
    },
    /// A chat message.
    Chat {
        /// The text.
        text: String,
    },
    /// Follow an agreement draft; the server answers `draft_state`.
    DraftOpen {
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// Base64 Yjs state vector; empty (or left out) for a fresh document.
        #[serde(default)]
        state_vector: String,
    },
    /// Editors: one Yjs v1 update, base64.
    DraftUpdate {
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// Base64 of the update.
        update: String,
    },
    /// Editors: typing in a clause.
    DraftTyping {
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// The clause.
        clause_id: String,
    },
    /// A comment on a clause.
    DraftComment {
        /// `AG_…`.
        agreement_id: String,
        /// The clause.
        clause_id: String,
        /// The text.
        text: String,
    },
}

impl ClientFrame {
    /// Serializes the frame, adding `request_id` when given.
    pub fn to_json(&self, request_id: Option<&str>) -> serde_json::Result<String> {
        let mut value = serde_json::to_value(self)?;
        if let (Some(id), Value::Object(map)) = (request_id, &mut value) {
            map.insert("request_id".into(), Value::String(id.to_owned()));
        }
        serde_json::to_string(&value)
    }
}
