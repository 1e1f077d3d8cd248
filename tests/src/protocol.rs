//! The WebSocket signaling protocol of `docs/protocol.md`, version 1, as serde types.
//!
//! Server frames are decoded leniently (unknown fields ignored, optional fields defaulted)
//! because the point of the tests is to observe the server, not to reject it on a detail; the
//! raw JSON of every frame is kept alongside for assertions and diagnostics.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// Protocol version this client speaks.
pub const PROTOCOL_VERSION: u32 = 1;

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
        /// Always [`PROTOCOL_VERSION`].
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
}

/// Declares the error codes once: the enum, its wire names and the list of all of them.
macro_rules! error_codes {
    ($($variant:ident = $text:literal,)+) => {
        /// The `code` of an `error` frame, as the server's `ErrorCode` names them
        /// (`docs/protocol/examples/error_codes.json` keeps the two lists equal).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
        #[allow(missing_docs)]
        pub enum ErrorCode {
            $(#[serde(rename = $text)] $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the server's order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as written on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)+
                }
            }
        }
    };
}

error_codes! {
    BadJson = "bad_json",
    FrameTooLarge = "frame_too_large",
    NotJoined = "not_joined",
    AlreadyJoined = "already_joined",
    UnsupportedProtocol = "unsupported_protocol",
    InvalidToken = "invalid_token",
    Forbidden = "forbidden",
    RoomFull = "room_full",
    BadSdp = "bad_sdp",
    BadCandidate = "bad_candidate",
    UnknownTrack = "unknown_track",
    Glare = "glare",
    NoOfferOutstanding = "no_offer_outstanding",
    Gone = "gone",
    ResumeFailed = "resume_failed",
    Internal = "internal",
    RoomLocked = "room_locked",
    UnknownParticipant = "unknown_participant",
    ConsentRequired = "consent_required",
    BadRequest = "bad_request",
    NotAdmitted = "not_admitted",
    RateLimited = "rate_limited",
    SlowConsumer = "slow_consumer",
    AccountDisabled = "account_disabled",
}

/// An `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ErrorFrame {
    /// Echo of the offending frame's `request_id`.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Machine-readable code, e.g. `glare`.
    pub code: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Whether the server closes the socket after this.
    #[serde(default)]
    pub fatal: bool,
}

impl ErrorFrame {
    /// The code as a known [`ErrorCode`]; `None` for one this client does not know.
    pub fn error_code(&self) -> Option<ErrorCode> {
        serde_json::from_value(Value::String(self.code.clone())).ok()
    }
}

