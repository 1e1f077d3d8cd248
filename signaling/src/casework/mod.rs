//! The staff API around case records: organisations and staff accounts (administrators),
//! cases with their parties, sessions and evidence, and invites to sessions.
//!
//! Every handler's signature says who may call it: a [`StaffSession`] (anyone signed in;
//! 401 without a valid access token) or one of the role-checked extractors of
//! [`crate::staff::roles`] (403 for another role), such as [`crate::staff::CaseWorker`]. It
//! reaches records only through `visible_case`, which answers 404 for a case of another
//! organisation or court, so nobody learns that it exists.

mod admin;
mod cases;
mod files;
mod invites;
mod session_record;

use accord_cases::access::Viewer;
use accord_cases::validate::Problems;
use accord_cases::{CaseId, PartyId};
use axum::Router;

pub(crate) use files::{evidence_record, read_upload, serve_evidence};
pub use invites::{check_join, check_party_link, check_staff_seat};

use crate::AppState;
use crate::error::{Error, Result};
use crate::staff::StaffSession;
use accord_cases::store::model::{Case, Party};

/// Every case-work route; an evidence upload's body may be at most `upload_limit` bytes.
pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .merge(admin::router())
        .merge(cases::router())
        .merge(files::router(upload_limit))
        .merge(invites::router())
        .merge(session_record::router())
}

impl StaffSession {
    /// The bearer as the domain's rules of who may see what know them.
    pub fn viewer(&self) -> Viewer<'_> {
        Viewer {
            id: &self.0.sub,
            role: self.0.role,
            organisation_id: self.0.organisation_id.as_ref(),
            court: self.0.court.as_deref(),
        }
    }
}

/// Whether the bearer sees every organisation's records (an administrator of none).
fn sees_everything(session: &StaffSession) -> bool {
    session.viewer().sees_everything()
}

/// The case `id` if the bearer may see it; 404 if it does not exist or is not theirs.
async fn visible_case(state: &AppState, session: &StaffSession, id: &str) -> Result<Case> {
    let id = CaseId::from(id);
    Ok(state.store().visible_case(&session.viewer(), &id).await?)
}

/// A party as the bearer may see them: the phone masked (`138****5678`) unless
/// [`Viewer::sees_phones_of`] the case.
fn shown(session: &StaffSession, case: &Case, mut party: Party) -> Party {
    if !session.viewer().sees_phones_of(case) {
        party.phone = party.phone.as_deref().map(accord_cases::store::mask_phone);
    }
    party
}

/// The party `id` if it belongs to `case`; a 422 on `party_id` otherwise (it was sent in a
/// body, so it is a wrong field, not a missing page).
async fn party_of(state: &AppState, case: &Case, id: &str) -> Result<Party> {
    match state
        .store()
        .party(&PartyId::from(id))
        .await
        .map_err(Error::from)
    {
        Ok(party) if party.case_id == case.id => Ok(party),
        Ok(_) | Err(Error::NotFound(_)) => {
            Err(Error::field("party_id", "not a party of this case"))
        }
        Err(other) => Err(other),
    }
}

use crate::error::{JsonBody as Body, json_body as body};
