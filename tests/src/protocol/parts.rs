//! The values server frames carry: participants, tracks, speakers, the `joined` frame and
//! connection health.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A participant as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Participant {
    /// Server-assigned id.
    pub id: String,
    /// Identity from the token (`sub`).
    #[serde(default)]
    pub identity: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// `mediator`, `party`, `observer` or `guest`.
    #[serde(default)]
    pub role: String,
    /// `away` or `reconnecting` while their media is quiet.
    #[serde(default)]
    pub paused: Option<String>,
    /// `applicant` or `respondent`, for parties.
    #[serde(default)]
    pub side: Option<String>,
    /// Where they are (moderators see this).
    #[serde(default)]
    pub space: Option<String>,
    /// A mediator in another space than ours.
    #[serde(default)]
    pub elsewhere: bool,
    /// Their hand is raised.
    #[serde(default)]
    pub hand_raised: bool,
}

/// A published track as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TrackInfo {
    /// Published track id (what server offers map mids to).
    pub id: String,
    /// Publisher.
    pub participant_id: String,
    /// `audio` or `video`.
    pub kind: String,
    /// `camera`, `microphone` or `screen`.
    #[serde(default)]
    pub source: String,
    /// Muted by its publisher.
    #[serde(default)]
    pub muted: bool,
    /// Published with several layers.
    #[serde(default)]
    pub simulcast: bool,
    /// Width of the largest layer.
    #[serde(default)]
    pub width: Option<u32>,
    /// Height of the largest layer.
    #[serde(default)]
    pub height: Option<u32>,
}

/// One entry of `active_speakers`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Speaker {
    /// Who.
    pub participant_id: String,
    /// Audio level as the server reports it.
    #[serde(default)]
    pub level: f64,
}

/// The `joined` frame.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Joined {
    /// Protocol version the server speaks.
    #[serde(default)]
    pub protocol: u32,
    /// Ourselves.
    pub participant: Participant,
    /// The room (its shape is the server's business; kept as JSON).
    #[serde(default)]
    pub room: Value,
    /// Everyone already there.
    #[serde(default)]
    pub participants: Vec<Participant>,
    /// Tracks already published.
    #[serde(default)]
    pub tracks: Vec<TrackInfo>,
    /// ICE servers for the peer connection.
    #[serde(default)]
    pub ice_servers: Vec<Value>,
    /// Token to resume this seat after a dropped socket.
    #[serde(default)]
    pub resume_token: Option<String>,
    /// Where we are: `joint`, `applicant` or `respondent`.
    #[serde(default)]
    pub space: Option<String>,
    /// Whether we may moderate.
    #[serde(default)]
    pub moderator: bool,
    /// The session's recording as we are to see it; absent while nothing is recorded.
    /// Boxed: `joined` is already the largest frame by far.
    #[serde(default)]
    pub recording: Option<Box<Recording>>,
}

/// The recording as the server tells it (the `recording` frame, `joined.recording`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Recording {
    /// `starting`, `on`, `paused` or `off`.
    pub state: String,
    /// Unix ms when this state began.
    #[serde(default)]
    pub since: i64,
    /// With `starting`: unix ms when recording begins.
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// The organisation records private rooms too.
    #[serde(default)]
    pub private_rooms_recorded: bool,
    /// `false` while we sit in a private room that is not recorded.
    #[serde(default)]
    pub recorded_here: bool,
    /// With `off`: `stopped`, `ended`, `failed` or `no_disk_space`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One participant's connection as the server measured it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConnectionHealth {
    /// Whose.
    pub participant_id: String,
    /// `good`, `fair`, `poor` or `lost`.
    pub quality: String,
    /// Their packets lost on the way to the server, percent.
    pub uplink_loss_percent: Option<f64>,
    /// The server's packets they report lost, percent.
    pub downlink_loss_percent: Option<f64>,
    /// Round trip, ms.
    pub rtt_ms: Option<u32>,
    /// What they send, kbit/s.
    pub send_kbps: u32,
    /// What they are sent, kbit/s.
    pub receive_kbps: u32,
    /// No video to them now.
    pub audio_only: bool,
}
