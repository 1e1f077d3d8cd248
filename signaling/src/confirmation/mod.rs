//! Judicial confirmation (司法确认) at the edge. The rules and records are the domain's
//! ([`accord_cases::confirmation`] and the store); this module finds who is calling, builds
//! the package when the last party has applied, tells people what changed, and serves the
//! documents.
//!
//! The parties' side:
//! - [`view`]: the ConfirmationView every party route answers with, computed for the caller.
//! - [`apply`]: a party (or their representative with a power of attorney) applies; the last
//!   application submits the request.
//! - [`court_choice`]: the mediator changes the proposed court, with a reason.
//! - [`links`]: case links, so parties reach the confirmation after their session ended.
//! - [`assemble`]: reads everything the package needs and builds it and the 申请书.
//! - [`documents`]: the 申请书 PDF, the package ZIP and the ruling.
//! - [`notices`]: each status change notified to the parties and to the live sessions.
//! - [`window_sweep`]: the 30-day window's warnings, 7 and 2 days before it closes.
//!
//! The court's side:
//! - [`inbox`], [`decisions`], [`court_files`]: court users' inbox with the court's clocks,
//!   their decisions (accept, extend, the ruling, confirm, reject) and the package's files.
//! - [`connector`]: delivers packages from the outbox to a court's own system, with retries.
//! - [`callbacks`]: a court system's signed status callbacks.
//! - [`config`]: `[confirmation]`: retries and the court systems with their keys.
//!
//! Who may call: [`Caller`] accepts staff access tokens and parties' join tokens of the case,
//! including a session link of an ended session and a case link (a join token with a case and
//! no session, minted by [`links`]), which no other route accepts as a party's.

pub mod apply;
pub mod assemble;
pub mod callbacks;
pub mod config;
pub mod connector;
pub mod court_choice;
pub mod court_files;
pub mod decisions;
pub mod documents;
pub mod inbox;
pub mod links;
pub mod notices;
pub mod view;
pub mod window_sweep;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::AppState;
use crate::auth::bearer_token;
use crate::error::{Error, Result};
use crate::limits::Limiter;
use crate::staff::StaffSession;
use accord_cases::agreements::model::Agreement;
use accord_cases::confirmation::model::ConfirmationRequest;
use accord_cases::store::model::{Actor, Case, StaffRole};
use accord_cases::tokens::{JoinClaims, Role};
use accord_cases::{AgreementId, ConfirmationRequestId, InviteId, PartyId};

/// Every confirmation route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(view::router())
        .merge(apply::router())
        .merge(court_choice::router())
        .merge(links::router())
        .merge(documents::router())
        .merge(inbox::router())
        .merge(decisions::router())
        .merge(court_files::router())
        .merge(callbacks::router())
}

/// Starts the confirmation's background work on this node: the window's warnings, and the
/// connector delivering packages to the courts' systems.
pub fn spawn_background(state: &AppState) {
    tokio::spawn(window_sweep::run(state.clone()));
    if let Err(e) = connector::spawn(state.clone()) {
        tracing::error!(error = %e, "cannot start the confirmation connector; packages wait in the outbox");
    }
}

/// Rate limits of the confirmation routes, per node, held with the others in
/// [`crate::limits::Limits`].
#[derive(Debug)]
pub struct ConfirmationLimits {
    /// Applications per caller: each may build a package.
    pub apply: Limiter,
    /// Court changes per mediator.
    pub court_choice: Limiter,
    /// Case links minted and sent, per case: each sends a message to every party.
    pub links: Limiter,
    /// Documents (申请书, package, ruling) per caller: a package is large.
    pub documents: Limiter,
    /// Views per caller.
    pub views: Limiter,
    /// Court decisions per court user.
    pub decisions: Limiter,
    /// Court systems' callbacks per client address: the route has no bearer, and each
    /// refusal writes an audit entry.
    pub callbacks: Limiter,
}

