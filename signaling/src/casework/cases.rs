//! `/api/v1/cases…`: listing, registering and running cases.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::{Body, body, sees_everything, shown, visible_case};
use crate::AppState;
use crate::error::{Error, Result};
use crate::intake::idempotency_key;
use crate::staff::{CaseWorker, StaffSession};
use accord_cases::StaffId;
use accord_cases::forms::case_list::CaseQuery;
use accord_cases::forms::cases::{
    AssignForm, CaseForm, PartyForm, ScheduleForm, StatusForm, allowed_steps,
};
use accord_cases::store::model::{
    AuditEntry, Case, CaseStatus, Evidence, Organisation, Party, Session, Staff, StaffRole,
};
use accord_cases::store::now_ms;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", get(list).post(create))
        .route("/api/v1/cases/{id}", get(detail))
        .route("/api/v1/cases/{id}/status", post(change_status))
        .route("/api/v1/cases/{id}/assign", post(assign))
        .route("/api/v1/cases/{id}/parties", post(add_party))
        .route("/api/v1/cases/{id}/sessions", post(schedule))
        .route("/api/v1/cases/{id}/audit", get(audit))
}

#[derive(Debug, Serialize)]
struct CaseList {
    items: Vec<CaseListItem>,
    next: Option<String>,
}

/// A case of the list, with its judicial confirmation's badge.
#[derive(Debug, Serialize)]
struct CaseListItem {
    #[serde(flatten)]
    case: Case,
    confirmation: Option<crate::confirmation::view::CaseBadge>,
}

async fn list(
    State(state): State<AppState>,
    session: StaffSession,
    query: std::result::Result<Query<CaseQuery>, QueryRejection>,
) -> Result<Json<CaseList>> {
    let Query(query) = query.map_err(|e| Error::BadRequest(e.body_text()))?;
    let Some(filter) = query.filter_for(&session.viewer())? else {
        return Ok(Json(CaseList {
            items: Vec::new(),
            next: None,
        }));
    };
    let page = state.store().cases(&filter).await?;
    let badges = crate::confirmation::view::case_badges(&state, &page.items).await?;
    let items = page
        .items
        .into_iter()
        .zip(badges)
        .map(|(case, confirmation)| CaseListItem { case, confirmation })
        .collect();
    Ok(Json(CaseList {
        items,
        next: page.next,
    }))
}

#[derive(Debug, Serialize)]
struct CaseDetail {
    case: Case,
    parties: Vec<Party>,
    sessions: Vec<Session>,
    evidence: Vec<Evidence>,
    next_statuses: Vec<CaseStatus>,
    mediator: Option<accord_cases::tokens::sign_in::StaffView>,
    organisation: Organisation,
}

async fn detail_of(state: &AppState, session: &StaffSession, case: Case) -> Result<CaseDetail> {
    let store = state.store();
    let mediator = match &case.mediator_id {
        Some(id) => Some(store.staff(id).await?.into()),
        None => None,
    };
    let parties = store.parties(&case.id).await?;
    Ok(CaseDetail {
        parties: parties
            .into_iter()
            .map(|p| shown(session, &case, p))
            .collect(),
        sessions: store.sessions(&case.id).await?,
        evidence: store.evidence(&case.id).await?,
        next_statuses: allowed_steps(session.role, case.status),
        organisation: store.organisation(&case.organisation_id).await?,
        mediator,
        case,
    })
}

