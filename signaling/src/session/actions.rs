//! The session-running frames (admit, move, mute, chat, …) and the room notices a session
//! passes on or acts on.

use accord_protocol::{ClientMessage, ErrorCode, LeaveReason, ServerMessage};
use accord_sfu::TrackSource;

use super::{Ending, Refusal, Seated};
use crate::AppState;
use crate::rooms::{Notice, RoomError};
use accord_cases::store::model::Actor;

impl From<RoomError> for Refusal {
    fn from(e: RoomError) -> Self {
        let code = match e {
            RoomError::NotModerator => ErrorCode::Forbidden,
            RoomError::UnknownParticipant(_) => ErrorCode::UnknownParticipant,
            RoomError::BadRequest(_) => ErrorCode::BadRequest,
            RoomError::Gone => ErrorCode::Gone,
        };
        Refusal::new(code, e.to_string(), false)
    }
}

impl From<crate::recording::control::ControlError> for Refusal {
    fn from(e: crate::recording::control::ControlError) -> Self {
        use crate::recording::control::ControlError as E;
        let code = match &e {
            E::NotModerator => ErrorCode::Forbidden,
            E::State(_) => ErrorCode::RecordingState,
            E::Unavailable(_) => ErrorCode::RecordingUnavailable,
            E::Gone => ErrorCode::Gone,
        };
        Refusal::new(code, e.to_string(), false)
    }
}

