//! The relay loop of a seated session: client frames go to the media server or the room, the
//! room's notices and the media server's events go to the client, until the session ends.

use std::time::Instant;

use accord_protocol::{ClientMessage, ErrorCode, LeaveReason, PauseReason, ServerMessage};
use accord_sfu::{IceRestartReason, SfuEvent};
use axum::extract::ws::WebSocket;

use super::actions::{self, Passed};
use super::wire::{IDLE_TIMEOUT, Inbound, PING_INTERVAL, answers_ping, deliver, ping, receive};
use super::wire::{refuse, send};
use super::{Ending, Refusal, Seated};
use crate::AppState;

/// Relays for a seated client until its session ends; how it ended.
pub(super) async fn relay(state: &AppState, socket: &mut WebSocket, seated: &mut Seated) -> Ending {
    let mut ping_timer = tokio::time::interval(PING_INTERVAL);
    ping_timer.tick().await;
    let mut health = tokio::time::interval(accord_sfu::HEALTH_INTERVAL);
    health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    health.tick().await;
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            // Room notices before media events: a participant must be announced before a
            // track of theirs is (a move queues the first and then causes the second).
            biased;
            notice = seated.notices.recv() => {
                let Some(notice) = notice else { return Ending::Gone(LeaveReason::Removed, None) };
                let message = match actions::pass(notice) {
                    Passed::Send(message) => *message,
                    Passed::End(ending) => return ending,
                    Passed::Nothing => continue,
                    Passed::Move(space) => {
                        if let Err(e) = seated.seat.handle.move_to(space.media()).await {
                            tracing::warn!(error = %e, "cannot move a participant's media");
                        }
                        ServerMessage::Moved { space }
                    }
                    Passed::Hold(source) => {
                        if let Err(e) = seated.seat.handle.hold(source, true).await {
                            tracing::warn!(error = %e, "cannot hold a participant's media");
                        }
                        ServerMessage::MutedByModerator { source }
                    }
                };
                if let Err(ending) = deliver(socket, &message).await {
                    return ending;
                }
            }
            inbound = receive(socket) => {
                last_heard = Instant::now();
                match inbound {
                    Inbound::Closed => return Ending::SocketLost,
                    Inbound::Activity => {}
                    Inbound::Refused(id, r) => {
                        if !refuse(socket, id, r).await {
                            return Ending::SocketLost;
                        }
                    }
                    Inbound::Message(m) => {
                        let request_id = m.request_id().map(str::to_owned);
                        match handle(state, socket, seated, m).await {
                            Ok(Some(ending)) => return ending,
                            Ok(None) => {}
                            Err(r) => {
                                if !refuse(socket, request_id, r).await {
                                    return Ending::SocketLost;
                                }
                            }
                        }
                    }
                }
            }
            event = seated.seat.events.recv() => {
                let Some(event) = event else { return Ending::Leave(LeaveReason::Disconnected) };
                if let SfuEvent::Connected { after } = &event {
                    state.metrics().observe_join(*after);
                }
                let message = match event {
                    // A client still there is told it is out. One that does not answer either
                    // lost its whole network (a phone sends no close then): its seat waits for
                    // a resume like any dropped socket's.
                    SfuEvent::MediaLost => {
                        return if answers_ping(socket).await {
                            Ending::Leave(LeaveReason::Disconnected)
                        } else {
                            Ending::SocketLost
                        };
                    }
                    // Silent media with a socket that does not answer either: the whole
                    // network went; the resume after it restarts ICE anyway.
                    SfuEvent::RestartIce { reason: IceRestartReason::MediaSilent }
                        if !answers_ping(socket).await => return Ending::SocketLost,
                    SfuEvent::RestartIce { reason } => ServerMessage::IceRestart { reason },
                    SfuEvent::Health(health) => {
                        state.rooms().set_health(&seated.room, &seated.participant.id, health);
                        continue;
                    }
                    other => match from_sfu(other) {
                        Some(message) => message,
                        None => continue,
                    },
                };
                if let Err(ending) = deliver(socket, &message).await {
                    return ending;
                }
            }
            _ = health.tick() => {
                let participants = state.rooms().health_for(&seated.room, &seated.participant.id);
                if !participants.is_empty() {
                    let message = ServerMessage::ConnectionHealth { participants };
                    if let Err(ending) = deliver(socket, &message).await {
                        return ending;
                    }
                }
            }
            _ = ping_timer.tick() => {
                if last_heard.elapsed() > IDLE_TIMEOUT {
                    return Ending::SocketLost;
                }
                if let Err(ending) = ping(socket).await {
                    return ending;
                }
            }
        }
    }
}