impl Default for ConfirmationLimits {
    fn default() -> Self {
        let minute = Duration::from_secs(60);
        Self {
            apply: Limiter::new(10, minute),
            court_choice: Limiter::new(10, minute),
            links: Limiter::new(3, Duration::from_secs(10 * 60)),
            documents: Limiter::new(30, minute),
            views: Limiter::new(120, minute),
            decisions: Limiter::new(30, minute),
            callbacks: Limiter::new(120, minute),
        }
    }
}

/// Counts a hit of `key` on `limiter`, refusing with 429 once its window is used up.
pub fn hit(limiter: &Limiter, key: &str) -> Result<()> {
    limiter.hit(key, Instant::now())
}

/// This node's confirmation limits.
pub fn limits(state: &AppState) -> &ConfirmationLimits {
    &state.limits().confirmation
}

/// The caller of a confirmation route.
#[derive(Clone, Debug)]
pub enum Caller {
    /// A signed-in staff member: the case's mediators and administrators, or a court user of
    /// the court the request was sent to.
    Staff(StaffSession),
    /// A party or representative of a case, by a session link or a case link.
    Party(JoinClaims),
}

const NO_AGREEMENT: Error = Error::NotFound("no such agreement");
const NO_REQUEST: Error = Error::NotFound("no such confirmation request");
const LINK_INVALID: Error =
    Error::Unauthorized("this link is no longer valid; ask the mediator for a new one");

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer_token(&parts.headers).ok_or(Error::Unauthorized(
            "send a staff access token or your link's token as a bearer token",
        ))?;
        match state.keys().verify(token) {
            Ok(claims) => {
                check_party_link(state, &claims).await?;
                Ok(Caller::Party(claims))
            }
            Err(_) => Ok(Caller::Staff(
                StaffSession::from_request_parts(parts, state).await?,
            )),
        }
    }
}

/// A join token as read-only routes about a case after its session take it (the agreement
/// as a party's phone shows it when the session ended, its PDF): a party's token as
/// [`Caller`] takes it (a case link, or a session link even of an ended session, never a
/// revoked or expired one), anyone else's as joining a room does
/// ([`crate::casework::check_join`]).
#[derive(Clone, Debug)]
pub struct CaseReader(pub JoinClaims);

impl FromRequestParts<AppState> for CaseReader {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer_token(&parts.headers)
            .ok_or(Error::Unauthorized("send the join token as a bearer token"))?;
        let claims = state.keys().verify(token)?;
        if claims.role == Role::Party && claims.case.is_some() {
            check_party_link(state, &claims).await?;
        } else {
            crate::casework::check_join(state, &claims).await?;
        }
        Ok(Self(claims))
    }
}

/// A party's join token admits here when it names the case and the party still belongs to
/// it, and either is a case link (no session, no invite, no room: only this server mints
/// tokens with a case, so nobody else can make one) or comes from an invite that was neither
/// revoked nor has expired. Unlike joining a room, a session that has ended does not shut the
/// link: parties apply after the session.
pub async fn check_party_link(state: &AppState, claims: &JoinClaims) -> Result<()> {
    let Some(case) = claims.case.as_deref() else {
        return Err(Error::Forbidden(
            "only a party of the case acts on its confirmation with a link; staff sign in",
        ));
    };
    if claims.role != Role::Party {
        return Err(Error::Forbidden(
            "only a party of the case acts on its confirmation with a link; staff sign in",
        ));
    }
    match (claims.session.as_deref(), claims.inv.as_deref()) {
        (None, None) if claims.room.is_empty() => {}
        (Some(session), Some(invite)) => {
            let invite = match state.store().invite(&InviteId::from(invite)).await {
                Ok(invite) => invite,
                Err(accord_cases::Error::NotFound(_)) => return Err(LINK_INVALID),
                Err(other) => return Err(other.into()),
            };
            // The token's own lifetime is checked against the real clock; so is the invite's.
            let now_seconds = accord_cases::store::now_ms() / 1000;
            if !invite.is_active(now_seconds)
                || invite.session_id.as_str() != session
                || invite.case_id.as_str() != case
            {
                return Err(LINK_INVALID);
            }
        }
        _ => return Err(LINK_INVALID),
    }
    match state
        .store()
        .party(&PartyId::from(claims.sub.as_str()))
        .await
    {
        Ok(party) if party.case_id.as_str() == case => Ok(()),
        Ok(_) | Err(accord_cases::Error::NotFound(_)) => Err(LINK_INVALID),
        Err(other) => Err(other.into()),
    }
}

