//! Whether a join token still admits, at every join and before every moderator action. The
//! rules are the domain's ([`accord_cases::store::Store::admits`],
//! [`accord_cases::store::Store::check_staff_seat`]); the edge adds only what the live rooms
//! know: who a moderator removed.

use crate::AppState;
use crate::error::{Error, Result};
use accord_cases::StaffId;
use accord_cases::access::Seat;
use accord_cases::tokens::JoinClaims;

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
