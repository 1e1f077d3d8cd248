//! WHIP (RFC 9725) and WHEP: one HTTP offer/answer to publish into a room or to watch it,
//! so standard tools (GStreamer's whipsink, OBS, other WebRTC stacks) can take part. The
//! bearer token is a join token; the resource URL in `Location` is the session's handle for
//! trickle (`PATCH`) and hang-up (`DELETE`).
//!
//! In a cluster, an offer is placed like a WebSocket join: on a node that does not own the
//! session it is sent on to the owner (signed as a relay, [`crate::cluster::relay`]) and the
//! owner's answer is returned as it came; the media then goes straight to the owner, whose
//! candidates the answer carries. The resource id begins with the owner's node id
//! (`N_….<random>`), so a later `PATCH` or `DELETE` reaching any node is sent on to the node
//! that holds the resource, with nothing to look up.

mod send_on;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use accord_protocol::LeaveReason;
use accord_sfu::sdp::parse_sdpfrag;
use accord_sfu::{JoinRequest, ParticipantHandle, ParticipantId, RoomId, SfuEvent};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{JoinBearer, Participant};
use crate::cluster::{ClusterError, placement_key, relay};
use crate::error::{Error, Result};
use crate::limits::ClientAddress;
use crate::rooms::{AdmitError, Notice, Placed, Seating, SessionLink};
use accord_cases::tokens::JoinClaims;
use send_on::{ID_SEPARATOR, Relay, elsewhere, send_on};

/// Publish or watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Publish,
    Watch,
}

impl Direction {
    fn path(self) -> &'static str {
        match self {
            Direction::Publish => "whip",
            Direction::Watch => "whep",
        }
    }
}

struct Resource {
    direction: Direction,
    room: String,
    /// The session's placement key, given up when its room is gone.
    key: String,
    identity: String,
    participant_id: String,
    handle: Arc<ParticipantHandle>,
    /// The resource's entity tag, quoted (RFC 9725 §4.3: `If-Match` on PATCH).
    etag: String,
    /// The client's ICE username fragment: a PATCH with another one asks for a restart.
    client_ufrag: Option<String>,
}

/// Open WHIP and WHEP sessions by resource id.
#[derive(Clone, Default)]
pub struct Resources {
    inner: Arc<Mutex<HashMap<String, Resource>>>,
}

impl Resources {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Resource>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends a session: its seat leaves the room and the SFU, and the room's placement goes
    /// if that was the room's last seat.
    async fn end(&self, state: &AppState, id: &str, reason: LeaveReason) -> bool {
        let removed = self.lock().remove(id);
        match removed {
            Some(r) => {
                state.rooms().remove(&r.room, &r.participant_id, reason);
                drop(r.handle);
                crate::rooms::release_if_gone(state, &r.room, &r.key).await;
                true
            }
            None => false,
        }
    }
}

/// The WHIP and WHEP routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/whip", post(publish))
        .route("/whep", post(watch))
        .route("/whip/{id}", patch(trickle_whip).delete(hang_up_whip))
        .route("/whep/{id}", patch(trickle_whep).delete(hang_up_whep))
}

/// Refuses an offer with nothing to publish or watch (only a data channel, or every media
/// section rejected) before it takes a seat.
fn require_media(offer: &str) -> Result<()> {
    if accord_sfu::sdp::offers_media(offer) {
        Ok(())
    } else {
        Err(Error::Unprocessable {
            code: "no_media",
            message: "the offer has no audio or video section".into(),
        })
    }
}

/// A fresh entity tag for a session resource, quoted as the `ETag` header carries it.
fn new_etag() -> String {
    format!("\"{}\"", accord_sfu::random_token(16))
}

/// `If-Match` (RFC 9110 §13.1.1): absent, `*` or the current tag lets the request through.
fn check_if_match(headers: &HeaderMap, etag: &str) -> Result<()> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(());
    };
    let value = value
        .to_str()
        .map_err(|_| Error::BadRequest("If-Match is not ASCII".into()))?;
    if value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == etag)
    {
        Ok(())
    } else {
        Err(Error::PreconditionFailed(
            "that ETag is not this session's; use the one from the 201 response",
        ))
    }
}

