//! The values frames carry in both directions: who someone is and where, what was said and
//! shared, why someone is quiet or gone, how their connection is doing.

use accord_cases::store::model::{PartyKind, Side};
/// The ICE servers in `joined` are the SFU's, which hands out the TURN credentials.
pub use accord_sfu::IceServer;
use accord_sfu::{LinkHealth, LinkQuality};
use serde::{Deserialize, Serialize};

use crate::Role;

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

/// A comment on a clause of the agreement.
// Parsed back only by the example-frame tests.
#[cfg_attr(test, derive(Deserialize))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DraftCommentInfo {
    /// `CM_…`.
    pub id: String,
    /// `AG_…`.
    pub agreement_id: String,
    /// The clause.
    pub clause_id: String,
    /// The commenter's display name.
    pub author_name: String,
    /// `mediator` or `party` (and so on: the commenter's role).
    pub author_role: String,
    /// The text.
    pub text: String,
    /// Unix milliseconds.
    pub at: i64,
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
    /// The node serving the room is going away: the session is not over, so join again
    /// (with the resume token) and another node, or this one restarted, takes the room.
    NodeMoving,
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
            LeaveReason::NodeMoving => "node_moving",
        }
    }
}
