//! A moderator's `record` frame, carried out: the notice, then the recorder on the room's SFU
//! tap; pause and resume; stop, by a moderator, by the end of the session, by the room
//! emptying, or by the recorder itself (disk full, a write failed).

use std::sync::Arc;
use std::time::Duration;

use accord_cases::ids::RecordingId;
use accord_cases::store::model::Actor;
use accord_cases::store::model::{NewRecording, RecordingStatus};
use accord_cases::store::now_ms;
use accord_protocol::{RecordAction, RecordingEndReason};
use accord_recordings::recorder::{Participants, Progress, Recording, RecordingMeta};
use accord_sfu::RoomId;
use tokio::sync::mpsc;

use super::{Active, finish};
use crate::AppState;
use crate::rooms::{RecordingChange, RoomError, Rooms, SessionLink};

/// Why a `record` frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Only a moderator records.
    #[error("only the mediator can record the session")]
    NotModerator,
    /// Not now (start while on, pause while paused, …).
    #[error("{0}")]
    State(&'static str),
    /// The recorder cannot run (no disk space, not a case session, storage down).
    #[error("{0}")]
    Unavailable(String),
    /// The room is gone.
    #[error("the session is over")]
    Gone,
}

impl From<RoomError> for ControlError {
    fn from(e: RoomError) -> Self {
        match e {
            RoomError::NotModerator => Self::NotModerator,
            RoomError::Gone => Self::Gone,
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// Who asked: their seat and identity in the room.
#[derive(Clone, Copy, Debug)]
pub struct Moderator<'a> {
    /// Their seat (participant id).
    pub seat: &'a str,
    /// Their staff identity.
    pub identity: &'a str,
}

impl Moderator<'_> {
    fn actor(&self) -> Actor {
        Actor::Staff(self.identity.into())
    }
}

/// Carries out a moderator's `record` frame in `room`.
pub async fn act(
    state: &AppState,
    room: &str,
    by: Moderator<'_>,
    session: Option<&SessionLink>,
    action: RecordAction,
) -> Result<(), ControlError> {
    let moderates = state
        .rooms()
        .seat_of(room, by.identity)
        .is_some_and(|(seat, _, moderator)| moderator && seat == by.seat);
    if !moderates {
        return Err(ControlError::NotModerator);
    }
    match action {
        RecordAction::Start => {
            let Some(session) = session else {
                return Err(ControlError::Unavailable(
                    "only a case session can be recorded".into(),
                ));
            };
            announce(state, room, by, session).await
        }
        RecordAction::Pause => pause_or_resume(state, room, by, true).await,
        RecordAction::Resume => pause_or_resume(state, room, by, false).await,
        RecordAction::Stop => {
            if !stop(state, room, Some(by), RecordingEndReason::Stopped) {
                return Err(ControlError::State("nothing is being recorded"));
            }
            Ok(())
        }
    }
}

/// Shows everyone the notice; the recorder starts when it has run its time.
async fn announce(
    state: &AppState,
    room: &str,
    by: Moderator<'_>,
    session: &SessionLink,
) -> Result<(), ControlError> {
    let recorders = state.recorders();
    if recorders.lock().contains_key(room) {
        return Err(ControlError::State("the session is already being recorded"));
    }
    recorders
        .settings
        .recorder
        .check_disk_space()
        .map_err(|e| ControlError::Unavailable(e.to_string()))?;
    let policy = super::policy_of_case(state, &session.case_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot read the organisation's recording policy");
            ControlError::Unavailable("the case record cannot be read now; try again".into())
        })?;
    let generation = {
        let mut active = recorders.lock();
        if active.contains_key(room) {
            return Err(ControlError::State("the session is already being recorded"));
        }
        let generation = rand::random::<u64>();
        active.insert(
            room.to_owned(),
            Active {
                generation,
                session: session.clone(),
                id: None,
                recording: None,
                paused: false,
            },
        );
        generation
    };
    let notice = recorders.settings.notice;
    let starts_at = now_ms() + i64::try_from(notice.as_millis()).unwrap_or(i64::MAX / 2);
    let announced = state.rooms().change_recording(
        room,
        Some(by.seat),
        RecordingChange::Announce {
            starts_at,
            private_rooms_recorded: policy.record_private_rooms,
        },
    );
    if let Err(e) = announced {
        recorders.lock().remove(room);
        return Err(e.into());
    }
    let (state, room, identity) = (state.clone(), room.to_owned(), by.identity.to_owned());
    let private_rooms = policy.record_private_rooms;
    tokio::spawn(async move {
        tokio::time::sleep(notice).await;
        if let Err(reason) = begin(&state, &room, generation, &identity, private_rooms).await {
            stop(&state, &room, None, reason);
        }
    });
    Ok(())
}