fn sdp_body(headers: &HeaderMap, body: Bytes) -> Result<String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/sdp") {
        return Err(Error::UnsupportedMediaType(
            "send the offer as application/sdp",
        ));
    }
    if body.len() > 64 * 1024 {
        return Err(Error::BadRequest("the offer is larger than 64 KiB".into()));
    }
    String::from_utf8(body.to_vec()).map_err(|_| Error::BadRequest("the offer is not UTF-8".into()))
}

/// Query of `POST /whep`.
#[derive(Debug, Deserialize)]
struct WatchQuery {
    /// The participant (seat id) to watch; default: the first publisher.
    participant: Option<String>,
}

/// How an offer reached this node: its path (with the query) and the client's address, to
/// send it on to the session's owner if need be.
struct Arrival {
    uri: Uri,
    client: ClientAddress,
}

async fn publish(
    State(state): State<AppState>,
    client: ClientAddress,
    uri: Uri,
    Participant(claims): Participant,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let arrival = Arrival { uri, client };
    start(
        state,
        claims,
        headers,
        body,
        Direction::Publish,
        None,
        arrival,
    )
    .await
}

async fn watch(
    State(state): State<AppState>,
    client: ClientAddress,
    uri: Uri,
    Query(query): Query<WatchQuery>,
    Participant(claims): Participant,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let arrival = Arrival { uri, client };
    start(
        state,
        claims,
        headers,
        body,
        Direction::Watch,
        query.participant,
        arrival,
    )
    .await
}

