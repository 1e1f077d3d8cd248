//! Recording in the room: what a moderator asks for ([`RecordAction`]) and what everyone is
//! told ([`RecordingStatus`]), in the `recording` frame and in `joined`.
//!
//! Everyone in the session hears of every change, the waiting room included: people must know
//! they are being recorded before they say anything, and that it stopped when it did.

use serde::{Deserialize, Serialize};

/// What a moderator asks of the recorder (`record.action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordAction {
    /// Announce, then start recording.
    Start,
    /// Stop writing media for a while; the recording stays open.
    Pause,
    /// Write media again after a pause.
    Resume,
    /// End the recording; its files are finalised.
    Stop,
}

impl RecordAction {
    /// As written in the session record.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordAction::Start => "start",
            RecordAction::Pause => "pause",
            RecordAction::Resume => "resume",
            RecordAction::Stop => "stop",
        }
    }
}

/// Where the recording of a session stands.
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// Announced: recording begins at `starts_at`, so everyone hears the notice first.
    Starting,
    /// Media is being recorded.
    On,
    /// Recording is paused; nothing is written until it resumes.
    Paused,
    /// Nothing is recorded.
    Off,
}

/// Why a recording went off.
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingEndReason {
    /// A moderator stopped it.
    Stopped,
    /// The session ended.
    Ended,
    /// The recorder failed; what it wrote so far is kept.
    Failed,
    /// The disk filled up; what it wrote so far is kept.
    NoDiskSpace,
}

/// The recording as one participant is to see it: the body of the `recording` frame and of
/// `joined.recording`.
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordingStatus {
    /// Where it stands.
    pub state: RecordingState,
    /// Unix milliseconds when this state began.
    pub since: i64,
    /// With `starting` only: unix milliseconds when recording begins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    /// The organisation records private rooms (背对背) too.
    pub private_rooms_recorded: bool,
    /// `false` while the recipient sits in a private room that is not recorded.
    pub recorded_here: bool,
    /// With `off` after a recording: why it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<RecordingEndReason>,
}
