//! `/api/v1/organisations` and `/api/v1/staff`: what administrators manage.
//!
//! A system administrator (no organisation) creates organisations and accounts anywhere;
//! an organisation's administrator manages the accounts of that organisation only, and its
//! recording policy.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{Body, body, sees_everything};
use crate::AppState;
use crate::error::{Error, Result};
use crate::staff::{Administrator, CaseWorker, StaffSession, SystemAdministrator};
use accord_cases::forms::recordings::RecordingPolicyForm;
use accord_cases::forms::staff::{OrganisationForm, StaffForm};
use accord_cases::staff_password::hash_password_blocking;
use accord_cases::store::model::{Organisation, StaffRole};
use accord_cases::tokens::sign_in::StaffView;
use accord_cases::{OrganisationId, StaffId};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/organisations",
            get(organisations).post(create_organisation),
        )
        .route(
            "/api/v1/organisations/{id}/recording-policy",
            patch(set_recording_policy),
        )
        .route("/api/v1/staff", get(staff_list).post(create_staff))
        .route("/api/v1/staff/{id}/disable", post(disable_staff))
}

#[derive(Debug, Serialize)]
struct Items<T> {
    items: Vec<T>,
}

async fn organisations(
    State(state): State<AppState>,
    session: StaffSession,
) -> Result<Json<Items<Organisation>>> {
    let items = if sees_everything(&session) {
        state.store().organisations().await?
    } else if let Some(own) = &session.organisation_id {
        vec![state.store().organisation(own).await?]
    } else {
        Vec::new()
    };
    Ok(Json(Items { items }))
}

async fn create_organisation(
    State(state): State<AppState>,
    session: SystemAdministrator,
    form: Body<OrganisationForm>,
) -> Result<(StatusCode, Json<Organisation>)> {
    let new = body(form)?.validate()?;
    let org = state
        .store()
        .create_organisation(&session.actor(), new)
        .await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// Whether the organisation's private rooms are recorded and how long its recordings are
/// kept: its own administrators or a system administrator decide.
async fn set_recording_policy(
    State(state): State<AppState>,
    session: Administrator,
    Path(id): Path<OrganisationId>,
    form: Body<RecordingPolicyForm>,
) -> Result<Json<Organisation>> {
    session.require_manager_of(Some(id.as_str()))?;
    let current = state.store().organisation(&id).await?;
    let policy = body(form)?.validate(current.recording_policy())?;
    let org = state
        .store()
        .set_recording_policy(&session.actor(), &id, policy)
        .await?;
    Ok(Json(org))
}

#[derive(Debug, Default, Deserialize)]
struct StaffQuery {
    organisation_id: Option<String>,
}

async fn staff_list(
    State(state): State<AppState>,
    // Mediators see their colleagues (to assign a case); administrators manage them.
    session: CaseWorker,
    query: std::result::Result<Query<StaffQuery>, QueryRejection>,
) -> Result<Json<Items<StaffView>>> {
    let Query(query) = query.map_err(|e| Error::BadRequest(e.body_text()))?;
    let organisation = if sees_everything(&session) {
        query
            .organisation_id
            .filter(|o| !o.is_empty())
            .map(OrganisationId::from)
    } else {
        let own = session
            .organisation_id
            .clone()
            .ok_or(Error::Forbidden("your account belongs to no organisation"))?;
        if query
            .organisation_id
            .as_deref()
            .is_some_and(|o| o != own.as_str())
        {
            return Err(Error::Forbidden("this belongs to another organisation"));
        }
        Some(own)
    };
    let items = state
        .store()
        .staff_list(organisation.as_ref())
        .await?
        .into_iter()
        .map(StaffView::from)
        .collect();
    Ok(Json(Items { items }))
}

async fn create_staff(
    State(state): State<AppState>,
    session: Administrator,
    form: Body<StaffForm>,
) -> Result<(StatusCode, Json<StaffView>)> {
    let mut account = body(form)?.validate()?;
    let role = account.role;
    // An organisation's administrator adds people to it, and court users only if they run
    // everything.
    let target = account.organisation_id.as_deref();
    if role == StaffRole::Court || (role == StaffRole::Administrator && target.is_none()) {
        session.require_system_wide()?;
    } else {
        session.require_manager_of(target)?;
    }
    if let Some(org) = target {
        match state
            .store()
            .organisation(&OrganisationId::from(org))
            .await
            .map_err(Error::from)
        {
            Ok(_) => {}
            Err(Error::NotFound(_)) => {
                return Err(Error::field("organisation_id", "no such organisation"));
            }
            Err(other) => return Err(other),
        }
    }
    let password_hash = hash_password_blocking(std::mem::take(&mut account.password)).await?;
    let staff = state
        .store()
        .create_staff(&session.actor(), account.into_new_staff(password_hash))
        .await?;
    Ok((StatusCode::CREATED, Json(staff.into())))
}

async fn disable_staff(
    State(state): State<AppState>,
    session: Administrator,
    Path(id): Path<StaffId>,
) -> Result<StatusCode> {
    let staff = state.store().staff(&id).await?;
    session.require_manager_of(staff.organisation_id.as_deref())?;
    if staff.id == session.sub {
        return Err(Error::Conflict(
            "you cannot disable your own account".into(),
        ));
    }
    state.store().disable_staff(&session.actor(), &id).await?;
    // Their seats in rooms open now go at once, on whichever node holds them: a disabled
    // account moderates nothing, and its join token no longer admits it back (see
    // `check_join`). Each node removes its own (`cluster::apply`).
    state
        .cluster()
        .publish(crate::cluster::ClusterEvent::StaffDisabled {
            staff_id: id.to_string(),
        });
    Ok(StatusCode::NO_CONTENT)
}