async fn create(
    State(state): State<AppState>,
    session: CaseWorker,
    headers: HeaderMap,
    form: Body<CaseForm>,
) -> Result<(StatusCode, Json<CaseDetail>)> {
    let key = match headers.get("idempotency-key") {
        Some(_) => Some(idempotency_key(&headers)?),
        None => None,
    };
    let form = body(form)?;
    let organisation_id = match (&session.organisation_id, form.organisation_id.clone()) {
        (Some(own), _) => own.clone(),
        (None, Some(chosen)) if sees_everything(&session) => chosen.into(),
        (None, _) => {
            return Err(Error::field(
                "organisation_id",
                "required: the organisation that takes the case",
            ));
        }
    };
    let organisation = match state
        .store()
        .organisation(&organisation_id)
        .await
        .map_err(Error::from)
    {
        Ok(org) => org,
        Err(Error::NotFound(_)) => {
            return Err(Error::field("organisation_id", "no such organisation"));
        }
        Err(other) => return Err(other),
    };
    let (new, parties) = form.validate(&organisation)?;
    let (mut case, created) = state
        .store()
        .register_case(&session.actor(), new, parties, key.as_deref())
        .await?;
    // A mediator who enters a case takes it on: it is theirs, with the assignment in the audit
    // trail like any other, rather than a case that says "未分派" to its own mediator.
    if created && session.role == StaffRole::Mediator {
        case = state
            .store()
            .assign_case(&session.actor(), &case.id, &session.sub)
            .await?;
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(detail_of(&state, &session, case).await?)))
}

async fn detail(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<CaseDetail>> {
    let case = visible_case(&state, &session, &id).await?;
    Ok(Json(detail_of(&state, &session, case).await?))
}

async fn change_status(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    form: Body<StatusForm>,
) -> Result<Json<Case>> {
    let case = visible_case(&state, &session, &id).await?;
    let to = body(form)?.validate(session.role)?;
    Ok(Json(
        state
            .store()
            .transition_case(&session.actor(), &case.id, to)
            .await?,
    ))
}

async fn assign(
    State(state): State<AppState>,
    session: CaseWorker,
    Path(id): Path<String>,
    form: Body<AssignForm>,
) -> Result<Json<Case>> {
    let case = visible_case(&state, &session, &id).await?;
    let mediator_id = StaffId::from(body(form)?.validate()?);
    let usable = |staff: &Staff| {
        staff.role == StaffRole::Mediator
            && staff.disabled_at.is_none()
            && staff.organisation_id.as_deref() == Some(case.organisation_id.as_str())
    };
    match state.store().staff(&mediator_id).await.map_err(Error::from) {
        Ok(staff) if usable(&staff) => {}
        Ok(_) | Err(Error::NotFound(_)) => {
            return Err(Error::field(
                "mediator_id",
                "not an active mediator of the case's organisation",
            ));
        }
        Err(other) => return Err(other),
    }
    Ok(Json(
        state
            .store()
            .assign_case(&session.actor(), &case.id, &mediator_id)
            .await?,
    ))
}

async fn add_party(
    State(state): State<AppState>,
    session: CaseWorker,
    Path(id): Path<String>,
    form: Body<PartyForm>,
) -> Result<(StatusCode, Json<Party>)> {
    let case = visible_case(&state, &session, &id).await?;
    let party = body(form)?.validate()?;
    let added = match state
        .store()
        .add_party(&session.actor(), &case.id, party)
        .await
        .map_err(Error::from)
    {
        Err(Error::NotFound(_)) => Err(Error::field("represents", "not a party of this case")),
        other => other,
    }?;
    Ok((StatusCode::CREATED, Json(shown(&session, &case, added))))
}

async fn schedule(
    State(state): State<AppState>,
    session: CaseWorker,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Body<ScheduleForm>,
) -> Result<(StatusCode, Json<Session>)> {
    let case = visible_case(&state, &session, &id).await?;
    let key = match headers.get("idempotency-key") {
        Some(_) => Some(idempotency_key(&headers)?),
        None => None,
    };
    let at = body(form)?.validate(now_ms())?;
    let (session_record, created) = state
        .store()
        .schedule_session_once(&session.actor(), &case.id, at, key.as_deref())
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(session_record)))
}

#[derive(Debug, Serialize)]
struct AuditList {
    items: Vec<AuditEntry>,
}

async fn audit(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<AuditList>> {
    let case = visible_case(&state, &session, &id).await?;
    let items = state.store().audit_of(&format!("case:{}", case.id)).await?;
    Ok(Json(AuditList { items }))
}
