//! What the server sends: [`ServerFrame`], decoded leniently.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::{ConnectionHealth, ErrorFrame, Joined, Participant, Recording, Speaker, TrackInfo};

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
    /// The recording changed, or we moved where it differs.
    Recording(Recording),
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
    /// The reply to `draft_open`.
    DraftState {
        /// Echo of the request's.
        #[serde(default)]
        request_id: Option<String>,
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// Base64 Yjs update: what we lacked.
        update: String,
        /// Base64 state vector of the server's document.
        state_vector: String,
        /// The last stored update's number.
        seq: i64,
    },
    /// Our `draft_update` was stored.
    DraftAck {
        /// Echo of the request's.
        #[serde(default)]
        request_id: Option<String>,
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// Its number.
        seq: i64,
    },
    /// Someone changed a draft we follow.
    DraftChanged {
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// Base64 Yjs update.
        update: String,
        /// Its number.
        seq: i64,
        /// The editor's seat.
        by: String,
        /// The editor's name.
        #[serde(default)]
        by_name: String,
        /// Clauses it changed.
        #[serde(default)]
        clauses: Vec<String>,
    },
    /// Someone types in a clause.
    DraftTyping {
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// The clause.
        clause_id: String,
        /// Their seat.
        participant_id: String,
        /// Their name.
        #[serde(default)]
        name: String,
    },
    /// A comment on a clause: `{id, agreement_id, clause_id, author_name, author_role, text, at}`.
    DraftComment {
        /// The comment.
        comment: Value,
    },
    /// The agreement changed state; fetch it again.
    AgreementChanged {
        /// `AG_…`.
        agreement_id: String,
        /// `drafting`, `final` or `in_force`.
        status: String,
        /// Its current version.
        version: i64,
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

/// Decodes one server frame; the error names the frame so a test failure shows what arrived.
pub fn parse_server_frame(text: &str) -> anyhow::Result<ServerFrame> {
    serde_json::from_str(text)
        .map_err(|err| anyhow::anyhow!("undecodable server frame ({err}): {text}"))
}
