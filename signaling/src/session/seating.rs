//! Where a joining person sits, from their token and the case: their side and kind, whom
//! they follow into private rooms, whether they wait to be admitted, and whether they have
//! consented to online mediation yet.

use accord_protocol::ErrorCode;

use super::Refusal;
use crate::AppState;
use crate::rooms::{Seating, SessionLink};
use accord_cases::Error;
use accord_cases::store::model::PartyKind;
use accord_cases::tokens::{JoinClaims, Role};

/// The seating of a verified token, or why it may not sit down.
pub(super) async fn seating(state: &AppState, claims: &JoinClaims) -> Result<Seating, Refusal> {
    let session = match (&claims.case, &claims.session) {
        (Some(case_id), Some(session_id)) => Some(SessionLink {
            case_id: case_id.into(),
            session_id: session_id.into(),
        }),
        _ => None,
    };
    let mut seating = Seating {
        lobby: session.is_some() && claims.role != Role::Mediator && !claims.hidden,
        session,
        ..Seating::default()
    };
    let Some(link) = seating.session.clone() else {
        return Ok(seating);
    };
    if claims.role != Role::Party {
        return Ok(seating);
    }
    let party = match state.store().party(&claims.sub.as_str().into()).await {
        Ok(p) if p.case_id == link.case_id => p,
        Ok(_) | Err(Error::NotFound(_)) => {
            return Err(Refusal::new(
                ErrorCode::InvalidToken,
                "this link names nobody in the case",
                true,
            ));
        }
        Err(e) => return Err(store_failed(e)),
    };
    let consented = state
        .store()
        .consent(&link.case_id, &party.id)
        .await
        .map_err(store_failed)?;
    if consented.is_none() {
        return Err(Refusal::new(
            ErrorCode::ConsentRequired,
            "agree to online mediation and recording first (POST /api/v1/room/consent)",
            true,
        ));
    }
    seating.side = Some(party.side);
    seating.kind = Some(party.kind);
    seating.follows = match party.kind {
        PartyKind::Representative | PartyKind::Interpreter => party.represents.map(String::from),
        _ => None,
    };
    Ok(seating)
}

fn store_failed(e: Error) -> Refusal {
    tracing::error!(error = %e, "the store failed while seating a participant");
    Refusal::new(ErrorCode::Internal, "the server failed; try again", true)
}
