//! Who calls an agreement route: a staff member with an access token, or a party with the
//! join token of a session of the agreement's case (a phone that joined the session signs
//! from the same link, without an account). Either way the caller only reaches agreements of
//! cases they may see, and a party acts only as themselves: their identity is the token's
//! subject, never a field of the body.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::AppState;
use crate::auth::bearer_token;
use crate::error::{Error, Result};
use crate::staff::StaffSession;
use accord_cases::agreements::model::Agreement;
use accord_cases::store::SignerRef;
use accord_cases::store::model::{Actor, Case, StaffRole};
use accord_cases::tokens::{JoinClaims, Role};
use accord_cases::{AgreementId, CaseId, PartyId, StaffId};

/// The caller of an agreement route.
#[derive(Clone, Debug)]
pub enum Caller {
    /// A signed-in staff member.
    Staff(StaffSession),
    /// A party (or a party's representative) of a case, by a join token of one of its
    /// sessions.
    Party(JoinClaims),
}

const NO_AGREEMENT: Error = Error::NotFound("no such agreement");

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    /// Reading the agreement (its view, its PDF) outlives the session: a party keeps their
    /// copy and applies for confirmation afterwards. Acting on it needs a seat that still
    /// admits.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let links = parts.method == axum::http::Method::GET;
        Caller::from_parts(parts, state, links).await
    }
}

impl Caller {
    /// The caller of a request. A party's join token must still seat them
    /// ([`crate::casework::check_join`]), unless `links`: then a case link or the session link
    /// of an ended session will do ([`crate::casework::check_party_link`]).
    pub async fn from_parts(parts: &mut Parts, state: &AppState, links: bool) -> Result<Self> {
        let token = bearer_token(&parts.headers).ok_or(Error::Unauthorized(
            "send a staff access token or your link's token as a bearer token",
        ))?;
        // Join tokens are checked without the database; a staff token fails that check on
        // its audience and is then verified as what it is.
        match state.keys().verify(token) {
            Ok(claims) => {
                if links {
                    crate::casework::check_party_link(state, &claims).await?;
                } else {
                    crate::casework::check_join(state, &claims).await?;
                }
                if claims.role != Role::Party || claims.case.is_none() {
                    return Err(Error::Forbidden(
                        "only a party of the case acts on its agreement with a link; staff sign in",
                    ));
                }
                Ok(Caller::Party(claims))
            }
            Err(_) => Ok(Caller::Staff(
                StaffSession::from_request_parts(parts, state).await?,
            )),
        }
    }
}

impl Caller {
    /// The agreement `id` and its case, if the caller may see them; 404 otherwise, so nobody
    /// learns that an agreement of another case exists.
    pub async fn agreement(&self, state: &AppState, id: &str) -> Result<(Agreement, Case)> {
        let id = AgreementId::from(id);
        match self {
            Caller::Staff(session) => Ok(state
                .store()
                .visible_agreement(&session.viewer(), &id)
                .await?),
            Caller::Party(claims) => {
                let agreement = match state.store().agreement(&id).await {
                    Ok(agreement) => agreement,
                    Err(accord_cases::Error::NotFound(_)) => return Err(NO_AGREEMENT),
                    Err(other) => return Err(other.into()),
                };
                if claims.case.as_deref() != Some(agreement.case_id.as_str()) {
                    return Err(NO_AGREEMENT);
                }
                let case = state.store().case(&agreement.case_id).await?;
                Ok((agreement, case))
            }
        }
    }

    /// The caller as a signer: a party as themselves, staff as themselves (the mediator).
    pub fn signer(&self) -> SignerRef {
        match self {
            Caller::Staff(session) => SignerRef::Staff(StaffId::from(session.sub.as_str())),
            Caller::Party(claims) => SignerRef::Party(PartyId::from(claims.sub.as_str())),
        }
    }

    /// The audit-trail actor.
    pub fn actor(&self) -> Actor {
        match self {
            Caller::Staff(session) => session.actor(),
            Caller::Party(claims) => Actor::Party(PartyId::from(claims.sub.as_str())),
        }
    }

    /// The caller's identity (`PT_…`, `ST_…`), for rate-limit keys and the session record.
    pub fn identity(&self) -> &str {
        match self {
            Caller::Staff(session) => &session.sub,
            Caller::Party(claims) => &claims.sub,
        }
    }

    /// The name the session record shows for the caller.
    pub fn name(&self) -> Option<&str> {
        match self {
            Caller::Staff(_) => None,
            Caller::Party(claims) => Some(&claims.name),
        }
    }

    /// The role the session record shows for the caller.
    pub fn role(&self) -> &'static str {
        match self {
            Caller::Staff(session) => session.role.as_str(),
            Caller::Party(_) => Role::Party.as_str(),
        }
    }

    /// The staff member, refused unless they mediate `case` (its mediator or a mediator of
    /// its organisation): attesting, asking about free will and sealing are theirs.
    pub fn mediator_of(&self, case: &Case) -> Result<&StaffSession> {
        match self {
            Caller::Staff(session) if self.mediates(case) => Ok(session),
            _ => Err(Error::Forbidden(
                "only a mediator of this case's organisation does this",
            )),
        }
    }

    /// The party the caller is, for parties.
    pub fn party_id(&self) -> Option<PartyId> {
        match self {
            Caller::Party(claims) => Some(PartyId::from(claims.sub.as_str())),
            Caller::Staff(_) => None,
        }
    }

    /// Whether the caller mediates `case`: its mediator or a mediator of its organisation.
    pub fn mediates(&self, case: &Case) -> bool {
        matches!(self, Caller::Staff(session)
            if session.role == StaffRole::Mediator && session.viewer().may_edit_agreement(case))
    }

    /// The case the caller's join token belongs to, for parties.
    pub fn party_case(&self) -> Option<CaseId> {
        match self {
            Caller::Party(claims) => claims.case.as_deref().map(CaseId::from),
            Caller::Staff(_) => None,
        }
    }
}
