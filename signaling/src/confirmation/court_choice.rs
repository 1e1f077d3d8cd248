//! `POST /api/v1/agreements/{id}/confirmation/court`: the mediator changes the court the
//! request goes to, with a reason, until it is submitted. The proposal comes from the venue
//! rules ([`accord_cases::confirmation::venue`]); a party's residence or the subject matter
//! may make another basic-level court competent, which only the mediator can judge.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::view::{ConfirmationView, confirmation_view};
use super::{LinkCaller, hit, limits};
use crate::AppState;
use crate::error::{Error, JsonBody, Result, json_body};
use accord_cases::FieldError;
use accord_cases::confirmation::venue;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/agreements/{id}/confirmation/court", post(choose))
}

#[derive(Debug, Deserialize)]
struct CourtForm {
    court: Option<String>,
    reason: Option<String>,
}

/// `value` trimmed, or a problem when its length in characters is outside `range`.
fn text_between(
    field: &'static str,
    value: Option<&str>,
    range: std::ops::RangeInclusive<usize>,
    problems: &mut Vec<FieldError>,
) -> String {
    let value = value.map(str::trim).unwrap_or_default();
    if !range.contains(&value.chars().count()) {
        problems.push(FieldError::new(
            field,
            format!("{}–{} characters", range.start(), range.end()),
        ));
    }
    value.to_owned()
}

async fn choose(
    State(state): State<AppState>,
    Path(id): Path<String>,
    LinkCaller(caller): LinkCaller,
    body: JsonBody<CourtForm>,
) -> Result<Json<ConfirmationView>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    let mediator = caller.mediator_of(&case)?;
    hit(&limits(&state).court_choice, caller.identity())?;
    let form = json_body(body)?;
    let mut problems = Vec::new();
    let court = text_between("court", form.court.as_deref(), 2..=80, &mut problems);
    let reason = text_between("reason", form.reason.as_deref(), 2..=500, &mut problems);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let organisation = state.store().organisation(&case.organisation_id).await?;
    let proposal = venue::propose(&organisation, &case);
    state
        .store()
        .choose_court(&mediator.actor(), &agreement.id, &court, &reason, &proposal)
        .await?;
    // Everyone may have applied while no court was known: the request goes now.
    super::apply::submit_if_complete(&state, &agreement).await;
    crate::agreements::announce(&state, &case.id);
    Ok(Json(
        confirmation_view(&state, &caller, &agreement, &case).await?,
    ))
}
