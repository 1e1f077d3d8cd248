//! The court's decisions on a request: accept it with the court's case number, extend the
//! ruling period once with a reason, upload the ruling document, confirm with the ruling's
//! number and date, or reject with reasons. The state rules and the audit are the store's
//! (`decide_confirmation`); each decision is then told to the parties and the case's live
//! sessions. Decisions are rate-limited per court user.

use accord_cases::blobs::Blob;
use accord_cases::confirmation::model::{ConfirmationRequest, CourtDecision};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::inbox::CourtUser;
use super::view::ConfirmationView;
use crate::AppState;
use crate::error::{Error, JsonBody, Result, json_body};

/// The largest ruling document taken.
pub const MAX_RULING_BYTES: usize = 20 * 1024 * 1024;

/// The decision routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/court/requests/{id}/accept", post(accept))
        .route("/api/v1/court/requests/{id}/extend", post(extend))
        .route(
            "/api/v1/court/requests/{id}/ruling",
            put(upload_ruling).layer(DefaultBodyLimit::max(MAX_RULING_BYTES + 1024)),
        )
        .route("/api/v1/court/requests/{id}/confirm", post(confirm))
        .route("/api/v1/court/requests/{id}/reject", post(reject))
}

/// Whether `bytes` are a PDF or a picture, by their first bytes (a client's Content-Type
/// is whatever it says).
pub fn is_ruling_document(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-")
        || bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(b"\xFF\xD8\xFF")
        || (bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP")
}

/// A raw body, or `{code, message}` for one that is too large or broke off (not axum's
/// plain text).
pub(super) fn body_bytes(body: std::result::Result<Bytes, BytesRejection>) -> Result<Bytes> {
    body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge(rejection.body_text())
        } else {
            Error::BadRequest(rejection.body_text())
        }
    })
}

/// Stores a ruling document (a PDF or a picture, at most [`MAX_RULING_BYTES`]).
pub async fn store_ruling(state: &AppState, bytes: &[u8]) -> Result<Blob> {
    if bytes.len() > MAX_RULING_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "a ruling document is at most {} MiB",
            MAX_RULING_BYTES / (1024 * 1024)
        )));
    }
    if !is_ruling_document(bytes) {
        return Err(Error::UnsupportedMediaType(
            "the ruling document must be a PDF, PNG, JPEG or WebP file",
        ));
    }
    let mut writer = state.blobs().writer().await?;
    writer.write(bytes).await?;
    Ok(writer.finish().await?)
}

/// Refuses a ruling hash that names no stored ruling document.
async fn require_ruling(state: &AppState, sha256: &str) -> Result<()> {
    let valid_hex = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
    let head = if valid_hex {
        match state.blobs().open_range(sha256, 0, Some(15)).await? {
            Some((mut reader, _)) => {
                use tokio::io::AsyncReadExt as _;
                let mut head = Vec::new();
                reader
                    .read_to_end(&mut head)
                    .await
                    .map_err(|e| Error::Internal(format!("reading a ruling: {e}")))?;
                Some(head)
            }
            None => None,
        }
    } else {
        None
    };
    match head {
        Some(head) if is_ruling_document(&head) => Ok(()),
        _ => Err(Error::field(
            "ruling_sha256",
            "upload the ruling document first (PUT …/ruling) and send the sha256 it answered",
        )),
    }
}

/// Records `decision` on request `id` of the user's court, tells the parties, and answers
/// with the request as the court sees it in a ConfirmationView.
async fn decide(
    state: &AppState,
    user: &CourtUser,
    id: &str,
    decision: CourtDecision,
) -> Result<Json<ConfirmationView>> {
    super::hit(&super::limits(state).decisions, &user.session.sub)?;
    let request = user.request(state, id).await?;
    let decided = state
        .store()
        .decide_confirmation(&user.session.actor(), &request.id, decision, state.now_ms())
        .await?;
    super::notices::status_changed(state, &decided);
    answer(state, user, &decided).await
}