/// Carries out one client frame: a room frame through [`actions`], a media frame through the
/// seat's handle. `Some` ending when the frame ends the session.
async fn handle(
    state: &AppState,
    socket: &mut WebSocket,
    seated: &mut Seated,
    message: ClientMessage,
) -> Result<Option<Ending>, Refusal> {
    actions::check_rate(state, seated, &message)?;
    if actions::act(state, seated, &message).await? {
        return Ok(None);
    }
    let handle = &seated.seat.handle;
    match message {
        ClientMessage::Join { .. } => {
            return Err(Refusal::new(
                ErrorCode::AlreadyJoined,
                "this socket has joined",
                false,
            ));
        }
        ClientMessage::Offer {
            sdp,
            tracks,
            request_id,
        } => {
            let answer = handle.offer(sdp, tracks).await?;
            send(
                socket,
                &ServerMessage::Answer {
                    request_id,
                    sdp: answer,
                },
            )
            .await;
        }
        ClientMessage::Answer { sdp, .. } => handle.answer(sdp).await?,
        ClientMessage::Candidate { candidate, .. } => handle.add_candidate(candidate).await?,
        ClientMessage::TrackSettings {
            track_id,
            width,
            height,
            enabled,
            ..
        } => {
            let (w, h) = if enabled == Some(false) {
                (0, 0)
            } else {
                (width.min(8192), height.min(8192))
            };
            handle.track_settings(track_id, w, h).await?;
        }
        ClientMessage::Mute { source, muted, .. } => handle.set_muted(source, muted).await?,
        ClientMessage::Pause { paused, .. } => {
            handle.set_paused(paused).await?;
            let reason = paused.then_some(PauseReason::Away);
            state
                .rooms()
                .set_paused(&seated.room, &seated.participant.id, reason);
        }
        ClientMessage::SaveData { enabled, .. } => handle.set_save_data(enabled).await?,
        ClientMessage::Leave { .. } => return Ok(Some(Ending::Leave(LeaveReason::Left))),
        ClientMessage::Ping { request_id } => {
            send(socket, &ServerMessage::Pong { request_id }).await;
        }
        // Room frames were carried out above.
        _ => {}
    }
    Ok(None)
}

/// The frame an SFU event becomes for the client, if it is one the client hears of.
fn from_sfu(event: SfuEvent) -> Option<ServerMessage> {
    Some(match event {
        SfuEvent::Offer { sdp, tracks } => ServerMessage::Offer { sdp, tracks },
        SfuEvent::TrackPublished(track) => ServerMessage::TrackPublished { track },
        SfuEvent::TrackUnpublished(track_id) => ServerMessage::TrackUnpublished { track_id },
        SfuEvent::TrackMuted { track, muted } => ServerMessage::TrackMuted {
            track_id: track,
            muted,
        },
        SfuEvent::ActiveSpeakers(speakers) => ServerMessage::ActiveSpeakers { speakers },
        SfuEvent::LayerDemand { track, active } => ServerMessage::LayerDemand {
            track_id: track,
            active,
        },
        SfuEvent::AudioOnly { active, reason } => ServerMessage::AudioOnly { active, reason },
        _ => return None,
    })
}
