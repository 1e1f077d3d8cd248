//! One WebSocket session: the join handshake (and the waiting room), then relaying between
//! the client, its seat in the SFU, and the room's notices until it leaves, drops, is removed,
//! or loses its media.

mod actions;
mod seating;

use std::time::{Duration, Instant};

use accord_protocol::{
    ClientMessage, ErrorCode, LeaveReason, MAX_FRAME_BYTES, PROTOCOL_VERSION, ParticipantInfo,
    PauseReason, ServerMessage,
};
use accord_sfu::{IceRestartReason, JoinRequest, ParticipantId, RoomId, SfuEvent};
use axum::extract::ws::{Message, WebSocket};

use crate::AppState;
use crate::auth::JoinClaims;
use crate::rooms::{Notice, Notices, Seat, SessionLink};
use actions::Passed;

/// The first frame must arrive within this.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// We ping this often…
const PING_INTERVAL: Duration = Duration::from_secs(15);
/// …and give up on a client silent for this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// How long a client whose media died has to answer a ping before its socket counts as dead too.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// A frame the client's connection has not taken in this long means the client stopped
/// reading (its TCP window stays shut): it is dropped rather than left holding its seat while
/// everything meant for it piles up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The last words to a client being dropped (an error frame, the close) get this long.
const PARTING_TIMEOUT: Duration = Duration::from_secs(1);

/// A protocol error frame, and whether the socket closes after it.
struct Refusal {
    code: ErrorCode,
    message: String,
    fatal: bool,
    retry_after: Option<Duration>,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>, fatal: bool) -> Self {
        Self {
            code,
            message: message.into(),
            fatal,
            retry_after: None,
        }
    }

    /// A frame sent more often than its limit; it was not carried out.
    fn rate_limited(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorCode::RateLimited,
                "too many of these too fast; this one was not carried out",
                false,
            )
        }
    }
}

impl From<accord_sfu::Error> for Refusal {
    fn from(e: accord_sfu::Error) -> Self {
        use accord_sfu::Error as E;
        match e {
            E::BadSdp(m) => Refusal::new(ErrorCode::BadSdp, m, false),
            E::BadCandidate(m) => Refusal::new(ErrorCode::BadCandidate, m, false),
            E::Glare => Refusal::new(ErrorCode::Glare, e.to_string(), false),
            E::NoOfferOutstanding => {
                Refusal::new(ErrorCode::NoOfferOutstanding, e.to_string(), false)
            }
            E::Forbidden(m) => Refusal::new(ErrorCode::Forbidden, m, false),
            E::UnknownTrack => Refusal::new(ErrorCode::UnknownTrack, e.to_string(), false),
            E::ParticipantGone | E::ShuttingDown => {
                Refusal::new(ErrorCode::Gone, e.to_string(), true)
            }
            other => {
                tracing::error!(error = %other, "media server failed a request");
                Refusal::new(
                    ErrorCode::Internal,
                    "the media server failed; try again",
                    false,
                )
            }
        }
    }
}

enum Inbound {
    Message(ClientMessage),
    Refused(Option<String>, Refusal),
    Closed,
    Activity,
}

/// Writes one frame within [`WRITE_TIMEOUT`]; how the session ends if it cannot.
async fn write(socket: &mut WebSocket, message: Message) -> Result<(), Ending> {
    match tokio::time::timeout(WRITE_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Ending::SocketLost),
        Err(_) => Err(Ending::SlowConsumer),
    }
}

async fn deliver(socket: &mut WebSocket, message: &ServerMessage) -> Result<(), Ending> {
    match serde_json::to_string(message) {
        Ok(text) => write(socket, Message::Text(text.into())).await,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a server message");
            Ok(())
        }
    }
}

async fn send(socket: &mut WebSocket, message: &ServerMessage) -> bool {
    deliver(socket, message).await.is_ok()
}

async fn refuse(socket: &mut WebSocket, request_id: Option<String>, r: Refusal) -> bool {
    let fatal = r.fatal;
    let delivered = send(
        socket,
        &ServerMessage::Error {
            request_id,
            code: r.code,
            message: r.message,
            fatal,
            retry_after_ms: r
                .retry_after
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        },
    )
    .await;
    delivered && !fatal
}

/// The longest `request_id` a frame may carry (docs/protocol.md).
const MAX_REQUEST_ID_CHARS: usize = 64;

