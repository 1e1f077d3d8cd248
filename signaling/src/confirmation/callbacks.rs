//! Status callbacks from a court's own system: `POST /api/v1/court-system/callbacks`, no
//! bearer token, signed instead. `X-Accord-Timestamp` (Unix seconds) and
//! `X-Accord-Signature` (`hmac-sha256=<hex>` with the court's shared secret, or
//! `ed25519=<base64>` with the court's configured public key) over the bytes
//! `"{timestamp}.{raw body}"`.
//!
//! A callback is refused with 401 `bad_signature`, and nothing changes, when the signature is
//! missing or wrong, the timestamp is more than 5 minutes off, or the request's court has no
//! key configured; each refusal is audited with its reason. An unknown request is 404; a
//! transition the request's state does not allow is 409 `request_state`. A repeat of an
//! event already applied answers 200 and changes nothing, so a court may retry freely.
//! Each client address may call 120 times a minute (429 past it): the route takes no bearer,
//! and every refusal writes an audit entry.

use accord_cases::ConfirmationRequestId;
use accord_cases::agreements::signing::verify_seal;
use accord_cases::confirmation::model::{ConfirmationRequest, CourtDecision, RequestStatus};
use accord_cases::store::model::Actor;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::config::CourtEndpoint;
use super::connector::{CALLBACK_PATH, keyed};
use crate::AppState;
use crate::error::{Error, Result};
use crate::limits::ClientAddress;

/// The largest callback body: a ruling document of 20 MiB in base64, and the rest.
pub const MAX_CALLBACK_BYTES: usize = 25 * 1024 * 1024;
/// How far a callback's timestamp may be from our clock.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// The callback route.
pub fn router() -> Router<AppState> {
    Router::new().route(
        CALLBACK_PATH,
        post(callback).layer(DefaultBodyLimit::max(MAX_CALLBACK_BYTES)),
    )
}

/// What a court system sends.
#[derive(Debug, Deserialize)]
struct Callback {
    request_id: String,
    event: String,
    court_case_number: Option<String>,
    ruling_number: Option<String>,
    ruling_date: Option<String>,
    reasons: Option<String>,
    ruling_document_base64: Option<String>,
    /// When it happened at the court, Unix ms; when we received it otherwise.
    at: Option<i64>,
}

/// What a callback answers.
#[derive(Debug, Serialize)]
struct Answer {
    request_id: String,
    status: RequestStatus,
    /// False for a repeat that changed nothing.
    applied: bool,
}

/// Why a callback was refused, as audited; the caller only ever learns `bad_signature`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `X-Accord-Signature` or `X-Accord-Timestamp`, or not in a known form.
    Missing,
    /// The timestamp is more than [`MAX_SKEW_SECONDS`] from now.
    Stale,
    /// The court of the request has neither a secret nor a public key configured.
    NoKey,
    /// The signature does not verify.
    Wrong,
}

impl Refusal {
    /// The reason as the audit trail keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "signature_missing",
            Refusal::Stale => "timestamp_out_of_range",
            Refusal::NoKey => "no_key_configured",
            Refusal::Wrong => "signature_wrong",
        }
    }
}