impl Caller {
    /// The agreement `id` and its case, if the caller may see them; 404 otherwise, so nobody
    /// learns that an agreement of another case exists. Court users see the cases sent to
    /// their court.
    pub async fn agreement(&self, state: &AppState, id: &AgreementId) -> Result<(Agreement, Case)> {
        match self {
            Caller::Staff(session) => Ok(state
                .store()
                .visible_agreement(&session.viewer(), id)
                .await?),
            Caller::Party(claims) => {
                let agreement = match state.store().agreement(id).await {
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

    /// The request `id` with its agreement and case, if the caller may see them; a court
    /// user only when the request went to their court.
    pub async fn request(
        &self,
        state: &AppState,
        id: &str,
    ) -> Result<(ConfirmationRequest, Agreement, Case)> {
        let request = match state
            .store()
            .confirmation_request(&ConfirmationRequestId::from(id))
            .await
        {
            Ok(request) => request,
            Err(accord_cases::Error::NotFound(_)) => return Err(NO_REQUEST),
            Err(other) => return Err(other.into()),
        };
        let (agreement, case) = match self.agreement(state, &request.agreement_id).await {
            Ok(found) => found,
            Err(Error::NotFound(_)) => return Err(NO_REQUEST),
            Err(other) => return Err(other),
        };
        if self.is_court() && !self.court_of(&request) {
            return Err(NO_REQUEST);
        }
        Ok((request, agreement, case))
    }

    /// The audit-trail actor.
    pub fn actor(&self) -> Actor {
        match self {
            Caller::Staff(session) => session.actor(),
            Caller::Party(claims) => Actor::Party(PartyId::from(claims.sub.as_str())),
        }
    }

    /// The caller's identity (`PT_…`, `ST_…`), for rate-limit keys.
    pub fn identity(&self) -> &str {
        match self {
            Caller::Staff(session) => &session.sub,
            Caller::Party(claims) => &claims.sub,
        }
    }

    /// The party the caller is, for parties.
    pub fn party_id(&self) -> Option<PartyId> {
        match self {
            Caller::Party(claims) => Some(PartyId::from(claims.sub.as_str())),
            Caller::Staff(_) => None,
        }
    }

    /// Whether the caller is a court user.
    pub fn is_court(&self) -> bool {
        matches!(self, Caller::Staff(s) if s.role == StaffRole::Court)
    }

    /// Whether the caller is a court user of the court `request` went to.
    pub fn court_of(&self, request: &ConfirmationRequest) -> bool {
        match self {
            Caller::Staff(s) if s.role == StaffRole::Court => {
                s.court.is_some() && s.court.as_deref() == request.court.as_deref()
            }
            _ => false,
        }
    }

    /// Whether the caller mediates `case` (its organisation's mediators): they choose the
    /// court, send the links and download the package.
    pub fn mediates(&self, case: &Case) -> bool {
        matches!(self, Caller::Staff(s)
            if s.role == StaffRole::Mediator && s.viewer().may_edit_agreement(case))
    }

    /// The staff member, refused unless they mediate `case`.
    pub fn mediator_of(&self, case: &Case) -> Result<&StaffSession> {
        match self {
            Caller::Staff(session) if self.mediates(case) => Ok(session),
            _ => Err(Error::Forbidden(
                "only a mediator of this case's organisation does this",
            )),
        }
    }
}