async fn receive(socket: &mut WebSocket) -> Inbound {
    let Some(Ok(message)) = socket.recv().await else {
        return Inbound::Closed;
    };
    let text = match message {
        Message::Text(text) => text,
        Message::Binary(_) => {
            return Inbound::Refused(
                None,
                Refusal::new(ErrorCode::BadJson, "frames are JSON text", false),
            );
        }
        Message::Close(_) => return Inbound::Closed,
        Message::Ping(_) | Message::Pong(_) => return Inbound::Activity,
    };
    if text.len() > MAX_FRAME_BYTES {
        return Inbound::Refused(
            None,
            Refusal::new(
                ErrorCode::FrameTooLarge,
                format!("frames are limited to {MAX_FRAME_BYTES} bytes"),
                true,
            ),
        );
    }
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            return Inbound::Refused(None, Refusal::new(ErrorCode::BadJson, e.to_string(), false));
        }
    };
    let request_id = value
        .get("request_id")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    if request_id
        .as_deref()
        .is_some_and(|id| id.chars().count() > MAX_REQUEST_ID_CHARS)
    {
        // Not echoed: a client must not make the server repeat what it likes at any length.
        let message = format!("request_id is limited to {MAX_REQUEST_ID_CHARS} characters");
        return Inbound::Refused(None, Refusal::new(ErrorCode::BadJson, message, false));
    }
    match serde_json::from_value::<ClientMessage>(value) {
        Ok(m) => Inbound::Message(m),
        Err(e) => Inbound::Refused(
            request_id,
            Refusal::new(ErrorCode::BadJson, e.to_string(), false),
        ),
    }
}

/// Runs a socket from upgrade to close.
pub async fn run(mut socket: WebSocket, state: AppState) {
    state.metrics().sessions_changed(1);
    let first = tokio::time::timeout(JOIN_TIMEOUT, receive(&mut socket)).await;
    let (token, resume, request_id) = match first {
        Ok(Inbound::Message(ClientMessage::Join {
            protocol,
            token,
            resume,
            request_id,
        })) => {
            if protocol != PROTOCOL_VERSION {
                let r = Refusal::new(
                    ErrorCode::UnsupportedProtocol,
                    format!("this server speaks protocol {PROTOCOL_VERSION}"),
                    true,
                );
                refuse(&mut socket, request_id, r).await;
                return finish(&state, socket).await;
            }
            (token, resume, request_id)
        }
        Ok(Inbound::Refused(id, r)) if r.fatal => {
            refuse(&mut socket, id, r).await;
            return finish(&state, socket).await;
        }
        Ok(Inbound::Closed) | Err(_) => return finish(&state, socket).await,
        Ok(other) => {
            let id = match other {
                Inbound::Refused(id, _) => id,
                Inbound::Message(m) => m.request_id().map(str::to_owned),
                _ => None,
            };
            let r = Refusal::new(ErrorCode::NotJoined, "the first frame must be join", true);
            refuse(&mut socket, id, r).await;
            return finish(&state, socket).await;
        }
    };
    let verified = match state.keys().verify(&token) {
        Ok(claims) => crate::casework::check_join(&state, &claims)
            .await
            .map(|()| claims),
        Err(e) => Err(e),
    };
    let claims = match verified {
        Ok(c) => c,
        Err(e) => {
            refuse(
                &mut socket,
                request_id,
                Refusal::new(ErrorCode::InvalidToken, e.to_string(), true),
            )
            .await;
            return finish(&state, socket).await;
        }
    };
    let seating = match seating::seating(&state, &claims).await {
        Ok(s) => s,
        Err(r) => {
            refuse(&mut socket, request_id, r).await;
            return finish(&state, socket).await;
        }
    };
    let Some(mut seated) =
        take_seat(&state, &mut socket, &claims, seating, resume, request_id).await
    else {
        return finish(&state, socket).await;
    };
    let outcome = relay(&state, &mut socket, &mut seated).await;
    let room = claims.room.as_str();
    let id = seated.participant.id.as_str();
    match outcome {
        Ending::Leave(reason) => {
            let _ = send(&mut socket, &actions::gone_message(reason, None)).await;
            if state.rooms().holds(room, id, seated.generation) {
                state.rooms().remove(room, id, reason);
            }
        }
        Ending::Gone(reason, message) => {
            let _ = send(&mut socket, &actions::gone_message(reason, message)).await;
        }
        Ending::SlowConsumer => {
            tracing::info!("dropping a client that stopped reading its socket");
            let message = ServerMessage::Error {
                request_id: None,
                code: ErrorCode::SlowConsumer,
                message: "this connection stopped taking messages; join again".to_owned(),
                fatal: true,
                retry_after_ms: None,
            };
            let _ = tokio::time::timeout(PARTING_TIMEOUT, send(&mut socket, &message)).await;
            if state.rooms().holds(room, id, seated.generation) {
                state.rooms().remove(room, id, LeaveReason::Disconnected);
            }
        }
        Ending::SocketLost => {
            if state.rooms().holds(room, id, seated.generation) {
                // Its media stops too; the seat must not be dropped for that before the grace.
                let _ = seated.seat.handle.set_paused(true).await;
                state
                    .rooms()
                    .detach(room, id, seated.seat, state.config().resume_grace);
            }
        }
    }
    finish(&state, socket).await;
}

