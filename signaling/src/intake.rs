//! The public intake API (一站式自主申报): residents apply for mediation from a phone, with
//! no account, and follow their case with a tracking code.
//!
//! - `POST /api/v1/intake`: multipart, a JSON field `application` and files `photos[]`,
//!   with an `Idempotency-Key` header so a phone on a weak network can send again safely.
//! - `GET /api/v1/intake/{tracking_code}`: status, case number and status history; no
//!   personal data, since whoever holds the code can read it.
//! - `GET /api/v1/regions`: the regions some organisation serves, for the form's picker.
//!
//! What makes an application valid is the domain's ([`accord_cases::forms::intake`]); field
//! errors carry English messages, and the web client shows its own text per field name.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;
use crate::error::{Error, FieldError, Result};
use crate::evidence::{self, MAX_FILES, Received, drain, multipart_error};
use crate::limits::ClientAddress;
use accord_cases::forms::intake;
use accord_cases::store::model::CaseStatus;
use accord_cases::store::{IntakeFile, StatusStep, looks_like_tracking_code};

/// The application's JSON is small; anything larger is not a form a person filled in.
const MAX_APPLICATION_BYTES: usize = 64 * 1024;

/// The intake routes, taking evidence files of up to `max_file_bytes` each.
pub fn router(max_file_bytes: u64) -> Router<AppState> {
    // Room for every file at its limit plus the form; each file is checked as it streams.
    let body_limit = evidence::body_limit(max_file_bytes, MAX_FILES, 2 * MAX_APPLICATION_BYTES);
    Router::new()
        .route(
            "/api/v1/intake",
            post(submit).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/api/v1/intake/{tracking_code}", get(track))
        .route("/api/v1/regions", get(regions))
}

#[derive(Serialize)]
struct SubmitResponse {
    case_number: String,
    tracking_code: String,
    status: CaseStatus,
}

#[derive(Serialize)]
struct TrackResponse {
    case_number: String,
    status: CaseStatus,
    history: Vec<StatusStep>,
}

#[derive(Serialize)]
struct RegionsResponse {
    regions: Vec<String>,
}

async fn submit(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<SubmitResponse>)> {
    state
        .limits()
        .intake_per_address
        .hit(&client.key(), std::time::Instant::now())?;
    let mut multipart = multipart
        .map_err(|_| Error::UnsupportedMediaType("send the application as multipart/form-data"))?;
    let mut application: Option<String> = None;
    let mut files: Vec<Received> = Vec::new();
    // The first refusal is kept while the rest of the body is read, so the client gets it
    // as an answer instead of a connection closed under its upload.
    let (key, mut refusal) = match idempotency_key(&headers) {
        Ok(key) => (key, None),
        Err(e) => (String::new(), Some(e)),
    };
    while let Some(mut field) = evidence::next_field(&mut multipart, refusal.is_some()).await? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "application" => match read_text(&mut field).await {
                Ok(text) => application = Some(text),
                Err(e) => refusal = Some(e),
            },
            "photos[]" | "photos" if files.len() >= MAX_FILES => {
                drain(&mut field).await?;
                refusal = Some(Error::Invalid(vec![FieldError {
                    field: "photos".into(),
                    message: format!("at most {MAX_FILES} files"),
                }]));
            }
            "photos[]" | "photos" => {
                let max = state.config().max_evidence_bytes;
                match evidence::receive(&mut field, state.blobs(), max).await {
                    Ok(received) => files.push(received),
                    Err(e) => refusal = Some(e),
                }
            }
            _ => {
                let expected = "`application` and `photos[]`";
                refusal = Some(evidence::unexpected(&mut field, &name, expected).await?);
            }
        }
    }
    if let Some(refusal) = refusal {
        return Err(refusal);
    }
    let valid = intake::validate(application.as_deref())?;
    let Some(organisation) = state.store().organisation_for_region(&valid.region).await? else {
        return Err(Error::Invalid(vec![FieldError {
            field: "region".into(),
            message: "no mediation organisation serves this region".into(),
        }]));
    };
    // Only now are the uploads stored: a refused application leaves no blobs behind.
    let mut stored = Vec::with_capacity(files.len());
    for received in files {
        let blob = received.writer.finish().await?;
        stored.push(IntakeFile {
            sha256: blob.sha256,
            media_type: received.media_type.into(),
            size: i64::try_from(blob.size).unwrap_or(i64::MAX),
            file_name: received.file_name,
        });
    }
    let new = valid.into_intake(&organisation, stored);
    let submitted = state.store().submit_intake(new, &key).await?;
    let status = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SubmitResponse {
            case_number: submitted.case.number,
            tracking_code: submitted.case.tracking_code.unwrap_or_default(),
            status: submitted.case.status,
        }),
    ))
}

async fn track(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<TrackResponse>> {
    // People copy codes by hand: lower case, spaces and dashes are forgiven.
    let code: String = code
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !looks_like_tracking_code(&code) {
        return Err(Error::NotFound("no case has this tracking code"));
    }
    let case = state.store().case_by_tracking_code(&code).await?;
    let history = state.store().status_history(&case.id).await?;
    Ok(Json(TrackResponse {
        case_number: case.number,
        status: case.status,
        history,
    }))
}

async fn regions(State(state): State<AppState>) -> Result<Json<RegionsResponse>> {
    Ok(Json(RegionsResponse {
        regions: state.store().regions().await?,
    }))
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    let printable = key.bytes().all(|b| b.is_ascii_graphic());
    if key.len() < 8 || key.len() > 128 || !printable {
        return Err(Error::BadRequest(
            "send an Idempotency-Key header: 8–128 printable characters, new for each application"
                .into(),
        ));
    }
    Ok(key.to_owned())
}

async fn read_text(field: &mut axum::extract::multipart::Field<'_>) -> Result<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > MAX_APPLICATION_BYTES {
            drain(field).await?;
            return Err(Error::PayloadTooLarge(format!(
                "the application may be at most {} KiB",
                MAX_APPLICATION_BYTES / 1024
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| Error::field("application", "must be UTF-8 JSON"))
}