/// Starts the recorder once the notice has run, unless the recording was stopped meanwhile.
async fn begin(
    state: &AppState,
    room: &str,
    generation: u64,
    identity: &str,
    private_rooms_recorded: bool,
) -> Result<(), RecordingEndReason> {
    let recorders = state.recorders();
    let session = match recorders.lock().get(room) {
        Some(a) if a.generation == generation => a.session.clone(),
        _ => return Ok(()),
    };
    let actor = Actor::Staff(identity.into());
    let record = state
        .store()
        .create_recording(
            &actor,
            NewRecording {
                session_id: session.session_id.clone(),
                started_by: identity.to_owned(),
                private_rooms_recorded,
                node: state.cluster().node_id().to_owned(),
            },
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot create the recording's record");
            RecordingEndReason::Failed
        })?;
    let config = &recorders.settings.recorder;
    let started = state
        .sfu()
        .tap_room(
            &RoomId::new(room),
            config.tap_config(private_rooms_recorded),
        )
        .map_err(|e| e.to_string())
        .and_then(|tap| {
            Recording::start(
                config,
                RecordingMeta {
                    recording_id: record.id.to_string(),
                    case_id: session.case_id.to_string(),
                    session_id: session.session_id.to_string(),
                    private_rooms_recorded,
                },
                tap,
                Arc::new(RoomParticipants {
                    rooms: state.rooms().clone(),
                    room: room.to_owned(),
                }),
                recorders.keys.clone(),
                recorders.metrics.clone(),
            )
            .map_err(|e| e.to_string())
        });
    let (recording, progress) = match started {
        Ok(started) => started,
        Err(reason) => {
            tracing::error!(error = %reason, "the recorder did not start");
            let _ = state
                .store()
                .mark_recording_failed(&Actor::System, &record.id, "the recorder did not start")
                .await;
            return Err(RecordingEndReason::Failed);
        }
    };
    let recording = Arc::new(recording);
    let kept = {
        let mut active = recorders.lock();
        match active.get_mut(room) {
            Some(a) if a.generation == generation => {
                a.id = Some(record.id.clone());
                a.recording = Some(recording.clone());
                true
            }
            _ => false,
        }
    };
    if !kept {
        // Stopped while starting: finalise the little there is.
        finish::finalise_in_background(state, record.id, recording, actor);
        return Ok(());
    }
    if state
        .rooms()
        .change_recording(room, None, RecordingChange::Started)
        .is_err()
    {
        return Err(RecordingEndReason::Ended);
    }
    let uploads = super::segments::start(state, record.id.clone(), recording.dir.clone());
    tokio::spawn(watch(
        state.clone(),
        room.to_owned(),
        record.id,
        progress,
        uploads,
    ));
    Ok(())
}

