//! Join links: a join token signed with the server's secret, in the fragment of a link to
//! the service's public address. Signing is deterministic, so an invite's link is rebuilt
//! from its row whenever staff want to copy it again, and nothing secret is stored.

use crate::AppState;
use accord_cases::Result;
use accord_cases::store::model::{Case, Invite, Party, Session, Staff};
use accord_cases::store::now_ms;
use accord_cases::tokens::{JoinClaims, Role};

/// A mediator's own seat lasts a working day.
const MEDIATOR_TTL_SECONDS: u64 = 10 * 3600;

/// Where links point: the configured public address (the binary derives one from its
/// listen address when none is set). Never the request's `Host` header: whoever sends the
/// request chooses that, and the link goes out by SMS under the organisation's name.
pub(super) fn base_url(state: &AppState) -> String {
    state
        .config()
        .public_url
        .clone()
        .unwrap_or_else(|| "http://localhost:8080".to_owned())
}

/// The link that lets `token`'s bearer join.
pub(super) fn join_link(base_url: &str, token: &str) -> String {
    // The token rides in the fragment: it never reaches server logs, proxies or Referer.
    format!("{base_url}/join#token={token}")
}

/// The party's join token for their invite: it names the case, the session, the person
/// (`sub` = party id) and the invite (`inv`), and lives as long as the invite.
pub(super) fn invite_token(
    state: &AppState,
    invite: &Invite,
    party: &Party,
    session: &Session,
) -> Result<String> {
    let issued = u64::try_from(invite.issued_at).unwrap_or_default();
    state.keys().sign(&JoinClaims {
        sub: party.id.to_string(),
        name: party.name.clone(),
        room: session.room.clone(),
        role: Role::Party,
        can_publish: true,
        can_subscribe: true,
        hidden: false,
        case: Some(invite.case_id.to_string()),
        session: Some(invite.session_id.to_string()),
        inv: Some(invite.id.to_string()),
        aud: String::new(),
        iat: issued,
        // Phone clocks run a little behind.
        nbf: issued.saturating_sub(300),
        exp: u64::try_from(invite.expires_at).unwrap_or_default(),
    })
}

/// The mediator's own join token for a session they open: valid for a working day, and
/// only while their staff account is enabled (checked at every join).
pub(super) fn mediator_token(
    state: &AppState,
    mediator: &Staff,
    case: &Case,
    session: &Session,
) -> Result<String> {
    let now = u64::try_from(now_ms() / 1000).unwrap_or_default();
    state.keys().sign(&JoinClaims {
        sub: mediator.id.to_string(),
        name: mediator.display_name.clone(),
        room: session.room.clone(),
        role: Role::Mediator,
        can_publish: true,
        can_subscribe: true,
        hidden: false,
        case: Some(case.id.to_string()),
        session: Some(session.id.to_string()),
        inv: None,
        aud: String::new(),
        iat: now,
        nbf: now.saturating_sub(5),
        exp: now + MEDIATOR_TTL_SECONDS,
    })
}