async fn finish(state: &AppState, mut socket: WebSocket) {
    let _ = tokio::time::timeout(PARTING_TIMEOUT, socket.send(Message::Close(None))).await;
    state.metrics().sessions_changed(-1);
}

struct Seated {
    room: String,
    participant: ParticipantInfo,
    session: Option<SessionLink>,
    seat: Seat,
    notices: Notices,
    generation: u64,
    /// When the join token was issued (Unix seconds): a staff member's token can be revoked.
    token_issued_at: u64,
}

/// The `joined` frame for a seat, from the room as the participant is to see it now.
async fn joined_frame(
    state: &AppState,
    claims: &JoinClaims,
    participant: &ParticipantInfo,
    tracks: Vec<accord_sfu::TrackInfo>,
    resume_token: String,
    request_id: Option<String>,
) -> Option<ServerMessage> {
    let snapshot = state.rooms().snapshot(&claims.room, &participant.id)?;
    Some(ServerMessage::Joined {
        request_id,
        protocol: PROTOCOL_VERSION,
        participant: participant.clone(),
        room: claims.room.clone(),
        participants: snapshot.others,
        tracks,
        ice_servers: crate::turn::ice_servers_for(
            &state.config().ice_servers,
            state.config().turn.as_ref(),
            &participant.identity,
        ),
        resume_token,
        space: snapshot.space,
        locked: snapshot.locked,
        moderator: snapshot.moderator,
        chat: snapshot.chat,
        session: snapshot.session,
    })
}

async fn take_seat(
    state: &AppState,
    socket: &mut WebSocket,
    claims: &JoinClaims,
    seating: crate::rooms::Seating,
    resume: Option<String>,
    request_id: Option<String>,
) -> Option<Seated> {
    let rooms = state.rooms();
    let session = seating.session.clone();
    let mut resume_refused = false;
    if let Some(token) = resume {
        if let Some(r) = rooms.resume(&claims.room, &claims.sub, &token).await {
            // It may have been moved while its socket was gone.
            if let Some(space) = rooms.space_of(&claims.room, &r.participant.id) {
                let _ = r.seat.handle.move_to(space.media()).await;
            }
            let tracks = r.seat.handle.room_tracks().await.unwrap_or_default();
            let joined =
                joined_frame(state, claims, &r.participant, tracks, token, request_id).await?;
            send(socket, &joined).await;
            // Whatever made the media quiet is over or will be said again by the client.
            let _ = r.seat.handle.set_paused(false).await;
            return Some(Seated {
                room: claims.room.clone(),
                participant: r.participant,
                session,
                seat: r.seat,
                notices: r.notices,
                generation: r.generation,
                token_issued_at: claims.iat,
            });
        }
        resume_refused = true;
    }
    let mut admission = match rooms.admit(claims, seating, state.config().max_participants) {
        Ok(a) => a,
        Err(e) => {
            refuse(socket, request_id, actions::admit_refusal(e)).await;
            return None;
        }
    };
    let id = admission.participant.id.clone();
    if admission.waiting {
        let waiting = ServerMessage::Waiting {
            request_id: request_id.clone(),
            protocol: PROTOCOL_VERSION,
            participant: admission.participant.clone(),
        };
        if !send(socket, &waiting).await {
            rooms.remove(&claims.room, &id, LeaveReason::Disconnected);
            return None;
        }
        match wait_for_admission(socket, &mut admission.notices).await {
            Ok(()) => {}
            Err(ending) => {
                match ending {
                    Ending::Gone(reason, message) => {
                        let _ = send(socket, &actions::gone_message(reason, message)).await;
                    }
                    Ending::Leave(reason) => {
                        let _ = send(socket, &actions::gone_message(reason, None)).await;
                        rooms.remove(&claims.room, &id, reason);
                    }
                    Ending::SocketLost | Ending::SlowConsumer => {
                        rooms.remove(&claims.room, &id, LeaveReason::Disconnected)
                    }
                }
                return None;
            }
        }
    }
    let space = rooms.space_of(&claims.room, &id).unwrap_or_default();
    let joined = state
        .sfu()
        .join(JoinRequest {
            room: RoomId::new(&claims.room),
            participant: ParticipantId::new(&id),
            // Observers watch; whatever their token says, they never publish.
            can_publish: claims.can_publish && claims.role != crate::auth::Role::Observer,
            can_subscribe: claims.can_subscribe,
            space: space.media(),
        })
        .await;
    let joined = match joined {
        Ok(j) => j,
        Err(e) => {
            rooms.remove(&claims.room, &id, LeaveReason::Disconnected);
            refuse(socket, request_id, Refusal::from(e)).await;
            return None;
        }
    };
    // A move made while the media seat was being set up is applied now.
    if let Some(now) = rooms
        .space_of(&claims.room, &id)
        .filter(|now| *now != space)
    {
        let _ = joined.handle.move_to(now.media()).await;
    }
    if resume_refused {
        let r = Refusal::new(
            ErrorCode::ResumeFailed,
            "the seat could not be resumed; joined as new",
            false,
        );
        refuse(socket, None, r).await;
    }
    let tracks = joined.handle.room_tracks().await.unwrap_or(joined.tracks);
    let Some(message) = joined_frame(
        state,
        claims,
        &admission.participant,
        tracks,
        admission.resume_token,
        request_id,
    )
    .await
    else {
        // Removed or the session ended while joining.
        return None;
    };
    if !send(socket, &message).await {
        rooms.remove(&claims.room, &id, LeaveReason::Disconnected);
        return None;
    }
    Some(Seated {
        room: claims.room.clone(),
        participant: admission.participant,
        session,
        seat: Seat {
            handle: joined.handle,
            events: joined.events,
        },
        notices: admission.notices,
        generation: admission.generation,
        token_issued_at: claims.iat,
    })
}

