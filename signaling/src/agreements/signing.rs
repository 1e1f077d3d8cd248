//! Signing a final agreement on the signer's own device (电子签名法 第十三条): the device asks
//! for a challenge naming the exact version and text hash, signs it with a key it created
//! and registered after an identity check, and sends the signature with the drawn image. The
//! rules (which key, which version, who may sign, in what order) are the domain's
//! ([`accord_cases::store`]'s signing methods); this module finds the caller, keeps the drawn
//! image, writes the session record and tells the session.
//!
//! The routes of the whole flow are joined here: identity checks and the free-will question
//! ([`super::signing_identity`]), the seal ([`super::seal`]) and the PDF ([`super::pdf`]).

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::draft_routes::{SMALL_BODY_LIMIT, post_at_session_owner};
use super::signing_identity;
pub use super::signing_limits::SigningLimits;
use super::signing_limits::{hit, limits};
use crate::AppState;
use crate::error::{Error, Result};
use accord_cases::agreements::Rule;
use accord_cases::agreements::model::{Agreement, AgreementStatus};
use accord_cases::store::model::{Case, SessionEvent, SessionEventKind};
use accord_cases::store::{SealView, SignRequest, SignerView, new_id, next_seq, now_ms};
use accord_cases::{CaseId, SessionId};

/// The largest drawn signature kept (PNG bytes).
pub const MAX_IMAGE_BYTES: usize = 256 * 1024;
/// A signature's body: the image in base64 (4/3 of it) and the payload, with room to spare.
const SIGNATURE_BODY_LIMIT: usize = 512 * 1024;

/// Every signing route; the agreement module merges it.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/agreements/{id}/identity/otp",
            post(signing_identity::send_code),
        )
        .route(
            "/api/v1/agreements/{id}/identity",
            post_at_session_owner(signing_identity::check_identity, SMALL_BODY_LIMIT),
        )
        .route(
            "/api/v1/agreements/{id}/attest",
            post_at_session_owner(signing_identity::attest, SMALL_BODY_LIMIT),
        )
        .route(
            "/api/v1/agreements/{id}/free-will",
            post_at_session_owner(signing_identity::free_will, SMALL_BODY_LIMIT),
        )
        .route("/api/v1/agreements/{id}/signing/challenge", get(challenge))
        .route(
            "/api/v1/agreements/{id}/signatures",
            post_at_session_owner(sign, SIGNATURE_BODY_LIMIT)
                .layer(DefaultBodyLimit::max(SIGNATURE_BODY_LIMIT)),
        )
        .route(
            "/api/v1/agreements/{id}/decline",
            post_at_session_owner(decline, SMALL_BODY_LIMIT),
        )
        .route(
            "/api/v1/agreements/{id}/seal",
            post_at_session_owner(super::seal::seal, SMALL_BODY_LIMIT),
        )
        .route("/api/v1/agreements/{id}/pdf", get(super::pdf::download))
        .route(
            "/api/v1/organisations/{id}/seal-key/rotate",
            post(super::seal::rotate),
        )
}

/// What the Agreement JSON says about signing: filled here so the agreement view and the
/// signing routes agree.
#[derive(Debug, Serialize)]
pub struct SigningView {
    /// Whether the agreement may be signed electronically at all.
    pub e_signable: bool,
    /// Why not, for people.
    pub not_e_signable_reason: Option<String>,
    /// Who signs, and how far each has got.
    pub signers: Vec<SignerView>,
    /// The seal, once applied.
    pub seal: Option<SealView>,
    /// Where the PDF is downloaded, once the agreement is in force.
    pub pdf_url: Option<String>,
}

/// The signing part of `agreement`'s JSON.
pub async fn signing_view(state: &AppState, agreement: &Agreement) -> Result<SigningView> {
    let store = state.store();
    let e_signable = store.e_signable(&agreement.case_id).await?;
    let signers = store.signers(&agreement.id).await?;
    let seal = store.seal_of(&agreement.id).await?;
    let pdf_url = (agreement.status == AgreementStatus::InForce)
        .then(|| format!("/api/v1/agreements/{}/pdf", agreement.id));
    Ok(SigningView {
        e_signable: e_signable.e_signable,
        not_e_signable_reason: e_signable.reason.map(str::to_owned),
        signers,
        seal,
        pdf_url,
    })
}

/// Refuses every signing step of a case that may not be signed electronically (personal
/// status: 电子签名法 第三条), before anything else is looked at.
pub(crate) async fn ensure_e_signable(state: &AppState, case: &Case) -> Result<()> {
    if state.store().e_signable(&case.id).await?.e_signable {
        Ok(())
    } else {
        Err(Error::Rule(Rule::NotESignable))
    }
}

/// The agreement as every route answers it, after a change: read again, so the answer shows
/// what was stored. The session is told first.
pub(crate) async fn changed(
    state: &AppState,
    agreement_id: &str,
    case_id: &CaseId,
) -> Result<Json<serde_json::Value>> {
    super::announce(state, case_id);
    let agreement = state
        .store()
        .agreement(&accord_cases::AgreementId::from(agreement_id))
        .await?;
    let case = state.store().case(case_id).await?;
    let view = super::view::agreement_view(state, &agreement, &case).await?;
    Ok(Json(serde_json::to_value(view).map_err(|e| {
        Error::Internal(format!("writing the agreement: {e}"))
    })?))
}

/// Someone whose step goes into the session record.
pub(crate) struct Noted<'a> {
    pub identity: &'a str,
    pub name: Option<String>,
    pub role: &'a str,
}