async fn answer(
    state: &AppState,
    user: &CourtUser,
    request: &ConfirmationRequest,
) -> Result<Json<ConfirmationView>> {
    let caller = super::Caller::Staff(user.session.clone());
    let agreement = state.store().agreement(&request.agreement_id).await?;
    let case = state.store().case(&request.case_id).await?;
    let view = super::view::confirmation_view(state, &caller, &agreement, &case).await?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    court_case_number: String,
}

/// `POST /api/v1/court/requests/{id}/accept`.
async fn accept(
    State(state): State<AppState>,
    user: CourtUser,
    Path(id): Path<String>,
    body: JsonBody<AcceptBody>,
) -> Result<Json<ConfirmationView>> {
    let body = json_body(body)?;
    let decision = CourtDecision::Accept {
        court_case_number: body.court_case_number,
    };
    decide(&state, &user, &id, decision).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    reason: String,
}

/// `POST /api/v1/court/requests/{id}/extend`.
async fn extend(
    State(state): State<AppState>,
    user: CourtUser,
    Path(id): Path<String>,
    body: JsonBody<ExtendBody>,
) -> Result<Json<ConfirmationView>> {
    let reason = json_body(body)?.reason;
    decide(&state, &user, &id, CourtDecision::Extend { reason }).await
}

/// What a ruling upload answers: the hash to send with the decision.
#[derive(Debug, Serialize)]
struct Uploaded {
    sha256: String,
    size: u64,
}

/// `PUT /api/v1/court/requests/{id}/ruling`: the raw ruling document, while the request is
/// accepted.
async fn upload_ruling(
    State(state): State<AppState>,
    user: CourtUser,
    Path(id): Path<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<Uploaded>> {
    let body = body_bytes(body)?;
    super::hit(&super::limits(&state).decisions, &user.session.sub)?;
    let request = user.request(&state, &id).await?;
    if request.status != accord_cases::confirmation::model::RequestStatus::Accepted {
        return Err(Error::Rule(accord_cases::agreements::Rule::RequestState));
    }
    let blob = store_ruling(&state, &body).await?;
    Ok(Json(Uploaded {
        sha256: blob.sha256,
        size: blob.size,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    ruling_number: String,
    ruling_date: String,
    ruling_sha256: String,
}

/// `POST /api/v1/court/requests/{id}/confirm`.
async fn confirm(
    State(state): State<AppState>,
    user: CourtUser,
    Path(id): Path<String>,
    body: JsonBody<ConfirmBody>,
) -> Result<Json<ConfirmationView>> {
    let body = json_body(body)?;
    require_ruling(&state, &body.ruling_sha256).await?;
    let decision = CourtDecision::Confirm {
        ruling_number: body.ruling_number,
        ruling_date: body.ruling_date,
        ruling_sha256: Some(body.ruling_sha256),
    };
    decide(&state, &user, &id, decision).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reasons: String,
    ruling_number: Option<String>,
    ruling_sha256: Option<String>,
}

/// `POST /api/v1/court/requests/{id}/reject`.
async fn reject(
    State(state): State<AppState>,
    user: CourtUser,
    Path(id): Path<String>,
    body: JsonBody<RejectBody>,
) -> Result<Json<ConfirmationView>> {
    let body = json_body(body)?;
    if let Some(sha256) = &body.ruling_sha256 {
        require_ruling(&state, sha256).await?;
    }
    let decision = CourtDecision::Reject {
        reasons: body.reasons,
        ruling_number: body.ruling_number,
        ruling_sha256: body.ruling_sha256,
    };
    decide(&state, &user, &id, decision).await
}

#[cfg(test)]
mod tests {
    use super::is_ruling_document;

    #[test]
    fn rulings_are_pdfs_or_pictures_by_their_bytes() {
        assert!(is_ruling_document(b"%PDF-1.7\n"));
        assert!(is_ruling_document(b"\x89PNG\r\n\x1a\n...."));
        assert!(is_ruling_document(b"\xFF\xD8\xFF\xE0"));
        assert!(is_ruling_document(b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(!is_ruling_document(b"<html>"));
        assert!(!is_ruling_document(b""));
    }
}
