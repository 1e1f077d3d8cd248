//! `/api/v1/room/…`: what a participant does over HTTP with their join token: consent to
//! online mediation before their first session, and share a photo or file with the people
//! in their space (it becomes evidence of the case).

use accord_protocol::SharedEvidence;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;
use crate::auth::Participant;
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
    Router::new()
        .route("/api/v1/room/consent", get(consent).post(give_consent))
        .route("/api/v1/room/info", get(info))
        .route(
            "/api/v1/room/evidence",
            post(share).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/v1/room/evidence/{id}", get(fetch))
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
