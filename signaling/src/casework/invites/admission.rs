//! Whether a join token still admits, at every join and before every moderator action. The
//! rules are the domain's ([`accord_cases::store::Store::admits`],
//! [`accord_cases::store::Store::check_staff_seat`]); the edge adds only what the live rooms
//! know: who a moderator removed.

use crate::AppState;
use crate::error::{Error, Result};
use accord_cases::access::Seat;
use accord_cases::tokens::JoinClaims;
use accord_cases::tokens::Role;
use accord_cases::{InviteId, PartyId, StaffId};

/// Refuses a join token the domain's admission rules refuse
/// ([`accord_cases::store::Store::admits`]: a revoked or expired invite, a session that is
/// over or that the bearer was removed from, a mediator's seat whose account was disabled,
/// a token minted without a session for a case session's room), a case link (which opens
/// the case page only), and a bearer a moderator removed from the live room.
pub async fn check_join(state: &AppState, claims: &JoinClaims) -> Result<()> {
    if claims.case.is_some() && claims.session.is_none() {
        // A case link (judicial confirmation) reads the case's agreement; it seats nobody.
        return Err(Error::Unauthorized(
            "this link opens your case page, not a mediation session",
        ));
    }
    let seat = Seat {
        sub: &claims.sub,
        room: &claims.room,
        session: claims.session.as_deref(),
        invite: claims.inv.as_deref(),
        issued_at: claims.iat,
    };
    state.store().admits(&seat).await?;
    // The session record (read above) keeps a removed bearer out on every node. The live
    // room's own list covers the moment before the record's writer has stored the removal;
    // that list is on the node owning the session, where joins and the room's requests that
    // read it are served ([`crate::room_api`]).
    if claims.session.is_some() && state.rooms().is_removed(&claims.room, &claims.sub) {
        return Err(Error::Unauthorized(
            "the mediator removed you from this session",
        ));
    }
    Ok(())
}

/// Refuses a mediator's seat once their staff account is disabled or its tokens were
/// revoked ([`accord_cases::store::Store::check_staff_seat`]): the 10-hour token from
/// starting a session must not outlive either. Checked at every join and before every
/// moderator action.
pub async fn check_staff_seat(state: &AppState, staff_id: &str, issued_at: u64) -> Result<()> {
    Ok(state
        .store()
        .check_staff_seat(&StaffId::from(staff_id), issued_at)
        .await?)
}

const LINK_INVALID: Error =
    Error::Unauthorized("this link is no longer valid; ask the mediator for a new one");

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
