//! `/api/v1/room/…`: what a participant does over HTTP with their join token: consent to
//! online mediation before their first session, and share a photo or file with the people
//! in their space (it becomes evidence of the case).
//!
//! In a cluster, sharing and fetching a file read the live room (who is seated, what was
//! shown to whom), which lives on the node that owns the session. A request of theirs that
//! reaches another node is sent on to the owner, signed as a relay
//! ([`crate::cluster::relay`]), and the owner's answer is returned as it gave it; the owner
//! serves a relayed request itself. Consent and the greeting read only the case store, so
//! any node answers them (and they work while a dead owner's session is being moved).

use accord_protocol::SharedEvidence;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;
use crate::auth::{Participant, bearer_token};
use crate::cluster::placement_key;
use crate::cluster::send_on::{Sending, owner_elsewhere, relay_to_owner, relayed_here};
use crate::error::{Error, Result};
use crate::evidence::session_share;
use crate::limits::ClientAddress;
use accord_cases::evidence_tally::ShareAsk;
use accord_cases::forms::consent::ConsentForm;
use accord_cases::store::model::{Actor, Evidence, SessionEvent, SessionEventKind};
use accord_cases::store::{CONSENT_VERSION, new_id, next_seq};
use accord_cases::tokens::{JoinClaims, Role};
use accord_cases::{CaseId, PartyId, SessionId, StaffId};

/// The participant routes; a shared file's body may be at most `upload_limit` bytes.
pub fn router(upload_limit: usize) -> Router<AppState> {
    let share_at_owner = move |State(state): State<AppState>, request: Request| {
        at_owner(state, request, upload_limit, share)
    };
    // A fetch has no body to send on.
    let fetch_at_owner =
        |State(state): State<AppState>, request: Request| at_owner(state, request, 0, fetch);
    Router::new()
        .route("/api/v1/room/consent", get(consent).post(give_consent))
        .route("/api/v1/room/info", get(info))
        .route(
            "/api/v1/room/evidence",
            post(share_at_owner).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/v1/room/evidence/{id}", get(fetch_at_owner))
}

/// How long a client has to send the body of a request sent on: a file at the upload
/// limit over a slow phone link, with room to spare.
const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// How long the owner has to take a file, keep it and answer, or to send one back.
const OWNER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// What of a participant's request goes on to the owner.
const PASSED: &[HeaderName] = &[
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT,
    header::ACCEPT_LANGUAGE,
    header::USER_AGENT,
    header::RANGE,
    header::IF_NONE_MATCH,
];

/// Serves `request` with `handler` here, or sends it on (its body at most `body_limit`
/// bytes) to the node that owns its session.
async fn at_owner<H, T>(
    state: AppState,
    request: Request,
    body_limit: usize,
    handler: H,
) -> Response
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let (parts, body) = request.into_parts();
    // The body is not `Sync`: only the parts are looked at across the lookup.
    let owner = token_owner_elsewhere(&state, &parts).await;
    let request = Request::from_parts(parts, body);
    match owner {
        Some(owner) => {
            let sending = Sending {
                body_limit,
                body_deadline: BODY_DEADLINE,
                pass: PASSED,
                deadline: OWNER_DEADLINE,
            };
            relay_to_owner(&state, &owner, request, sending)
                .await
                .unwrap_or_else(IntoResponse::into_response)
        }
        None => handler.call(request, state).await,
    }
}

/// The owner of the session a request's join token names, when that is another node and
/// the request was not relayed here by one ([`owner_elsewhere`]). A request without a valid
/// join token is refused here as anywhere.
async fn token_owner_elsewhere(
    state: &AppState,
    request: &axum::http::request::Parts,
) -> Option<crate::cluster::Placement> {
    if relayed_here(state, request) {
        return None;
    }
    let claims = state.keys().verify(bearer_token(&request.headers)?).ok()?;
    owner_elsewhere(
        state,
        &placement_key(claims.session.as_deref(), &claims.room),
    )
    .await
}

/// What the device check greets someone with, instead of an internal room id: their own
/// case's title, the organisation and its mediator. Nothing about the other parties.
#[derive(Serialize, Default)]
struct RoomInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    case_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organisation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mediator: Option<String>,
}

async fn info(
    State(state): State<AppState>,
    Participant(claims): Participant,
) -> Result<Json<RoomInfo>> {
    // A room that is no case's session has nothing to say beyond the person's own name.
    let Some(case_id) = claims.case.as_deref() else {
        return Ok(Json(RoomInfo::default()));
    };
    let store = state.store();
    let case = store.case(&CaseId::from(case_id)).await?;
    let organisation = store.organisation(&case.organisation_id).await?;
    let mediator = match case.mediator_id.as_ref() {
        Some(id) => Some(store.staff(id).await?.display_name),
        None => None,
    };
    Ok(Json(RoomInfo {
        case_title: Some(case.title),
        organisation: Some(organisation.name),
        mediator,
    }))
}

/// A party of a case: the only ones whose consent is asked.
fn consenting_party(claims: &JoinClaims) -> Option<(CaseId, PartyId)> {
    match (&claims.case, claims.role) {
        (Some(case), Role::Party) => Some((case.into(), (&claims.sub).into())),
        _ => None,
    }
}