/// A frame the server sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// We are in.
    Joined(Joined),
    /// Server-initiated renegotiation.
    Offer {
        /// SDP.
        sdp: String,
        /// mid → published track id for every transceiver the server sends on.
        #[serde(default)]
        tracks: HashMap<String, String>,
    },
    /// Answer to our offer.
    Answer {
        /// SDP.
        sdp: String,
        /// Echo of our offer's `request_id`.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Someone entered.
    ParticipantJoined {
        /// Who.
        participant: Participant,
    },
    /// Someone left.
    ParticipantLeft {
        /// Who.
        participant_id: String,
        /// `left`, `disconnected`, `removed` or `replaced`.
        #[serde(default)]
        reason: String,
    },
    /// Someone's media went quiet while they stay in the room, or came back.
    ParticipantPaused {
        /// Who.
        participant_id: String,
        /// Paused now.
        paused: bool,
        /// `away` or `reconnecting` while paused.
        #[serde(default)]
        reason: Option<String>,
    },
    /// A track became available.
    TrackPublished {
        /// The track.
        track: TrackInfo,
    },
    /// A track went away.
    TrackUnpublished {
        /// Its id.
        track_id: String,
    },
    /// A track was muted or unmuted by its publisher.
    TrackMuted {
        /// Its id.
        track_id: String,
        /// New state.
        muted: bool,
    },
    /// Loudest participants.
    ActiveSpeakers {
        /// Loudest first.
        speakers: Vec<Speaker>,
    },
    /// We have left.
    Left {
        /// Why.
        #[serde(default)]
        reason: String,
        /// A moderator's reason.
        #[serde(default)]
        message: Option<String>,
    },
    /// We are in the waiting room.
    Waiting {
        /// Ourselves.
        participant: Participant,
    },
    /// To moderators: everyone waiting.
    WaitingRoom {
        /// Oldest first.
        waiting: Vec<Participant>,
    },
    /// Someone we see changed.
    ParticipantUpdated {
        /// As we see them now.
        participant: Participant,
    },
    /// We were moved.
    Moved {
        /// Where to.
        space: String,
    },
    /// A chat message.
    Chat {
        /// `{id, participant_id, name, text, at, space?}`.
        message: Value,
    },
    /// The room was locked or unlocked.
    Locked {
        /// Locked now.
        locked: bool,
    },
    /// A mediator asks us to turn a source on.
    UnmuteRequested {
        /// `microphone` or `camera`.
        source: String,
        /// The mediator's name.
        #[serde(default)]
        by: String,
    },
    /// A mediator muted our microphone or stopped our camera.
    MutedByModerator {
        /// Which.
        source: String,
    },
    /// A file was shared in our space.
    EvidenceShared {
        /// `{id, name, content_type, size, participant_id, shared_by, at}`.
        evidence: Value,
    },
    /// Which simulcast layers of one of our tracks anybody receives.
    LayerDemand {
        /// Our track.
        track_id: String,
        /// Per layer, lowest first.
        #[serde(default)]
        active: Vec<bool>,
    },
    /// Our media path broke: restart ICE.
    IceRestart {
        /// `media_silent` or `path_changed`.
        reason: String,
    },
    /// How connections are doing (ours, or everyone's for a moderator).
    ConnectionHealth {
        /// One entry per participant.
        participants: Vec<ConnectionHealth>,
    },
    /// The server stopped or resumed sending us video.
    AudioOnly {
        /// No video now.
        active: bool,
        /// `bandwidth` or `save_data` while active.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Answer to `ping`.
    Pong {
        /// Echo of the ping's `request_id`.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Something we sent was refused.
    Error(ErrorFrame),
    /// A frame type this client does not know; kept in the log, otherwise ignored.
    #[serde(other)]
    Unknown,
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

/// Decodes one server frame; the error names the frame so a test failure shows what arrived.
pub fn parse_server_frame(text: &str) -> anyhow::Result<ServerFrame> {
    serde_json::from_str(text)
        .map_err(|err| anyhow::anyhow!("undecodable server frame ({err}): {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_server_frames() -> anyhow::Result<()> {
        assert!(matches!(
            parse_server_frame(r#"{"type":"pong","request_id":"x"}"#)?,
            ServerFrame::Pong { .. }
        ));
        assert!(matches!(
            parse_server_frame(r#"{"type":"something_new","x":1}"#)?,
            ServerFrame::Unknown
        ));
        let offer = parse_server_frame(r#"{"type":"offer","sdp":"v=0","tracks":{"0":"TR_a"}}"#)?;
        let ServerFrame::Offer { tracks, .. } = offer else {
            anyhow::bail!("not an offer");
        };
        assert_eq!(tracks.get("0").map(String::as_str), Some("TR_a"));
        let err = parse_server_frame(
            r#"{"type":"error","code":"glare","message":"m","fatal":false,"request_id":"o1"}"#,
        )?;
        assert!(matches!(err, ServerFrame::Error(ErrorFrame { ref code, .. }) if code == "glare"));
        Ok(())
    }

    /// Lists every variant with its wire tag; the match is exhaustive, so a variant added
    /// here does not compile until it is named, and then it needs an example file.
    macro_rules! tags {
        ($list:ident, $tag:ident, $enum:ident { $($variant:ident = $text:literal,)+ } $(, $other:pat)?) => {
            const $list: &[&str] = &[$($text,)+];

            fn $tag(frame: &$enum) -> Option<&'static str> {
                match frame {
                    $($enum::$variant { .. } => Some($text),)+
                    $($other => None,)?
                }
            }
        };
    }

    tags!(CLIENT_TYPES, client_tag, ClientFrame {
        Join = "join",
        Offer = "offer",
        Answer = "answer",
        Candidate = "candidate",
        TrackSettings = "track_settings",
        Mute = "mute",
        Pause = "pause",
        SaveData = "save_data",
        Leave = "leave",
        Ping = "ping",
        Admit = "admit",
        Deny = "deny",
        Lock = "lock",
        Move = "move",
        Gather = "gather",
        AskUnmute = "ask_unmute",
        MuteParticipant = "mute_participant",
        Remove = "remove",
        EndSession = "end_session",
        RaiseHand = "raise_hand",
        Chat = "chat",
    });

    tags!(SERVER_TYPES, server_tag, ServerFrame {
        Joined = "joined",
        Offer = "offer",
        Answer = "answer",
        ParticipantJoined = "participant_joined",
        ParticipantLeft = "participant_left",
        ParticipantPaused = "participant_paused",
        TrackPublished = "track_published",
        TrackUnpublished = "track_unpublished",
        TrackMuted = "track_muted",
        ActiveSpeakers = "active_speakers",
        Left = "left",
        Waiting = "waiting",
        WaitingRoom = "waiting_room",
        ParticipantUpdated = "participant_updated",
        Moved = "moved",
        Chat = "chat",
        Locked = "locked",
        UnmuteRequested = "unmute_requested",
        MutedByModerator = "muted_by_moderator",
        EvidenceShared = "evidence_shared",
        LayerDemand = "layer_demand",
        IceRestart = "ice_restart",
        ConnectionHealth = "connection_health",
        AudioOnly = "audio_only",
        Pong = "pong",
        Error = "error",
    }, ServerFrame::Unknown);

    fn examples_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol/examples")
    }

    /// Every example of one direction as (file, `type`, text); the file name starts with the type.
    fn examples(direction: &str) -> anyhow::Result<Vec<(String, String, String)>> {
        let dir = examples_dir().join(direction);
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let text = std::fs::read_to_string(&path)?;
            let file = path.display().to_string();
            let value: Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{file} is not JSON: {e}"))?;
            let tag = value["type"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("{file} has no string `type`"))?
                .to_owned();
            let stem = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            anyhow::ensure!(
                stem.split('.').next() == Some(tag.as_str()),
                "{file}: the file name should start with its type"
            );
            found.push((file, tag, text));
        }
        anyhow::ensure!(!found.is_empty(), "no examples in {}", dir.display());
        Ok(found)
    }

    fn without_example(listed: &[&str], direction: &str) -> anyhow::Result<Vec<String>> {
        let have: std::collections::BTreeSet<String> = examples(direction)?
            .into_iter()
            .map(|(_, tag, _)| tag)
            .collect();
        Ok(listed
            .iter()
            .filter(|t| !have.contains(**t))
            .map(|t| t.to_string())
            .collect())
    }

    #[test]
    fn every_server_example_decodes_as_a_known_frame() -> anyhow::Result<()> {
        for (file, tag, text) in examples("server")? {
            let frame = parse_server_frame(&text)?;
            anyhow::ensure!(
                server_tag(&frame) == Some(tag.as_str()),
                "{file} decodes as {frame:?}, not as `{tag}`"
            );
            if let ServerFrame::Error(e) = &frame {
                anyhow::ensure!(e.error_code().is_some(), "{file}: unknown code {}", e.code);
            }
        }
        Ok(())
    }

    #[test]
    fn every_client_example_is_a_frame_this_client_can_send() -> anyhow::Result<()> {
        for (file, tag, text) in examples("client")? {
            let frame: ClientFrame = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{file} is not a client frame: {e}"))?;
            anyhow::ensure!(client_tag(&frame) == Some(tag.as_str()), "{file}");
        }
        Ok(())
    }

    #[test]
    fn every_frame_type_has_an_example() -> anyhow::Result<()> {
        assert_eq!(
            without_example(CLIENT_TYPES, "client")?,
            Vec::<String>::new()
        );
        assert_eq!(
            without_example(SERVER_TYPES, "server")?,
            Vec::<String>::new()
        );
        Ok(())
    }

    #[test]
    fn error_codes_match_the_shared_list() -> anyhow::Result<()> {
        let text = std::fs::read_to_string(examples_dir().join("error_codes.json"))?;
        let listed: Vec<String> = serde_json::from_str(&text)?;
        let ours: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(ours, listed);
        Ok(())
    }

    #[test]
    fn client_frames_carry_request_ids() -> anyhow::Result<()> {
        let text = ClientFrame::Leave.to_json(Some("r1"))?;
        assert_eq!(text, r#"{"request_id":"r1","type":"leave"}"#);
        Ok(())
    }
}
