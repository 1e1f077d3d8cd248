//! The seal: once every required party and the mediator have signed, the mediator applies the
//! organisation's electronic seal (the organisation's own Ed25519 key, held by the server), the
//! platform countersigns the sealed statement with the recorder's platform key, and that moment
//! is the agreement's effective date (人民调解法 第二十九条). The PDF every party downloads is
//! made right after; a PDF that cannot be made then (no font installed) does not undo the seal
//! and is made on the first download instead.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;

use super::caller::Caller;
use super::signing::{changed, ensure_e_signable, note, noted_caller};
use super::signing_limits::{hit, limits};
use crate::AppState;
use crate::error::Result;
use crate::staff::Administrator;
use accord_cases::OrganisationId;
use accord_cases::store::model::SessionEventKind;
use accord_cases::store::{SealKey, now_ms};

pub(crate) async fn seal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Json<serde_json::Value>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    let mediator = caller.mediator_of(&case)?;
    ensure_e_signable(&state, &case).await?;
    hit(&limits(&state).mediator, caller.identity())?;
    let keys = state.recorders().keys();
    let outcome = state
        .store()
        .seal(
            &mediator.sub,
            &agreement.id,
            |statement| {
                let signature = keys.sign(statement);
                Ok((signature.key_id, signature.signature))
            },
            now_ms(),
        )
        .await?;
    let (noted, session) = noted_caller(&state, &caller, &case.id).await?;
    note(
        &state,
        &case.id,
        session,
        SessionEventKind::AgreementInForce,
        noted,
        None,
        format!("version {}", outcome.version),
    )
    .await?;
    let base = super::pdf::public_base(&state, &headers);
    if let Err(e) = super::pdf::make(&state, &agreement.id, &base).await {
        tracing::warn!(
            agreement = %agreement.id,
            error = %e,
            "the agreement is sealed and in force; its PDF could not be made now and is made on first download"
        );
    }
    changed(&state, &id, &case.id).await
}

pub(crate) async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    admin: Administrator,
) -> Result<Json<SealKey>> {
    admin.require_manager_of(Some(&id))?;
    hit(&limits(&state).rotations, admin.sub.as_str())?;
    let key = state
        .store()
        .rotate_seal_key(&admin.sub, &OrganisationId::from(id.as_str()))
        .await?;
    Ok(Json(key))
}