/// Keeps a waiting client's socket alive until a moderator admits or denies it.
async fn wait_for_admission(socket: &mut WebSocket, notices: &mut Notices) -> Result<(), Ending> {
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            inbound = receive(socket) => {
                last_heard = Instant::now();
                match inbound {
                    Inbound::Closed => return Err(Ending::SocketLost),
                    Inbound::Activity => {}
                    Inbound::Refused(id, r) => {
                        if !refuse(socket, id, r).await {
                            return Err(Ending::SocketLost);
                        }
                    }
                    Inbound::Message(ClientMessage::Leave { .. }) => {
                        return Err(Ending::Leave(LeaveReason::Left));
                    }
                    Inbound::Message(ClientMessage::Ping { request_id }) => {
                        send(socket, &ServerMessage::Pong { request_id }).await;
                    }
                    Inbound::Message(m) => {
                        let r = Refusal::new(
                            ErrorCode::NotAdmitted,
                            "you are in the waiting room until the mediator lets you in",
                            false,
                        );
                        if !refuse(socket, m.request_id().map(str::to_owned), r).await {
                            return Err(Ending::SocketLost);
                        }
                    }
                }
            }
            notice = notices.recv() => match notice {
                Some(Notice::Admitted) => return Ok(()),
                Some(Notice::YouAreGone(reason, message)) => {
                    return Err(Ending::Gone(reason, message));
                }
                Some(_) => {}
                None => return Err(Ending::Gone(LeaveReason::Removed, None)),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_TIMEOUT {
                    return Err(Ending::SocketLost);
                }
                write(socket, Message::Ping(Vec::new().into())).await?;
            }
        }
    }
}

enum Ending {
    /// The participant is leaving (asked to, or its media died): remove the seat.
    Leave(LeaveReason),
    /// The seat was already taken from us (replaced, removed, denied, ended), with a
    /// moderator's reason.
    Gone(LeaveReason, Option<String>),
    /// The socket dropped: hold the seat for a resume.
    SocketLost,
    /// The client stopped reading (a write timed out, or its notices overflowed): tell it
    /// if it can still hear, and give its seat up.
    SlowConsumer,
}

async fn relay(state: &AppState, socket: &mut WebSocket, seated: &mut Seated) -> Ending {
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
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
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_TIMEOUT {
                    return Ending::SocketLost;
                }
                if let Err(ending) = write(socket, Message::Ping(Vec::new().into())).await {
                    return ending;
                }
            }
        }
    }
}

/// Whether the client answers a ping (or says anything) within [`PROBE_TIMEOUT`].
async fn answers_ping(socket: &mut WebSocket) -> bool {
    let probe = async {
        socket.send(Message::Ping(Vec::new().into())).await.is_ok()
            && !matches!(receive(socket).await, Inbound::Closed)
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe)
        .await
        .unwrap_or(false)
}

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
