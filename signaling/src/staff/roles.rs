//! Who may call a staff endpoint, said in the handler's signature: each extractor here is a
//! [`StaffSession`] (401 without a valid access token of an enabled account) whose role was
//! checked before the handler runs (403 otherwise).
//!
//! - [`StaffSession`]: anyone signed in; the handler or [`accord_cases::access`] decides
//!   what they see.
//! - [`CaseWorker`]: a mediator or an administrator, the people who run cases; court users
//!   only read what was sent to them.
//! - [`Administrator`]: an administrator of an organisation or of the whole service, who
//!   manages staff accounts ([`Administrator::require_manager_of`] narrows it to one
//!   organisation).
//! - [`SystemAdministrator`]: an administrator of no organisation, who manages
//!   organisations.

use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::StaffSession;
use crate::AppState;
use crate::error::{Error, Result};
use accord_cases::store::model::StaffRole;

/// A signed-in mediator or administrator.
#[derive(Clone, Debug)]
pub struct CaseWorker(pub StaffSession);

/// A signed-in administrator, of one organisation or of all.
#[derive(Clone, Debug)]
pub struct Administrator(pub StaffSession);

/// A signed-in administrator of no organisation, who sees and manages every one.
#[derive(Clone, Debug)]
pub struct SystemAdministrator(pub StaffSession);

const NOT_SYSTEM_ADMINISTRATOR: Error =
    Error::Forbidden("only a system administrator manages organisations");

impl Administrator {
    /// Refuses with 403 unless they run the whole service, not one organisation.
    pub fn require_system_wide(&self) -> Result<()> {
        system_wide(self)
    }

    /// Refuses with 403 an organisation's administrator outside `organisation_id`.
    pub fn require_manager_of(&self, organisation_id: Option<&str>) -> Result<()> {
        if self.viewer().sees_everything() || organisation_id == self.organisation_id.as_deref() {
            Ok(())
        } else {
            Err(Error::Forbidden("this belongs to another organisation"))
        }
    }
}

/// Refuses with 403 anyone but an administrator of no organisation.
fn system_wide(session: &StaffSession) -> Result<()> {
    if session.viewer().sees_everything() {
        Ok(())
    } else {
        Err(NOT_SYSTEM_ADMINISTRATOR)
    }
}

/// The signed-in staff member, refused unless `allowed` says yes.
async fn signed_in_as(
    parts: &mut Parts,
    state: &AppState,
    allowed: impl FnOnce(&StaffSession) -> Result<()>,
) -> Result<StaffSession> {
    let session = StaffSession::from_request_parts(parts, state).await?;
    allowed(&session)?;
    Ok(session)
}

impl FromRequestParts<AppState> for CaseWorker {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        signed_in_as(parts, state, |session| {
            session.require_role(&[StaffRole::Mediator, StaffRole::Administrator])
        })
        .await
        .map(Self)
    }
}

impl FromRequestParts<AppState> for Administrator {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        signed_in_as(parts, state, |session| {
            session.require_role(&[StaffRole::Administrator])
        })
        .await
        .map(Self)
    }
}

impl FromRequestParts<AppState> for SystemAdministrator {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        signed_in_as(parts, state, system_wide).await.map(Self)
    }
}

/// Each role extractor is its staff session with a checked role: everything a session
/// offers (`actor`, `viewer`, the claims) is there without unwrapping it.
macro_rules! derefs_to_session {
    ($($extractor:ty),*) => {$(
        impl Deref for $extractor {
            type Target = StaffSession;

            fn deref(&self) -> &StaffSession {
                &self.0
            }
        }
    )*};
}

derefs_to_session!(CaseWorker, Administrator, SystemAdministrator);
