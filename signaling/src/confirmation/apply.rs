//! `POST /api/v1/agreements/{id}/confirmation/apply`: a party, or their representative with
//! a power of attorney, applies for judicial confirmation. The store checks the rules (in
//! force, not about personal status, inside the window, who may apply for whom) and keeps
//! the application; when the last required party has applied, the package and the 申请书 are
//! built and the request is submitted.
//!
//! Building reads every file of the case and may take seconds, so it runs outside any
//! database transaction, after the application is stored: an application once accepted is
//! never lost. If building fails the request stays `applying` with everyone applied, and the
//! next view of the confirmation (by anyone who may see it) tries again.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::view::{ConfirmationView, confirmation_view};
use super::{LinkCaller, hit, limits};
use crate::AppState;
use crate::error::{Error, JsonBody, Result, json_body};
use accord_cases::PartyId;
use accord_cases::agreements::Rule;
use accord_cases::agreements::model::Agreement;
use accord_cases::confirmation::model::{ConfirmationRequest, NewOutbox, RequestStatus};
use accord_cases::store::model::Actor;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/agreements/{id}/confirmation/apply", post(apply))
}

#[derive(Debug, Deserialize)]
struct ApplyForm {
    /// Whom a representative applies for; a party applies for themselves.
    party_id: Option<String>,
    /// 送达地址: where the court serves its documents.
    address: Option<String>,
    /// The applicant's undertakings (voluntary, lawful, true) were read and accepted.
    declarations: Option<bool>,
}

async fn apply(
    State(state): State<AppState>,
    Path(id): Path<String>,
    LinkCaller(caller): LinkCaller,
    body: JsonBody<ApplyForm>,
) -> Result<Json<ConfirmationView>> {
    let form = json_body(body)?;
    let Some(me) = caller.party_id() else {
        return Err(Error::Forbidden(
            "the parties apply themselves, or through a representative with a power of attorney",
        ));
    };
    hit(&limits(&state).apply, caller.identity())?;
    let (agreement, case) = caller.agreement(&state, &id).await?;
    let mut problems = Vec::new();
    let address = form.address.as_deref().map(str::trim).unwrap_or_default();
    if !(2..=200).contains(&address.chars().count()) {
        problems.push(accord_cases::FieldError::new("address", "2–200 characters"));
    }
    if form.declarations != Some(true) {
        problems.push(accord_cases::FieldError::new(
            "declarations",
            "the applicant must accept the undertakings",
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    // A representative names whom they apply for; the store checks that they act for that
    // party with a power of attorney on file.
    let party = form
        .party_id
        .as_deref()
        .map(PartyId::from)
        .unwrap_or_else(|| me.clone());
    let outcome = state
        .store()
        .apply_for_confirmation(
            &caller.actor(),
            &agreement.id,
            &party,
            &me,
            address,
            state.now_ms(),
        )
        .await?;
    crate::agreements::announce(&state, &case.id);
    if outcome.all_applied
        && outcome.request.status == RequestStatus::Applying
        && outcome.request.court.is_some()
        && let Err(e) = submit(&state, &outcome.request).await
    {
        // The applications are stored; the next view builds the package again.
        tracing::error!(request = %outcome.request.id, error = %e, "cannot build the confirmation package now");
    }
    Ok(Json(
        confirmation_view(&state, &caller, &agreement, &case).await?,
    ))
}

/// The requests whose package this node is building, so two views or applications at once
/// build it once.
static BUILDING: Mutex<Option<HashSet<String>>> = Mutex::new(None);

struct Building(String);

impl Building {
    fn start(id: &str) -> Option<Self> {
        let mut building = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
        building
            .get_or_insert_with(HashSet::new)
            .insert(id.to_owned())
            .then(|| Self(id.to_owned()))
    }
}

impl Drop for Building {
    fn drop(&mut self) {
        let mut building = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(set) = building.as_mut() {
            set.remove(&self.0);
        }
    }
}

/// Builds the package and the 申请书 of `request`, whose parties have all applied, and
/// submits it: one store transaction moves it to `submitted`, moves the case to
/// `confirmation_requested` and, when the court has a system Accord delivers to, writes the
/// delivery into the outbox. Returns the request as stored.
pub async fn submit(
    state: &AppState,
    request: &ConfirmationRequest,
) -> Result<ConfirmationRequest> {
    let Some(_building) = Building::start(request.id.as_str()) else {
        return Err(Error::Unavailable(
            "the package is being built; try again in a moment".into(),
        ));
    };
    let built = super::assemble::build(state, request).await?;
    let outbox = request.court.as_deref().and_then(|court| {
        let endpoint = state.config().confirmation.court(court)?.endpoint.clone()?;
        Some(NewOutbox {
            court: court.to_owned(),
            endpoint,
        })
    });
    let submitted = match state
        .store()
        .submit_confirmation(
            &Actor::System,
            &request.id,
            (built.package_sha256.as_str(), built.package_size),
            &built.application_sha256,
            outbox,
            state.now_ms(),
        )
        .await
    {
        Ok(submitted) => submitted,
        // Another node submitted it first: what is stored stands.
        Err(accord_cases::Error::Rule(Rule::RequestSubmitted | Rule::RequestState)) => {
            return Ok(state.store().confirmation_request(&request.id).await?);
        }
        Err(other) => return Err(other.into()),
    };
    super::notices::status_changed(state, &submitted);
    Ok(submitted)
}

/// Submits `agreement`'s request if every required party has applied but it was not
/// submitted (its package could not be built then). Errors are logged: the caller only
/// wanted to look.
pub async fn submit_if_complete(state: &AppState, agreement: &Agreement) {
    let attempt = async {
        let Some(request) = state
            .store()
            .confirmation_of_agreement(&agreement.id)
            .await?
        else {
            return Ok(());
        };
        // Without a court (none configured, none chosen yet) there is nowhere to submit to;
        // choosing one submits.
        if request.status != RequestStatus::Applying || request.court.is_none() {
            return Ok(());
        }
        let applied = state.store().confirmation_applicants(&request.id).await?;
        let required = state.store().required_applicants(&agreement.id).await?;
        let complete = !required.is_empty()
            && required
                .iter()
                .all(|p| applied.iter().any(|a| a.party_id == p.id));
        if complete {
            submit(state, &request).await?;
        }
        Ok::<(), Error>(())
    };
    if let Err(e) = attempt.await {
        tracing::warn!(agreement = %agreement.id, error = %e, "cannot submit a complete confirmation request now");
    }
}