/// Writes a step of the agreement into the record of `session` (the case session it happened
/// in); a step taken outside any session (signing later from the case page) has no session
/// record to go into, and the audit trail keeps it.
pub(crate) async fn note(
    state: &AppState,
    case_id: &CaseId,
    session: Option<SessionId>,
    kind: SessionEventKind,
    actor: Noted<'_>,
    subject: Option<(&str, &str)>,
    detail: String,
) -> Result<()> {
    let Some(session_id) = session else {
        return Ok(());
    };
    let space = state
        .rooms()
        .live_seat(case_id, actor.identity)
        .map(|seat| seat.space.as_str().to_owned());
    let entry = SessionEvent {
        id: new_id("SV"),
        seq: next_seq(),
        session_id,
        case_id: case_id.clone(),
        at: now_ms(),
        kind,
        actor_identity: Some(actor.identity.to_owned()),
        actor_name: actor.name,
        actor_role: Some(actor.role.to_owned()),
        subject_identity: subject.map(|(id, _)| id.to_owned()),
        subject_name: subject.map(|(_, name)| name.to_owned()),
        space,
        detail: Some(detail),
    };
    state.store().append_session_event(&entry).await?;
    Ok(())
}

/// The caller as the session record names them, and the session they act in: the live
/// session they are seated in, else the one their link belongs to.
pub(crate) async fn noted_caller<'a>(
    state: &AppState,
    caller: &'a Caller,
    case_id: &CaseId,
) -> Result<(Noted<'a>, Option<SessionId>)> {
    let identity = caller.identity();
    let seated = state
        .rooms()
        .live_seat(case_id, identity)
        .map(|seat| seat.session_id);
    let (name, session) = match caller {
        Caller::Party(claims) => (
            Some(claims.name.clone()),
            seated.or_else(|| claims.session.as_deref().map(SessionId::from)),
        ),
        Caller::Staff(session) => (
            Some(state.store().staff(&session.sub).await?.display_name),
            seated,
        ),
    };
    Ok((
        Noted {
            identity,
            name,
            role: caller.role(),
        },
        session,
    ))
}

#[derive(Serialize)]
struct Challenge {
    payload: String,
}

async fn challenge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Challenge>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    ensure_e_signable(&state, &case).await?;
    hit(&limits(&state).signing, caller.identity())?;
    let payload = state
        .store()
        .issue_challenge(&agreement.id, &caller.signer(), now_ms())
        .await?;
    Ok(Json(Challenge { payload }))
}

/// `POST /agreements/{id}/signatures`.
#[derive(Deserialize)]
struct SignBody {
    /// The challenge exactly as it was given.
    payload: String,
    /// Base64 of the 64-byte `r || s` WebCrypto gives.
    signature: String,
    /// Base64 PNG of the drawn signature.
    image: String,
    /// The device key the signature was made with (base64 SPKI), when the device says.
    #[serde(default)]
    public_key: Option<String>,
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The drawn signature's bytes, refused unless they are a PNG within the size limit.
fn drawn_image(image_b64: &str) -> Result<Vec<u8>> {
    // The base64 is checked for length first, so a huge body is refused before decoding.
    if image_b64.len() > MAX_IMAGE_BYTES.div_ceil(3) * 4 {
        return Err(Error::PayloadTooLarge(format!(
            "the drawn signature may be at most {} KiB",
            MAX_IMAGE_BYTES / 1024
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(image_b64.trim())
        .map_err(|_| Error::field("image", "not base64 (standard alphabet, padded)"))?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "the drawn signature may be at most {} KiB",
            MAX_IMAGE_BYTES / 1024
        )));
    }
    if !bytes.starts_with(PNG_MAGIC) {
        return Err(Error::field("image", "the drawn signature must be a PNG"));
    }
    Ok(bytes)
}

async fn sign(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: std::result::Result<Json<SignBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    ensure_e_signable(&state, &case).await?;
    hit(&limits(&state).signing, caller.identity())?;
    let Json(body) = body?;
    let image = drawn_image(&body.image)?;
    // Kept before the signature is stored, so a stored signature never names a missing
    // image; an image of a refused signature is unreferenced and weighs at most 256 KiB.
    let mut writer = state.blobs().writer().await?;
    writer.write(&image).await?;
    let blob = writer.finish().await?;
    let request = SignRequest {
        payload: body.payload,
        signature: body.signature,
        public_key: body.public_key,
        image_sha256: Some(blob.sha256),
    };
    state
        .store()
        .sign(
            &caller.actor(),
            &agreement.id,
            &caller.signer(),
            request,
            now_ms(),
        )
        .await?;
    let (noted, session) = noted_caller(&state, &caller, &case.id).await?;
    note(
        &state,
        &case.id,
        session,
        SessionEventKind::AgreementSigned,
        noted,
        None,
        format!("version {}", agreement.version),
    )
    .await?;
    changed(&state, &id, &case.id).await
}

/// `POST /agreements/{id}/decline`.
#[derive(Deserialize)]
struct DeclineBody {
    reason: String,
}

/// A reason long enough to say why, short enough to print on the agreement.
const MAX_REASON_CHARS: usize = 500;

async fn decline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: std::result::Result<Json<DeclineBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    ensure_e_signable(&state, &case).await?;
    hit(&limits(&state).signing, caller.identity())?;
    let Json(body) = body?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(Error::field(
            "reason",
            format!("say why in 1 to {MAX_REASON_CHARS} characters"),
        ));
    }
    state
        .store()
        .decline(
            &caller.actor(),
            &agreement.id,
            &caller.signer(),
            reason,
            now_ms(),
        )
        .await?;
    let (noted, session) = noted_caller(&state, &caller, &case.id).await?;
    note(
        &state,
        &case.id,
        session,
        SessionEventKind::AgreementDeclined,
        noted,
        None,
        format!("version {}", agreement.version),
    )
    .await?;
    changed(&state, &id, &case.id).await
}
