//! What the server sends: [`ServerMessage`], one variant per frame `type`.

use std::collections::BTreeMap;

use accord_sfu::{AudioOnlyReason, IceRestartReason, Speaker, TrackId, TrackInfo, TrackSource};
#[cfg(test)]
use serde::Deserialize;
use serde::Serialize;

use crate::{
    ChatMessage, ConnectionHealth, DraftCommentInfo, ErrorCode, IceServer, LeaveReason,
    ParticipantInfo, PauseReason, RecordingStatus, SharedEvidence, Space,
};

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
        /// [`crate::PROTOCOL_VERSION`].
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
        /// The session's recording as you are to see it; absent while nothing is recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recording: Option<RecordingStatus>,
    },
    /// You are in the waiting room; `joined` follows when a moderator admits you.
    Waiting {
        /// Echo of the join's request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// [`crate::PROTOCOL_VERSION`].
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
    /// The recording changed, or you moved to a space where it differs: sent to everyone in
    /// the session, the waiting room included.
    Recording {
        /// As you are to see it.
        #[serde(flatten)]
        status: RecordingStatus,
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
    /// The reply to `draft_open`: what the client lacked, and the server's state vector so
    /// the client can send what the server lacks (edits made offline).
    DraftState {
        /// Echo of `draft_open`'s.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// Base64 Yjs update (v1).
        update: String,
        /// Base64 Yjs state vector of the server's document.
        state_vector: String,
        /// The number of the last stored update.
        seq: i64,
    },
    /// A `draft_update` was stored (and will survive a crash).
    DraftAck {
        /// Echo of `draft_update`'s.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// The stored update's number.
        seq: i64,
    },
    /// Someone changed a draft you follow.
    DraftChanged {
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// Base64 Yjs update (v1).
        update: String,
        /// Its number.
        seq: i64,
        /// The editor's seat.
        by: String,
        /// The editor's display name.
        by_name: String,
        /// The clauses whose text it changed.
        clauses: Vec<String>,
    },
    /// Someone is typing in a clause of a draft you follow.
    DraftTyping {
        /// `AG_…`.
        agreement_id: String,
        /// `main` or `PD_…`.
        doc: String,
        /// The clause.
        clause_id: String,
        /// Their seat.
        participant_id: String,
        /// Their display name.
        name: String,
    },
    /// A comment on a clause.
    DraftComment {
        /// The comment.
        comment: DraftCommentInfo,
    },
    /// The agreement changed state (created, finalised, reopened, signed, declined, sealed,
    /// a private draft shown or hidden): fetch it again over HTTP.
    AgreementChanged {
        /// `AG_…`.
        agreement_id: String,
        /// `drafting`, `final` or `in_force`.
        status: String,
        /// The current version number.
        version: i64,
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