async fn start(
    state: AppState,
    claims: JoinClaims,
    headers: HeaderMap,
    body: Bytes,
    direction: Direction,
    watch: Option<String>,
    arrival: Arrival,
) -> Result<Response> {
    match direction {
        Direction::Publish if !claims.can_publish => {
            return Err(Error::Forbidden("this token may not publish"));
        }
        Direction::Watch if !claims.can_subscribe => {
            return Err(Error::Forbidden("this token may not watch"));
        }
        _ => {}
    }
    let offer = sdp_body(&headers, body.clone())?;
    require_media(&offer)?;
    let client_ufrag = parse_sdpfrag(&offer).ufrag;
    // A WHIP client cannot wait: case sessions take their parties through the waiting room
    // of the app, and only their mediators (or tools without a session) publish this way.
    if claims.session.is_some()
        && claims.role != accord_cases::tokens::Role::Mediator
        && !claims.hidden
    {
        return Err(Error::Forbidden(
            "parties join a case session through the waiting room of the app",
        ));
    }
    let key = placement_key(claims.session.as_deref(), &claims.room);
    let path = arrival
        .uri
        .path_and_query()
        .map_or_else(|| arrival.uri.path().to_owned(), |p| p.as_str().to_owned());
    let relayed = relay::verify(state.keys(), &headers, "POST", &path, relay::now_s());
    let (placed, moved_from) = match relayed {
        // Placed by the node that sent it on: served here, never sent on again.
        Some(relayed) => match crate::rooms::relayed_join(&state, &claims.room, &key).await {
            Some(placed) => (placed, relayed.moved_from),
            None => {
                return Err(Error::Unavailable(
                    "this server is shutting down and opens no new room; try again shortly".into(),
                ));
            }
        },
        None => match crate::rooms::place_join(&state, &claims.room, &key).await {
            Ok(Placed::Here(placed, moved_from)) => (placed, moved_from),
            Ok(Placed::Elsewhere(placement)) => {
                let relay = Relay::Offer {
                    placement: &placement,
                    client: arrival.client,
                };
                return send_on(&state, relay, Method::POST, &path, &headers, body).await;
            }
            Err(ClusterError::NoNodeAvailable) => {
                return Err(Error::Unavailable(
                    "every server is shutting down or full and opens no new room; try again \
                     shortly"
                        .into(),
                ));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot place a WHIP/WHEP session");
                return Err(Error::Unavailable(
                    "the session cannot be placed now; try again shortly".into(),
                ));
            }
        },
    };
    if let Err(e) = crate::failover::before_seating(&state, &claims, moved_from.as_deref()).await {
        tracing::error!(error = %e, "cannot take over a session from a node that is gone");
        return Err(Error::Unavailable(
            "this session is being moved to another server; try again shortly".into(),
        ));
    }
    let seating = Seating {
        session: match (&claims.case, &claims.session) {
            (Some(case_id), Some(session_id)) => Some(SessionLink {
                case_id: case_id.into(),
                session_id: session_id.into(),
            }),
            _ => None,
        },
        ..Seating::default()
    };
    let admission = state
        .rooms()
        .admit(&claims, seating, state.config().max_participants)
        .map_err(|e| match e {
            AdmitError::Full => Error::Forbidden("the room is full"),
            AdmitError::Locked => Error::Forbidden("the mediator has locked the room"),
            AdmitError::Removed => {
                Error::Unauthorized("the mediator removed you from this session")
            }
            AdmitError::Draining => Error::Unavailable(
                "this server is shutting down and opens no new room; try again shortly".into(),
            ),
        })?;
    let participant_id = admission.participant.id.clone();
    let joined = state
        .sfu()
        .join(JoinRequest {
            room: RoomId::new(&claims.room),
            participant: ParticipantId::new(&participant_id),
            can_publish: direction == Direction::Publish,
            // A WHEP player cannot renegotiate, so nothing is offered to it after its
            // one answer; what it watches is bound in that answer.
            can_subscribe: false,
            space: accord_sfu::Space::MAIN,
        })
        .await;
    let leave = |state: &AppState| {
        state
            .rooms()
            .remove(&claims.room, &participant_id, LeaveReason::Disconnected)
    };
    let joined = match joined {
        Ok(j) => j,
        Err(e) => {
            leave(&state);
            return Err(e.into());
        }
    };
    let answer = match direction {
        Direction::Publish => joined.handle.offer(offer, Vec::new()).await,
        Direction::Watch => {
            joined
                .handle
                .viewer_offer(offer, watch.map(ParticipantId::new))
                .await
        }
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            leave(&state);
            return Err(e.into());
        }
    };
    // The node's id first: any node can tell where a later PATCH or DELETE is to go.
    let id = format!(
        "{}{ID_SEPARATOR}{}",
        state.cluster().node_id(),
        accord_sfu::random_token(24)
    );
    let etag = new_etag();
    state.resources().lock().insert(
        id.clone(),
        Resource {
            direction,
            room: claims.room.clone(),
            key,
            identity: claims.sub.clone(),
            participant_id,
            handle: Arc::new(joined.handle),
            etag: etag.clone(),
            client_ufrag,
        },
    );
    tokio::spawn(watch_session(
        state.clone(),
        id.clone(),
        joined.events,
        admission.notices,
    ));
    // Seated: the room is live, and its placement stays while it is.
    drop(placed);
    let location = format!("/{}/{id}", direction.path());
    let mut response = (StatusCode::CREATED, answer).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    let servers = accord_sfu::ice_servers_for(
        &state.config().ice_servers,
        state.config().turn.as_ref(),
        &claims.sub,
    );
    for server in &servers {
        for url in &server.urls {
            let mut link = format!("<{url}>; rel=\"ice-server\"");
            if let (Some(u), Some(c)) = (&server.username, &server.credential) {
                link.push_str(&format!(
                    "; username=\"{u}\"; credential=\"{c}\"; credential-type=\"password\""
                ));
            }
            if let Ok(v) = HeaderValue::from_str(&link) {
                h.append(header::LINK, v);
            }
        }
    }
    Ok(response)
}

/// Ends the session when its media dies; room notices are not relayed (HTTP has no channel
/// for them).
async fn watch_session(
    state: AppState,
    id: String,
    mut events: tokio::sync::mpsc::Receiver<SfuEvent>,
    mut notices: crate::rooms::Notices,
) {
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(SfuEvent::MediaLost) | None => break,
                Some(SfuEvent::Connected { after }) => state.metrics().observe_join(after),
                Some(_) => {}
            },
            notice = notices.recv() => match notice {
                Some(Notice::YouAreGone(..)) | None => {
                    let removed = state.resources().lock().remove(&id);
                    if let Some(r) = removed {
                        crate::rooms::release_if_gone(&state, &r.room, &r.key).await;
                    }
                    return;
                }
                Some(_) => {}
            },
        }
    }
    state
        .resources()
        .end(&state, &id, LeaveReason::Disconnected)
        .await;
}