/// Checks a callback's signature for `court` at `now_ms`. Public so the court integration
/// guide's example is tested against the same code.
pub fn check_signature(
    court: Option<&CourtEndpoint>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_ms: i64,
) -> std::result::Result<(), Refusal> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(Refusal::Missing);
    };
    let Some(court) = court.filter(|c| c.hmac_secret.is_some() || c.public_key.is_some()) else {
        return Err(Refusal::NoKey);
    };
    let seconds: i64 = timestamp.trim().parse().map_err(|_| Refusal::Missing)?;
    if (now_ms.div_euclid(1000) - seconds).abs() > MAX_SKEW_SECONDS {
        return Err(Refusal::Stale);
    }
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.trim().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    let signature = signature.trim();
    if let Some(hex_mac) = signature.strip_prefix("hmac-sha256=") {
        let secret = court.hmac_secret.as_deref().ok_or(Refusal::Wrong)?;
        let mac = hex::decode(hex_mac.trim()).map_err(|_| Refusal::Wrong)?;
        // `verify_slice` compares in constant time.
        keyed(secret, &signed)
            .verify_slice(&mac)
            .map_err(|_| Refusal::Wrong)
    } else if let Some(b64) = signature.strip_prefix("ed25519=") {
        let key = court.public_key.as_deref().ok_or(Refusal::Wrong)?;
        verify_seal(key, &signed, b64.trim())
            .then_some(())
            .ok_or(Refusal::Wrong)
    } else {
        Err(Refusal::Missing)
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /api/v1/court-system/callbacks`.
async fn callback(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    super::hit(&super::limits(&state).callbacks, &client.key())?;
    let body = super::decisions::body_bytes(body)?;
    let now = state.now_ms();
    let timestamp = header(&headers, "x-accord-timestamp");
    let signature = header(&headers, "x-accord-signature");
    let parsed: Option<Callback> = serde_json::from_slice(&body).ok();
    let Some(parsed) = parsed else {
        // Nothing names a court to check a signature with: unsigned noise is refused as
        // unsigned, a signed body that is not ours as malformed.
        if timestamp.is_none() || signature.is_none() {
            refuse(&state, None, None, Refusal::Missing, now).await;
            return Ok(bad_signature());
        }
        return Err(Error::BadRequest(
            "the body is not a callback (JSON with request_id and event)".into(),
        ));
    };
    let id = ConfirmationRequestId::from(parsed.request_id.as_str());
    let request = match state.store().confirmation_request(&id).await {
        Ok(request) => request,
        Err(accord_cases::Error::NotFound(_)) => {
            return Err(Error::NotFound("no such confirmation request"));
        }
        Err(other) => return Err(other.into()),
    };
    let court_name = request.court.clone().unwrap_or_default();
    let court = state.config().confirmation.court(&court_name);
    if let Err(refusal) = check_signature(court, timestamp, signature, &body, now) {
        refuse(&state, Some(&request.id), Some(&court_name), refusal, now).await;
        return Ok(bad_signature());
    }
    let event = parsed.event.trim().to_owned();
    if already_applied(&request, &event) {
        return Ok(ok(&request, false));
    }
    let actor = Actor::CourtSystem(court_name.clone());
    let updated = match event.as_str() {
        "received" => {
            state
                .store()
                .mark_confirmation_received(&actor, &request.id, now)
                .await?
        }
        "accepted" => {
            let court_case_number = parsed
                .court_case_number
                .clone()
                .ok_or_else(|| Error::field("court_case_number", "required for accepted"))?;
            decide(
                &state,
                &actor,
                &request,
                CourtDecision::Accept { court_case_number },
                now,
            )
            .await?
        }
        "confirmed" => {
            let ruling_sha256 = ruling(&state, parsed.ruling_document_base64.as_deref()).await?;
            let decision = CourtDecision::Confirm {
                ruling_number: parsed
                    .ruling_number
                    .clone()
                    .ok_or_else(|| Error::field("ruling_number", "required for confirmed"))?,
                ruling_date: parsed
                    .ruling_date
                    .clone()
                    .ok_or_else(|| Error::field("ruling_date", "required for confirmed"))?,
                ruling_sha256,
            };
            decide(&state, &actor, &request, decision, now).await?
        }
        "rejected" => {
            let ruling_sha256 = ruling(&state, parsed.ruling_document_base64.as_deref()).await?;
            let decision = CourtDecision::Reject {
                reasons: parsed
                    .reasons
                    .clone()
                    .ok_or_else(|| Error::field("reasons", "required for rejected"))?,
                ruling_number: parsed.ruling_number.clone(),
                ruling_sha256,
            };
            decide(&state, &actor, &request, decision, now).await?
        }
        _ => {
            return Err(Error::field(
                "event",
                "received, accepted, confirmed or rejected",
            ));
        }
    };
    let body_sha256 = hex::encode(sha2::Sha256::digest(&body));
    state
        .store()
        .record_callback(
            &request.id,
            &event,
            parsed.at.unwrap_or(now),
            &body_sha256,
            now,
        )
        .await?;
    tracing::info!(request = %request.id, event, "a court system's callback applied");
    if updated.status != request.status {
        super::notices::status_changed(&state, &updated);
    }
    Ok(ok(&updated, true))
}

/// Whether `event` is already reflected in `request`, so applying it again changes nothing.
fn already_applied(request: &ConfirmationRequest, event: &str) -> bool {
    match event {
        "received" => !matches!(
            request.status,
            RequestStatus::Applying | RequestStatus::Submitted
        ),
        "accepted" => request.accepted_at.is_some(),
        "confirmed" => request.status == RequestStatus::Confirmed,
        "rejected" => request.status == RequestStatus::Rejected,
        _ => false,
    }
}

async fn decide(
    state: &AppState,
    actor: &Actor,
    request: &ConfirmationRequest,
    decision: CourtDecision,
    now: i64,
) -> Result<ConfirmationRequest> {
    Ok(state
        .store()
        .decide_confirmation(actor, &request.id, decision, now)
        .await?)
}

/// Stores a ruling sent in base64; its hash.
async fn ruling(state: &AppState, base64: Option<&str>) -> Result<Option<String>> {
    let Some(text) = base64.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|_| Error::field("ruling_document_base64", "not base64"))?;
    let blob = super::decisions::store_ruling(state, &bytes).await?;
    Ok(Some(blob.sha256))
}

fn ok(request: &ConfirmationRequest, applied: bool) -> Response {
    (
        StatusCode::OK,
        Json(Answer {
            request_id: request.id.to_string(),
            status: request.status,
            applied,
        }),
    )
        .into_response()
}

/// 401 `bad_signature`: the one answer to every refused signature, so a caller learns
/// nothing of which check failed (the audit trail says).
fn bad_signature() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({
            "code": "bad_signature",
            "message": "the callback's signature is missing, wrong or too old, or this court has no key configured; nothing was changed",
        })),
    )
        .into_response()
}

/// Audits a refused callback; a failure to audit is logged, and the refusal stands.
async fn refuse(
    state: &AppState,
    request: Option<&ConfirmationRequestId>,
    court: Option<&str>,
    refusal: Refusal,
    now: i64,
) {
    tracing::warn!(
        request = request.map(|r| r.as_str()),
        reason = refusal.as_str(),
        "a court system's callback was refused"
    );
    if let Err(e) = state
        .store()
        .confirmation_callback_refused(request, court, refusal.as_str(), now)
        .await
    {
        tracing::error!(error = %e, "cannot audit a refused callback");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of docs/court-integration.md (values computed with Python's hmac and
    /// `cryptography`, and with `openssl dgst`).
    const BODY: &str = r#"{"request_id":"CR_7Qk2mN4pX9","event":"accepted","court_case_number":"(2026)粤0306民特1234号","at":1796522400000}"#;
    const TIMESTAMP: &str = "1796526000";
    const HMAC: &str =
        "hmac-sha256=461611afce1ab6225f3f1b1bd9f39f8acca7792fb8f82611a3b87bd5bb19aafa";
    const ED25519: &str = "ed25519=hgMTQXOHRpT1aya+hHxuGJLsDrGWkkrvHFiMbi/VhrCyToypOgNLd/sp4JHZD7LYsaSen6Xk9F/lNOt+NrY8DA==";

    fn court() -> CourtEndpoint {
        CourtEndpoint {
            name: "深圳市宝安区人民法院".into(),
            endpoint: None,
            hmac_secret: Some(b"example-shared-secret-0123456789".to_vec()),
            public_key: Some("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=".into()),
        }
    }

    const NOW: i64 = 1_796_526_000_000 + 42_000;

    #[test]
    fn the_guides_examples_verify() {
        let court = court();
        let body = BODY.as_bytes();
        assert_eq!(body.len(), 117);
        let check = |sig| check_signature(Some(&court), Some(TIMESTAMP), Some(sig), body, NOW);
        assert_eq!(check(HMAC), Ok(()));
        assert_eq!(check(ED25519), Ok(()));
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        let court = court();
        let body = BODY.as_bytes();
        let mut tampered = body.to_vec();
        tampered[20] ^= 1;
        assert_eq!(
            check_signature(Some(&court), Some(TIMESTAMP), Some(HMAC), &tampered, NOW),
            Err(Refusal::Wrong)
        );
        assert_eq!(
            check_signature(Some(&court), Some(TIMESTAMP), Some(ED25519), &tampered, NOW),
            Err(Refusal::Wrong)
        );
        assert_eq!(
            check_signature(Some(&court), Some(TIMESTAMP), None, body, NOW),
            Err(Refusal::Missing)
        );
        assert_eq!(
            check_signature(Some(&court), Some(TIMESTAMP), Some("sha1=00"), body, NOW),
            Err(Refusal::Missing)
        );
        let late = 1_796_526_000_000 + 301_000;
        assert_eq!(
            check_signature(Some(&court), Some(TIMESTAMP), Some(HMAC), body, late),
            Err(Refusal::Stale)
        );
        assert_eq!(
            check_signature(None, Some(TIMESTAMP), Some(HMAC), body, NOW),
            Err(Refusal::NoKey)
        );
        let hmac_only = CourtEndpoint {
            public_key: None,
            ..court.clone()
        };
        assert_eq!(
            check_signature(Some(&hmac_only), Some(TIMESTAMP), Some(ED25519), body, NOW),
            Err(Refusal::Wrong),
            "an Ed25519 signature needs the court's configured key"
        );
        let keyless = CourtEndpoint {
            hmac_secret: None,
            public_key: None,
            ..court
        };
        assert_eq!(
            check_signature(Some(&keyless), Some(TIMESTAMP), Some(HMAC), body, NOW),
            Err(Refusal::NoKey)
        );
    }
}