/// Carries out a room frame for the seated participant. Returns whether the frame was one.
pub(super) async fn act(
    state: &AppState,
    seated: &Seated,
    message: &ClientMessage,
) -> Result<bool, Refusal> {
    if super::drafting::is_drafting(message) {
        super::drafting::act(state, seated, message).await?;
        return Ok(true);
    }
    let rooms = state.rooms();
    let (room, me) = (seated.room.as_str(), seated.participant.id.as_str());
    if is_moderation(message) {
        check_staff_seat(state, seated).await?;
    }
    match message {
        ClientMessage::Admit { participant_id, .. } => {
            rooms.admit_waiting(room, me, participant_id.as_deref())?;
        }
        ClientMessage::Deny {
            participant_id,
            reason,
            ..
        } => rooms.deny(room, me, participant_id, reason)?,
        ClientMessage::Lock { locked, .. } => rooms.set_locked(room, me, *locked)?,
        ClientMessage::Move {
            participant_id,
            to,
            alone,
            ..
        } => {
            if *alone {
                rooms.move_alone(room, me, participant_id, *to)?;
            } else {
                rooms.move_to(room, me, participant_id, *to)?;
            }
        }
        ClientMessage::Gather { .. } => {
            rooms.gather(room, me)?;
        }
        ClientMessage::AskUnmute {
            participant_id,
            source,
            ..
        } => {
            if *source == TrackSource::Screen || *source == TrackSource::Unknown {
                return Err(Refusal::new(
                    ErrorCode::BadRequest,
                    "ask to turn on a microphone or a camera",
                    false,
                ));
            }
            rooms.ask_unmute(room, me, participant_id, *source)?;
        }
        ClientMessage::MuteParticipant {
            participant_id,
            source,
            ..
        } => rooms.mute(room, me, participant_id, *source)?,
        ClientMessage::Remove {
            participant_id,
            reason,
            ..
        } => rooms.remove_by(room, me, participant_id, reason)?,
        ClientMessage::EndSession { .. } => end_session(state, seated).await?,
        ClientMessage::Record { action, .. } => {
            let by = crate::recording::control::Moderator {
                seat: me,
                identity: &seated.participant.identity,
            };
            crate::recording::control::act(state, room, by, seated.session.as_ref(), *action)
                .await?;
        }
        ClientMessage::RaiseHand { raised, .. } => rooms.raise_hand(room, me, *raised)?,
        ClientMessage::Chat { text, .. } => {
            let (message, entry) = rooms.prepare_chat(room, me, text)?;
            // Stored before anyone sees it: a message on screen is a message on record.
            if let Some(entry) = entry
                && let Err(e) = state.store().append_session_event(&entry).await
            {
                tracing::error!(error = %e, "cannot store a chat message");
                return Err(Refusal::new(
                    ErrorCode::Internal,
                    "the message could not be stored; send it again",
                    false,
                ));
            }
            rooms.deliver_chat(room, message);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn is_moderation(message: &ClientMessage) -> bool {
    matches!(
        message,
        ClientMessage::Admit { .. }
            | ClientMessage::Deny { .. }
            | ClientMessage::Lock { .. }
            | ClientMessage::Move { .. }
            | ClientMessage::Gather { .. }
            | ClientMessage::AskUnmute { .. }
            | ClientMessage::MuteParticipant { .. }
            | ClientMessage::Remove { .. }
            | ClientMessage::EndSession { .. }
            | ClientMessage::Record { .. }
    )
}

/// A mediator's seat in a case session whose staff account was disabled (or whose token was
/// revoked) while they sat here loses it at their next moderator action, not only at their
/// next join.
async fn check_staff_seat(state: &AppState, seated: &Seated) -> Result<(), Refusal> {
    if seated.session.is_none() || seated.participant.role != accord_cases::tokens::Role::Mediator {
        return Ok(());
    }
    let identity = &seated.participant.identity;
    match crate::casework::check_staff_seat(state, identity, seated.token_issued_at).await {
        Ok(()) => Ok(()),
        Err(crate::error::Error::Unauthorized(message)) => {
            state
                .rooms()
                .remove(&seated.room, &seated.participant.id, LeaveReason::Removed);
            Err(Refusal::new(ErrorCode::AccountDisabled, message, true))
        }
        Err(e) => {
            tracing::error!(error = %e, "the store failed while checking a mediator's account");
            Err(Refusal::new(
                ErrorCode::Internal,
                "the server failed; try again",
                false,
            ))
        }
    }
}

async fn end_session(state: &AppState, seated: &Seated) -> Result<(), Refusal> {
    let rooms = state.rooms();
    let (room, me) = (seated.room.as_str(), seated.participant.id.as_str());
    if !rooms
        .seat_of(room, &seated.participant.identity)
        .is_some_and(|(_, _, moderator)| moderator)
    {
        return Err(RoomError::NotModerator.into());
    }
    if let Some(link) = &seated.session {
        let actor = Actor::Staff(seated.participant.identity.as_str().into());
        if let Err(e) = state.store().end_session(&actor, &link.session_id).await {
            tracing::error!(error = %e, "cannot end a session in the store");
            return Err(Refusal::new(
                ErrorCode::Internal,
                "the session could not be ended; try again",
                false,
            ));
        }
    }
    // The recording ends with the session: finalised, and its end in the record before the
    // session's.
    crate::recording::control::stop(
        state,
        room,
        Some(crate::recording::control::Moderator {
            seat: me,
            identity: &seated.participant.identity,
        }),
        accord_protocol::RecordingEndReason::Ended,
    );
    rooms.end(room, me)?;
    Ok(())
}

/// Refuses a chat, hand or pause its sender sends more often than the room's limits allow,
/// before it is carried out (a refused chat message is not stored).
pub(super) fn check_rate(
    state: &AppState,
    seated: &Seated,
    message: &ClientMessage,
) -> Result<(), Refusal> {
    if super::drafting::is_drafting(message) {
        return super::drafting::check_rate(state, seated, message);
    }
    let limits = state.limits();
    let limiters = match message {
        ClientMessage::Chat { .. } => vec![&limits.chat_burst, &limits.chat_minute],
        ClientMessage::RaiseHand { .. } => vec![&limits.hands],
        ClientMessage::Pause { .. } => vec![&limits.pauses],
        ClientMessage::Record { .. } => vec![&limits.recording],
        _ => return Ok(()),
    };
    let key = format!("{}/{}", seated.room, seated.participant.identity);
    let now = std::time::Instant::now();
    for limiter in limiters {
        limiter.take(&key, now).map_err(Refusal::rate_limited)?;
    }
    Ok(())
}

/// What a session does with a room notice.
pub(super) enum Passed {
    /// Send this to the client.
    Send(Box<ServerMessage>),
    /// Move the media to this space, then tell the client.
    Move(accord_protocol::Space),
    /// Hold this source in the media server, then tell the client.
    Hold(TrackSource),
    /// The session is over.
    End(Ending),
    /// Nothing to do.
    Nothing,
}

pub(super) fn pass(notice: Notice) -> Passed {
    Passed::Send(Box::new(match notice {
        Notice::Paused {
            participant_id,
            paused,
        } => ServerMessage::ParticipantPaused {
            participant_id,
            paused: paused.is_some(),
            reason: paused,
        },
        Notice::Joined(participant) => ServerMessage::ParticipantJoined { participant },
        Notice::Left {
            participant_id,
            reason,
        } => ServerMessage::ParticipantLeft {
            participant_id,
            reason,
        },
        Notice::Updated(participant) => ServerMessage::ParticipantUpdated { participant },
        Notice::WaitingRoom(waiting) => ServerMessage::WaitingRoom { waiting },
        Notice::Locked(locked) => ServerMessage::Locked { locked },
        Notice::UnmuteRequested { source, by } => ServerMessage::UnmuteRequested { source, by },
        Notice::Chat(message) => ServerMessage::Chat { message },
        Notice::Evidence(evidence) => ServerMessage::EvidenceShared { evidence },
        Notice::Recording(status) => ServerMessage::Recording { status },
        Notice::Frame(frame) => return Passed::Send(frame),
        Notice::Moved(space) => return Passed::Move(space),
        Notice::Hold(source) => return Passed::Hold(source),
        Notice::YouAreGone(reason, message) => return Passed::End(Ending::Gone(reason, message)),
        Notice::ResumedElsewhere => return Passed::End(Ending::SocketLost),
        Notice::Overflowed => return Passed::End(Ending::SlowConsumer),
        Notice::Admitted => return Passed::Nothing,
    }))
}

/// A refusal for an admission the room turned down.
pub(super) fn admit_refusal(e: crate::rooms::AdmitError) -> Refusal {
    use crate::rooms::AdmitError;
    match e {
        AdmitError::Full => Refusal::new(ErrorCode::RoomFull, "this room has no free seat", true),
        AdmitError::Locked => Refusal::new(
            ErrorCode::RoomLocked,
            "the mediator has locked the room; ask them to let you in",
            true,
        ),
        AdmitError::Removed => Refusal::new(
            ErrorCode::InvalidToken,
            "the mediator removed you from this session",
            true,
        ),
        // Retryable: the client joins again with backoff and reaches the node that takes
        // the room (or this one, restarted).
        AdmitError::Draining => Refusal {
            retry_after: Some(crate::drain::RETRY_AFTER),
            ..Refusal::new(
                ErrorCode::NodeDraining,
                "this server is shutting down and opens no new session; joining again shortly",
                true,
            )
        },
    }
}

/// Why a session ended, for a leave that the client did not ask for.
pub(super) fn gone_message(reason: LeaveReason, message: Option<String>) -> ServerMessage {
    ServerMessage::Left { reason, message }
}
