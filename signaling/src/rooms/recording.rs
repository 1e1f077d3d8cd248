//! The room's side of recording: what state it is in, telling everyone (the waiting room
//! included) of every change, and writing each change into the session record. Starting the
//! recorder, pausing it and finalising its files is `crate::recording`'s job; this module only
//! keeps what people see true.

use accord_cases::store::model::SessionEventKind;
use accord_cases::store::now_ms;
use accord_protocol::{RecordingEndReason, RecordingState, RecordingStatus, Space};

use super::minutes::RoomMinutes;
use super::moderation::RoomError;
use super::{Member, Notice, RoomState, Rooms};

/// A room's recording as everyone is to see it (each person's `recorded_here` aside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomRecording {
    /// Starting (the notice is showing), on, or paused.
    pub state: RecordingState,
    /// When it entered this state (unix ms).
    pub since: i64,
    /// While starting: when it begins.
    pub starts_at: Option<i64>,
    /// The organisation records private rooms too.
    pub private_rooms_recorded: bool,
}

impl RoomRecording {
    /// What `member` is told: whether their current space is recorded.
    pub(super) fn status_for(&self, member: &Member) -> RecordingStatus {
        status(Some(self), member.space, None)
    }
}

fn status(
    recording: Option<&RoomRecording>,
    space: Space,
    reason: Option<RecordingEndReason>,
) -> RecordingStatus {
    match recording {
        Some(r) => RecordingStatus {
            state: r.state,
            since: r.since,
            starts_at: r.starts_at,
            private_rooms_recorded: r.private_rooms_recorded,
            recorded_here: space == Space::Joint || r.private_rooms_recorded,
            reason: None,
        },
        None => RecordingStatus {
            state: RecordingState::Off,
            since: now_ms(),
            starts_at: None,
            private_rooms_recorded: false,
            recorded_here: false,
            reason,
        },
    }
}

/// A change of a room's recording, as a moderator or the recorder made it.
#[derive(Clone, Debug)]
pub enum RecordingChange {
    /// The notice goes out; recording begins at `starts_at`.
    Announce {
        /// Unix ms.
        starts_at: i64,
        /// The organisation's caucus policy.
        private_rooms_recorded: bool,
    },
    /// The recorder runs.
    Started,
    /// Paused by a moderator.
    Paused,
    /// Resumed by a moderator.
    Resumed,
    /// Off, and why.
    Stopped(RecordingEndReason),
}

impl Rooms {
    /// Applies a change to a room's recording, tells everyone in the session (the waiting room
    /// included) and writes it into the session record. `by` is the moderator's seat, when a
    /// moderator did it (and must still be one).
    pub fn change_recording(
        &self,
        room: &str,
        by: Option<&str>,
        change: RecordingChange,
    ) -> Result<(), RoomError> {
        let mut rooms = self.lock();
        let state = rooms.get_mut(room).ok_or(RoomError::Gone)?;
        if let Some(by) = by {
            let actor = state.members.get(by).ok_or(RoomError::Gone)?;
            if !actor.is_moderator() {
                return Err(RoomError::NotModerator);
            }
        }
        let now = now_ms();
        let (next, kind, detail, reason) = match change {
            RecordingChange::Announce {
                starts_at,
                private_rooms_recorded,
            } => (
                Some(RoomRecording {
                    state: RecordingState::Starting,
                    since: now,
                    starts_at: Some(starts_at),
                    private_rooms_recorded,
                }),
                SessionEventKind::RecordingNotice,
                Some(if private_rooms_recorded {
                    "private rooms recorded".to_owned()
                } else {
                    "private rooms not recorded".to_owned()
                }),
                None,
            ),
            RecordingChange::Started | RecordingChange::Resumed => {
                let Some(current) = state.recording.clone() else {
                    return Err(RoomError::BadRequest("the recording is off"));
                };
                let kind = if matches!(change, RecordingChange::Started) {
                    SessionEventKind::RecordingStarted
                } else {
                    SessionEventKind::RecordingResumed
                };
                (
                    Some(RoomRecording {
                        state: RecordingState::On,
                        since: now,
                        starts_at: None,
                        ..current
                    }),
                    kind,
                    None,
                    None,
                )
            }
            RecordingChange::Paused => {
                let Some(current) = state.recording.clone() else {
                    return Err(RoomError::BadRequest("the recording is off"));
                };
                (
                    Some(RoomRecording {
                        state: RecordingState::Paused,
                        since: now,
                        starts_at: None,
                        ..current
                    }),
                    SessionEventKind::RecordingPaused,
                    None,
                    None,
                )
            }
            RecordingChange::Stopped(reason) => (
                None,
                SessionEventKind::RecordingStopped,
                Some(end_reason_text(reason).to_owned()),
                Some(reason),
            ),
        };
        let actor = by.and_then(|id| state.members.get(id));
        self.minutes.note(state, kind, actor, None, None, detail);
        state.recording = next;
        for member in state.members.values().filter(|m| m.notices.is_some()) {
            member.tell(Notice::Recording(status(
                state.recording.as_ref(),
                member.space,
                reason,
            )));
        }
        Ok(())
    }

    /// The room's recording now (`None` when off or the room is gone).
    pub fn recording(&self, room: &str) -> Option<RoomRecording> {
        self.lock().get(room).and_then(|r| r.recording.clone())
    }

    /// What one member is to be told of the recording now, if anything is recorded.
    pub fn recording_for(&self, room: &str, participant_id: &str) -> Option<RecordingStatus> {
        let rooms = self.lock();
        let state = rooms.get(room)?;
        let recording = state.recording.as_ref()?;
        let member = state.members.get(participant_id)?;
        Some(recording.status_for(member))
    }
}

/// After people moved: each mover hears whether their new space is recorded, and a move into
/// a private room the policy leaves unrecorded goes into the session record (the gap the
/// recording will show).
pub(super) fn after_move(
    minutes: &impl RoomMinutes,
    state: &RoomState,
    by: &str,
    moved: &[String],
) {
    let Some(recording) = &state.recording else {
        return;
    };
    for id in moved {
        let Some(member) = state.members.get(id) else {
            continue;
        };
        member.tell(Notice::Recording(recording.status_for(member)));
        if member.space != Space::Joint && !recording.private_rooms_recorded {
            minutes.note(
                state,
                SessionEventKind::RecordingPrivateRoomSkipped,
                state.members.get(by),
                Some(member),
                Some(member.space),
                None,
            );
        }
    }
}

fn end_reason_text(reason: RecordingEndReason) -> &'static str {
    match reason {
        RecordingEndReason::Stopped => "stopped",
        RecordingEndReason::Ended => "session ended",
        RecordingEndReason::Failed => "failed",
        RecordingEndReason::NoDiskSpace => "no disk space",
    }
}

impl Rooms {
    /// Whether the room still has anyone in it.
    pub fn exists(&self, room: &str) -> bool {
        self.lock().contains_key(room)
    }

    /// `(identity, role)` of a seat, for the recording's manifest (never a name).
    pub fn describe(&self, room: &str, participant_id: &str) -> Option<(String, String)> {
        let rooms = self.lock();
        let member = rooms.get(room)?.members.get(participant_id)?;
        Some((
            member.info.identity.clone(),
            member.info.role.as_str().to_owned(),
        ))
    }
}
