//! What the SFU tells the signaling layer about a participant, and what it is told.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::{MediaKind, ParticipantId, RoomId, Space, TrackId, TrackSource};

/// A published track as others see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackInfo {
    /// The track.
    pub id: TrackId,
    /// Who publishes it.
    pub participant_id: ParticipantId,
    /// Audio or video.
    pub kind: MediaKind,
    /// Microphone, camera or screen, as the publisher declared it.
    pub source: TrackSource,
    /// The publisher muted it.
    pub muted: bool,
    /// It arrives in more than one simulcast layer.
    pub simulcast: bool,
    /// Declared width of the full-size layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Declared height of the full-size layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// What a client says about a track it publishes, keyed by the SDP `mid` of its transceiver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackDeclaration {
    /// The transceiver's `mid` in the client's offer.
    pub mid: String,
    /// What the track carries.
    pub source: TrackSource,
    /// Width of the full-size layer, for choosing layers by rendered size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height of the full-size layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// An ICE candidate as browsers write it (`RTCIceCandidateInit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    /// The `candidate:` attribute; empty means end of candidates.
    pub candidate: String,
    /// The media section it belongs to.
    #[serde(default)]
    pub sdp_mid: Option<String>,
    /// The index of that media section.
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_mline_index: Option<u16>,
    /// The ICE generation it belongs to.
    #[serde(default)]
    pub username_fragment: Option<String>,
}

/// One entry of the active-speaker list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Speaker {
    /// Who is speaking.
    pub participant_id: ParticipantId,
    /// Loudness 0–100 (100 is the loudest a microphone reports).
    pub level: u8,
}

/// Something the signaling layer should pass on to, or act on for, one participant.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SfuEvent {
    /// The server renegotiates: send this offer; `tracks` maps each sending `mid` to the
    /// track it carries.
    Offer {
        /// The SDP offer.
        sdp: String,
        /// `mid` → track.
        tracks: BTreeMap<String, TrackId>,
    },
    /// Someone else published a track.
    TrackPublished(TrackInfo),
    /// It went away.
    TrackUnpublished(TrackId),
    /// Its publisher muted or unmuted it.
    TrackMuted {
        /// The track.
        track: TrackId,
        /// Muted now.
        muted: bool,
    },
    /// The loudest speakers changed.
    ActiveSpeakers(Vec<Speaker>),
    /// Media is flowing (ICE and DTLS are up), this long after the join.
    Connected {
        /// Time from join to connected.
        after: Duration,
    },
    /// The media path died for good (silent far longer than a network change takes, ICE
    /// failed, or DTLS closed).
    MediaLost,
    /// The media path stopped working but the participant may still be there: the client
    /// should restart ICE (new credentials, new candidates). Repeated while it lasts.
    RestartIce {
        /// What we noticed.
        reason: IceRestartReason,
    },
    /// How the participant's connection did over the last few seconds (every
    /// [`HEALTH_INTERVAL`](crate::HEALTH_INTERVAL)).
    Health(crate::health::LinkHealth),
    /// We stopped (`active`) or resumed sending this participant video; audio always flows.
    AudioOnly {
        /// No video is sent now.
        active: bool,
        /// Why, while active.
        reason: Option<AudioOnlyReason>,
    },
    /// Which simulcast layers of one of this participant's tracks anybody receives, lowest
    /// first; a publisher may stop encoding the others.
    LayerDemand {
        /// The publisher's track.
        track: TrackId,
        /// Per layer, whether anybody receives it.
        active: Vec<bool>,
    },
}

/// Why a client is asked to restart ICE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IceRestartReason {
    /// Nothing has arrived from it for a while.
    MediaSilent,
    /// Its packets now come from another address and the old one went quiet (a phone that
    /// moved network, or a NAT that rebound): our replies still go to the old one.
    PathChanged,
}

/// Why a subscriber gets no video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioOnlyReason {
    /// Its bandwidth estimate is below what the lowest video layer needs.
    Bandwidth,
    /// It asked for no video (its "save data" switch).
    SaveData,
}

/// Who joins, and what they may do with media.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    /// The room.
    pub room: RoomId,
    /// Their seat; unique within the room.
    pub participant: ParticipantId,
    /// They may publish tracks.
    pub can_publish: bool,
    /// They receive others' tracks.
    pub can_subscribe: bool,
    /// Where in the room they start.
    pub space: Space,
}

/// What one subscriber has been sent, per publisher, since it joined: the measure by which
/// caucus isolation is checked ("not one packet of the other side's media").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubscriberReport {
    /// The subscriber.
    pub participant_id: ParticipantId,
    /// Where it is now.
    pub space: u32,
    /// Per publisher, oldest first.
    pub received_from: Vec<ReceivedFrom>,
}

/// Packets forwarded from one publisher to one subscriber.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceivedFrom {
    /// The publisher.
    pub participant_id: ParticipantId,
    /// RTP packets forwarded.
    pub packets: u64,
    /// Their payload bytes.
    pub bytes: u64,
}