async fn pause_or_resume(
    state: &AppState,
    room: &str,
    by: Moderator<'_>,
    pause: bool,
) -> Result<(), ControlError> {
    let recorders = state.recorders();
    let (id, recording) = {
        let active = recorders.lock();
        let Some(a) = active.get(room) else {
            return Err(ControlError::State("nothing is being recorded"));
        };
        let (Some(id), Some(recording)) = (a.id.clone(), a.recording.clone()) else {
            return Err(ControlError::State("the recording has not begun yet"));
        };
        if a.paused == pause {
            return Err(ControlError::State(if pause {
                "the recording is already paused"
            } else {
                "the recording is not paused"
            }));
        }
        (id, recording)
    };
    let done = if pause {
        recording.pause().await
    } else {
        recording.resume().await
    };
    done.map_err(|e| ControlError::Unavailable(e.to_string()))?;
    if let Some(a) = recorders.lock().get_mut(room) {
        a.paused = pause;
    }
    let status = if pause {
        RecordingStatus::Paused
    } else {
        RecordingStatus::Recording
    };
    if let Err(e) = state
        .store()
        .set_recording_status(&by.actor(), &id, status)
        .await
    {
        tracing::error!(error = %e, "cannot store a recording's pause or resumption");
    }
    let change = if pause {
        RecordingChange::Paused
    } else {
        RecordingChange::Resumed
    };
    state
        .rooms()
        .change_recording(room, Some(by.seat), change)?;
    Ok(())
}

/// Stops a room's recording (or its notice) and finalises it in the background. Returns
/// whether there was one.
pub fn stop(
    state: &AppState,
    room: &str,
    by: Option<Moderator<'_>>,
    reason: RecordingEndReason,
) -> bool {
    let Some(active) = state.recorders().lock().remove(room) else {
        return false;
    };
    // The room may be gone already (everyone left): then nobody is left to tell.
    let _ =
        state
            .rooms()
            .change_recording(room, by.map(|b| b.seat), RecordingChange::Stopped(reason));
    if let (Some(id), Some(recording)) = (active.id, active.recording) {
        let actor = by.map_or(Actor::System, |b| b.actor());
        finish::finalise_in_background(state, id, recording, actor);
    }
    true
}

/// How often a running recording looks whether its room still has anyone in it.
const ROOM_CHECK: Duration = Duration::from_secs(2);

/// Stores the recorder's checkpoints (and, on a node of several, what they cover: see
/// [`super::segments`]); stops the recording when the recorder stops itself or the room
/// empties.
async fn watch(
    state: AppState,
    room: String,
    id: RecordingId,
    mut progress: mpsc::Receiver<Progress>,
    uploads: Option<super::segments::Uploads>,
) {
    let mut room_check = tokio::time::interval(ROOM_CHECK);
    loop {
        tokio::select! {
            report = progress.recv() => match report {
                Some(Progress::Checkpoint { segments, head, bytes }) => {
                    let stored = state
                        .store()
                        .checkpoint_recording(
                            &id,
                            &head,
                            i64::try_from(segments).unwrap_or(i64::MAX),
                            i64::try_from(bytes).unwrap_or(i64::MAX),
                            now_ms(),
                        )
                        .await;
                    if let Err(e) = stored {
                        tracing::warn!(error = %e, "cannot store a recording checkpoint");
                    }
                    if let Some(uploads) = &uploads {
                        uploads.checkpoint();
                    }
                }
                Some(Progress::Stopping { code, .. }) => {
                    let reason = if code == "no_disk_space" {
                        RecordingEndReason::NoDiskSpace
                    } else {
                        RecordingEndReason::Failed
                    };
                    stop(&state, &room, None, reason);
                    return;
                }
                None => return,
            },
            _ = room_check.tick() => {
                if !state.rooms().exists(&room) {
                    stop(&state, &room, None, RecordingEndReason::Ended);
                    return;
                }
                let ours = state
                    .recorders()
                    .lock()
                    .get(&room)
                    .is_some_and(|a| a.id.as_ref() == Some(&id));
                if !ours {
                    return;
                }
            }
        }
    }
}

/// The manifest's view of a room's seats.
struct RoomParticipants {
    rooms: Rooms,
    room: String,
}

impl Participants for RoomParticipants {
    fn describe(&self, sfu_participant: &str) -> Option<(String, String)> {
        self.rooms.describe(&self.room, sfu_participant)
    }
}