#[derive(Serialize)]
struct ConsentState {
    /// The party must consent before joining.
    required: bool,
    /// When they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    consented_at: Option<i64>,
    /// The text version asked for.
    version: &'static str,
}

async fn consent(
    State(state): State<AppState>,
    Participant(claims): Participant,
) -> Result<Json<ConsentState>> {
    let Some((case_id, party_id)) = consenting_party(&claims) else {
        return Ok(Json(ConsentState {
            required: false,
            consented_at: None,
            version: CONSENT_VERSION,
        }));
    };
    let given = state.store().consent(&case_id, &party_id).await?;
    Ok(Json(ConsentState {
        required: given.is_none(),
        consented_at: given.map(|c| c.created_at),
        version: CONSENT_VERSION,
    }))
}

async fn give_consent(
    State(state): State<AppState>,
    address: ClientAddress,
    Participant(claims): Participant,
    headers: HeaderMap,
    body: std::result::Result<Json<ConsentForm>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<ConsentState>)> {
    let Json(body) = body.map_err(|e| Error::BadRequest(e.body_text()))?;
    body.validate()?;
    let (case_id, party_id) = consenting_party(&claims)
        .ok_or(Error::Forbidden("only a party of the case gives consent"))?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let address = address.0.map(|ip| ip.to_string());
    let given = state
        .store()
        .give_consent(
            &case_id,
            &party_id,
            claims.session.clone().map(SessionId::from).as_ref(),
            address.as_deref(),
            user_agent,
        )
        .await?;
    if let Some(session_id) = &claims.session {
        let entry = SessionEvent {
            id: new_id("SV"),
            seq: next_seq(),
            session_id: session_id.into(),
            case_id: case_id.clone(),
            at: given.created_at,
            kind: SessionEventKind::Consent,
            actor_identity: Some(claims.sub.clone()),
            actor_name: Some(claims.name.clone()),
            actor_role: Some(claims.role.as_str().into()),
            subject_identity: None,
            subject_name: None,
            space: None,
            detail: Some(given.version.clone()),
        };
        state.store().append_session_event(&entry).await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(ConsentState {
            required: false,
            consented_at: Some(given.created_at),
            version: CONSENT_VERSION,
        }),
    ))
}

async fn share(
    State(state): State<AppState>,
    Participant(claims): Participant,
    multipart: std::result::Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Evidence>)> {
    let case_id = claims
        .case
        .clone()
        .ok_or(Error::Forbidden("files are shared in case sessions only"))?;
    if state.rooms().seat_of(&claims.room, &claims.sub).is_none() {
        return Err(Error::Conflict(
            "join the session before sharing a file".into(),
        ));
    }
    let limits = state.limits();
    let key = format!("{}/{}", claims.room, claims.sub);
    limits
        .evidence_uploads
        .hit(&key, std::time::Instant::now())?;
    // A session's share, counted per session (its room otherwise).
    let session = claims
        .session
        .clone()
        .unwrap_or_else(|| claims.room.clone());
    session_share(&state, &session, ShareAsk::Room).await?;
    let (file, _) = crate::casework::read_upload(&state, multipart, false).await?;
    // Counted before the blob is kept: a file past the share is dropped unfinished, and
    // leaves nothing behind in the blob store.
    session_share(&state, &session, ShareAsk::Take(file.writer.written())).await?;
    let (actor, party_id) = match claims.role {
        Role::Party => (
            Actor::Party(PartyId::from(&claims.sub)),
            Some(PartyId::from(&claims.sub)),
        ),
        _ => (Actor::Staff(StaffId::from(&claims.sub)), None),
    };
    let record =
        crate::casework::evidence_record(file, CaseId::from(case_id), party_id, &actor).await?;
    let stored = state.store().add_evidence(&actor, record).await?;
    let shown = SharedEvidence {
        id: stored.id.to_string(),
        name: stored.file_name.clone(),
        content_type: stored.media_type.clone(),
        size: stored.size,
        participant_id: String::new(),
        shared_by: String::new(),
        at: stored.created_at,
    };
    // The file is kept with the case either way; a sharer who left meanwhile shows it to
    // nobody.
    if let Err(e) = state
        .rooms()
        .share_evidence(&claims.room, &claims.sub, shown)
    {
        tracing::info!(error = %e, "evidence stored but not shown: the sharer left the room");
    }
    Ok((StatusCode::CREATED, Json(stored)))
}

async fn fetch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Participant(claims): Participant,
) -> Result<Response> {
    let not_shown = Error::NotFound("no such file was shared with you");
    let case_id = claims
        .case
        .as_deref()
        .ok_or(Error::NotFound("no such file"))?;
    if !state
        .rooms()
        .may_fetch_evidence(&claims.room, &claims.sub, &id)
    {
        return Err(not_shown);
    }
    let record = state
        .store()
        .evidence(&CaseId::from(case_id))
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or(not_shown)?;
    crate::casework::serve_evidence(&state, &record).await
}