/// Refuses with 404 a resource that is not `bearer`'s own of that direction.
fn owned_resource(
    state: &AppState,
    JoinBearer(claims): &JoinBearer,
    id: &str,
    direction: Direction,
) -> Result<()> {
    let resources = state.resources().lock();
    match resources.get(id) {
        Some(r)
            if r.direction == direction && r.identity == claims.sub && r.room == claims.room =>
        {
            Ok(())
        }
        _ => Err(Error::NotFound("no such session")),
    }
}

async fn trickle(
    state: AppState,
    bearer: JoinBearer,
    headers: HeaderMap,
    id: String,
    body: Bytes,
    direction: Direction,
) -> Result<Response> {
    if let Some(answer) = on_its_node(
        &state,
        &id,
        direction,
        Method::PATCH,
        &headers,
        body.clone(),
    )
    .await
    {
        return answer;
    }
    owned_resource(&state, &bearer, &id, direction)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/trickle-ice-sdpfrag") {
        return Err(Error::UnsupportedMediaType(
            "send candidates as application/trickle-ice-sdpfrag",
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| Error::BadRequest("the fragment is not UTF-8".into()))?;
    let fragment = parse_sdpfrag(text);
    let handle = {
        let resources = state.resources().lock();
        let r = resources
            .get(&id)
            .ok_or(Error::NotFound("no such session"))?;
        check_if_match(&headers, &r.etag)?;
        // New credentials ask for an ICE restart (RFC 9725 §4.3.1). Our engine keeps one
        // ICE username per connection (it routes media by it), so it cannot answer with new
        // credentials as RFC 8839 requires; the session goes on, and a client that must
        // restart opens a new one.
        if fragment
            .ufrag
            .as_ref()
            .is_some_and(|u| r.client_ufrag.as_ref() != Some(u))
        {
            return Err(Error::Unprocessable {
                code: "ice_restart_unsupported",
                message: "this server cannot restart ICE on a session; the session goes on \
                          unchanged, or DELETE it and POST a new offer"
                    .into(),
            });
        }
        Arc::clone(&r.handle)
    };
    for candidate in fragment.candidates {
        handle.add_candidate(candidate).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn trickle_whip(
    State(state): State<AppState>,
    Path(id): Path<String>,
    bearer: JoinBearer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    trickle(state, bearer, headers, id, body, Direction::Publish).await
}

async fn trickle_whep(
    State(state): State<AppState>,
    Path(id): Path<String>,
    bearer: JoinBearer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    trickle(state, bearer, headers, id, body, Direction::Watch).await
}

async fn hang_up(
    state: AppState,
    bearer: JoinBearer,
    headers: HeaderMap,
    id: String,
    direction: Direction,
) -> Result<Response> {
    if let Some(answer) = on_its_node(
        &state,
        &id,
        direction,
        Method::DELETE,
        &headers,
        Bytes::new(),
    )
    .await
    {
        return answer;
    }
    owned_resource(&state, &bearer, &id, direction)?;
    state.resources().end(&state, &id, LeaveReason::Left).await;
    Ok(StatusCode::OK.into_response())
}

async fn hang_up_whip(
    State(state): State<AppState>,
    Path(id): Path<String>,
    bearer: JoinBearer,
    headers: HeaderMap,
) -> Result<Response> {
    hang_up(state, bearer, headers, id, Direction::Publish).await
}

async fn hang_up_whep(
    State(state): State<AppState>,
    Path(id): Path<String>,
    bearer: JoinBearer,
    headers: HeaderMap,
) -> Result<Response> {
    hang_up(state, bearer, headers, id, Direction::Watch).await
}

/// A `PATCH` or `DELETE` of a resource another node holds (its id names the node), sent on
/// to that node; `None` for a resource of this node.
async fn on_its_node(
    state: &AppState,
    id: &str,
    direction: Direction,
    method: Method,
    headers: &HeaderMap,
    body: Bytes,
) -> Option<Result<Response>> {
    let node = elsewhere(state, id)?;
    let path = format!("/{}/{id}", direction.path());
    Some(send_on(state, Relay::Resource(node), method, &path, headers, body).await)
}
