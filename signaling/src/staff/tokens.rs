//! The [`StaffSession`] extractor: the staff access token of a request's bearer header,
//! verified by the domain ([`accord_cases::tokens::staff`], which also says how access and
//! refresh tokens are signed and rotated), with the account checked to be enabled.

use accord_cases::store::model::{Actor, StaffRole};
use accord_cases::tokens::staff::{StaffClaims, verify_access};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::AppState;
use crate::error::{Error, Result};

/// The signed-in staff member of a request, from `Authorization: Bearer <access token>`.
/// Missing, expired, forged, retired-key or wrong-audience tokens are refused with 401.
#[derive(Clone, Debug)]
pub struct StaffSession(pub StaffClaims);

impl StaffSession {
    /// The audit-trail actor.
    pub fn actor(&self) -> Actor {
        Actor::Staff(self.0.sub.clone())
    }

    /// Refuses with 403 unless the bearer has one of `roles`.
    pub fn require_role(&self, roles: &[StaffRole]) -> Result<()> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            Err(Error::Forbidden("your role does not allow this"))
        }
    }

    /// Refuses with 403 unless the bearer belongs to `organisation_id`.
    pub fn require_organisation(&self, organisation_id: &str) -> Result<()> {
        if self.0.organisation_id.as_deref() == Some(organisation_id) {
            Ok(())
        } else {
            Err(Error::Forbidden("this belongs to another organisation"))
        }
    }
}

/// The claims are what handlers read of a session (`session.sub`, `session.role`).
impl std::ops::Deref for StaffSession {
    type Target = StaffClaims;

    fn deref(&self) -> &StaffClaims {
        &self.0
    }
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = crate::auth::bearer_token(&parts.headers)
            .ok_or(Error::Unauthorized("a staff access token is required"))?;
        let claims = verify_access(state.store(), token).await?;
        // A disabled account stops at once, not when its last access token runs out.
        match state.store().staff(&claims.sub).await.map_err(Error::from) {
            Ok(staff) if staff.disabled_at.is_none() => Ok(StaffSession(claims)),
            Ok(_) | Err(Error::NotFound(_)) => {
                Err(Error::Unauthorized("this account has been disabled"))
            }
            Err(other) => Err(other),
        }
    }
}
