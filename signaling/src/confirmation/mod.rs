//! Judicial confirmation (司法确认) at the edge. The rules and records are the domain's
//! ([`accord_cases::confirmation`] and the store); this module finds who is calling, builds
//! the package when the last party has applied, tells people what changed, and serves the
//! documents.
//!
//! The parties' side:
//! - [`view`]: the ConfirmationView every party route answers with, computed for the caller.
//! - [`apply`]: a party (or their representative with a power of attorney) applies; the last
//!   application submits the request.
//! - [`identity`]: the parties' proofs of identity (身份证明), sealed in the blob store, for
//!   the package.
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
//! Who may call: [`LinkCaller`], the agreement routes' [`Caller`] with a party's link taken as
//! reads take it: staff access tokens, and parties' join tokens of the case including a
//! session link of an ended session and a case link (a join token with a case and no session,
//! minted by [`links`]), which seats nobody.

pub mod apply;
pub mod assemble;
pub mod callbacks;
pub mod config;
pub mod connector;
pub mod court_choice;
pub mod court_files;
pub mod decisions;
pub mod documents;
pub mod identity;
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
use crate::error::{Error, Result};
use crate::limits::Limiter;
use accord_cases::ConfirmationRequestId;
use accord_cases::agreements::model::Agreement;
use accord_cases::confirmation::model::ConfirmationRequest;
use accord_cases::store::model::{Case, StaffRole};

/// Every confirmation route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(view::router())
        .merge(apply::router())
        .merge(court_choice::router())
        .merge(links::router())
        .merge(documents::router())
        .merge(identity::router())
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
    /// Proofs of identity uploaded or removed per caller: each upload is held in memory and
    /// sealed.
    pub identity: Limiter,
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
            identity: Limiter::new(20, Duration::from_secs(10 * 60)),
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

pub use crate::agreements::caller::Caller;

const NO_REQUEST: Error = Error::NotFound("no such confirmation request");

/// The caller of a confirmation route: staff, or a party by a case link or a session link,
/// also of an ended session (parties apply after the session;
/// [`crate::casework::check_party_link`]), never a revoked or expired one.
#[derive(Clone, Debug)]
pub struct LinkCaller(pub Caller);

impl FromRequestParts<AppState> for LinkCaller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        Ok(Self(Caller::from_parts(parts, state, true).await?))
    }
}

impl Caller {
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
        let (agreement, case) = match self.agreement(state, request.agreement_id.as_str()).await {
            Ok(found) => found,
            Err(Error::NotFound(_)) => return Err(NO_REQUEST),
            Err(other) => return Err(other),
        };
        if self.is_court() && !self.court_of(&request) {
            return Err(NO_REQUEST);
        }
        Ok((request, agreement, case))
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
}
