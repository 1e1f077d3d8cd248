//! What anyone may ask without signing in: whether an agreement (named by the SHA-256 of its
//! text, as printed and in the PDF's QR code) is genuine, its status, who signed it when
//! (names masked), and the organisations' seal keys to check a seal with. Never the
//! agreement's content: a hash reveals nothing, and the answer adds only what a holder of
//! the document already sees on it.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::signing_limits::{hit, limits};
use crate::AppState;
use crate::error::{Error, Result};
use crate::limits::ClientAddress;
use accord_cases::confirmation::RequestStatus;
use accord_cases::store::{PublicSigner, SealKey};
use accord_cases::{AgreementId, OrganisationId};

/// The public routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/public/agreements/{text_sha256}", get(status))
        .route(
            "/api/v1/public/organisations/{id}/seal-keys",
            get(seal_keys),
        )
}

/// `GET /public/agreements/{text_sha256}`: for an unknown hash, `genuine: false` and nothing
/// else, so the page can say plainly that no agreement of ours has this text.
#[derive(Serialize)]
struct PublicAnswer {
    genuine: bool,
    status: Option<String>,
    effective_at: Option<i64>,
    organisation: Option<String>,
    signers: Vec<PublicSigner>,
    confirmation: Option<PublicConfirmation>,
}

/// Where the agreement's judicial confirmation stands, once the parties' application went
/// to the court: what a holder of a confirmed agreement shows to whoever must rely on it.
#[derive(Serialize)]
struct PublicConfirmation {
    status: &'static str,
    court: Option<String>,
    decided_at: Option<i64>,
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

async fn status(
    State(state): State<AppState>,
    Path(text_sha256): Path<String>,
    address: ClientAddress,
) -> Result<Json<PublicAnswer>> {
    hit(&limits(&state).public_per_address, &address.key())?;
    let text_sha256 = text_sha256.to_ascii_lowercase();
    if !is_sha256_hex(&text_sha256) {
        return Err(Error::BadRequest(
            "an agreement is named by the SHA-256 of its text: 64 hexadecimal digits".into(),
        ));
    }
    Ok(Json(
        match state.store().public_status(&text_sha256).await? {
            Some(found) => PublicAnswer {
                confirmation: public_confirmation(&state, &found.agreement_id, &text_sha256)
                    .await?,
                genuine: found.genuine,
                status: Some(found.status),
                effective_at: found.effective_at,
                organisation: Some(found.organisation),
                signers: found.signers,
            },
            None => PublicAnswer {
                genuine: false,
                status: None,
                effective_at: None,
                organisation: None,
                signers: Vec::new(),
                confirmation: None,
            },
        },
    ))
}

/// The confirmation of the version with this text, from its submission to the court on;
/// while the parties are still applying it is theirs, not the public's.
async fn public_confirmation(
    state: &AppState,
    agreement: &AgreementId,
    text_sha256: &str,
) -> Result<Option<PublicConfirmation>> {
    Ok(state
        .store()
        .confirmation_of_agreement(agreement)
        .await?
        .filter(|r| r.text_sha256 == text_sha256 && r.status != RequestStatus::Applying)
        .map(|r| PublicConfirmation {
            status: r.status.as_str(),
            court: r.court,
            decided_at: r.decided_at,
        }))
}

async fn seal_keys(
    State(state): State<AppState>,
    Path(id): Path<String>,
    address: ClientAddress,
) -> Result<Json<Vec<SealKey>>> {
    hit(&limits(&state).public_per_address, &address.key())?;
    let id = OrganisationId::from(id.as_str());
    // An unknown organisation is a 404, not an empty list that reads as "no seal yet".
    state.store().organisation(&id).await?;
    Ok(Json(state.store().seal_public_keys(&id).await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_sha256_names_an_agreement() {
        assert!(super::is_sha256_hex(&"a".repeat(64)));
        assert!(!super::is_sha256_hex(&"g".repeat(64)));
        assert!(!super::is_sha256_hex(&"a".repeat(63)));
    }
}
