//! `/api/v1/cases/{id}/evidence…` and powers of attorney: files staff upload to a case and
//! read back. Uploads stream into the blob store and are judged by their first bytes.

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::{party_of, shown, visible_case};
use crate::AppState;
use crate::error::{Error, Result};
use crate::evidence::{self, Received, drain, multipart_error};
use crate::staff::{CaseWorker, StaffSession};
use accord_cases::store::model::{Actor, Evidence, Party, PartyKind};
use accord_cases::store::{new_id, now_ms};
use accord_cases::{CaseId, PartyId};

/// The evidence routes; an upload's body may be at most `upload_limit` bytes.
pub(super) fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/cases/{id}/evidence",
            post(upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/v1/cases/{id}/evidence/{evidence_id}", get(download))
        .route(
            "/api/v1/cases/{id}/parties/{party_id}/attorney-letter",
            post(attorney_letter).layer(DefaultBodyLimit::max(upload_limit)),
        )
}

/// Reads a one-file upload (`file`, and `party_id` when `with_party`), storing nothing yet.
pub(crate) async fn read_upload(
    state: &AppState,
    multipart: std::result::Result<Multipart, axum::extract::multipart::MultipartRejection>,
    with_party: bool,
) -> Result<(Received, Option<String>)> {
    let mut multipart = multipart
        .map_err(|_| Error::UnsupportedMediaType("send the file as multipart/form-data"))?;
    let mut file: Option<Received> = None;
    let mut party_id: Option<String> = None;
    let mut refusal: Option<Error> = None;
    while let Some(mut field) = evidence::next_field(&mut multipart, refusal.is_some()).await? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" if file.is_some() => {
                drain(&mut field).await?;
                refusal = Some(Error::BadRequest("send one `file` per upload".into()));
            }
            "file" => {
                let max = state.config().max_evidence_bytes;
                match evidence::receive(&mut field, state.blobs(), max).await {
                    Ok(received) => file = Some(received),
                    Err(e) => refusal = Some(e),
                }
            }
            "party_id" if with_party => {
                let text = field.text().await.map_err(multipart_error)?;
                party_id = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
            }
            _ => {
                let expected = if with_party {
                    "`file` and optionally `party_id`"
                } else {
                    "`file`"
                };
                refusal = Some(evidence::unexpected(&mut field, &name, expected).await?);
            }
        }
    }
    if let Some(refusal) = refusal {
        return Err(refusal);
    }
    let file = file.ok_or_else(|| Error::field("file", "required"))?;
    Ok((file, party_id))
}

/// Stores an upload's blob and describes it as evidence of `case_id`.
pub(crate) async fn evidence_record(
    file: Received,
    case_id: CaseId,
    party_id: Option<PartyId>,
    uploaded_by: &Actor,
) -> Result<Evidence> {
    let blob = file.writer.finish().await?;
    Ok(Evidence {
        id: new_id("EV"),
        case_id,
        party_id,
        sha256: blob.sha256,
        media_type: file.media_type.into(),
        size: i64::try_from(blob.size).unwrap_or(i64::MAX),
        file_name: file.file_name,
        uploaded_by: uploaded_by.label(),
        created_at: now_ms(),
    })
}

async fn upload(
    State(state): State<AppState>,
    session: CaseWorker,
    Path(id): Path<String>,
    multipart: std::result::Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Evidence>)> {
    let case = visible_case(&state, &session, &id).await?;
    let (file, party_id) = read_upload(&state, multipart, true).await?;
    if let Some(party) = &party_id {
        party_of(&state, &case, party).await?;
    }
    let party_id = party_id.map(PartyId::from);
    let record = evidence_record(file, case.id, party_id, &session.actor()).await?;
    let stored = state.store().add_evidence(&session.actor(), record).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// A representative's power of attorney (授权委托书): kept with the case's evidence and
/// named on the representative's record.
async fn attorney_letter(
    State(state): State<AppState>,
    session: CaseWorker,
    Path((id, party_id)): Path<(String, PartyId)>,
    multipart: std::result::Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Party>)> {
    let case = visible_case(&state, &session, &id).await?;
    let party = match state.store().party(&party_id).await.map_err(Error::from) {
        Ok(p) if p.case_id == case.id => p,
        Ok(_) | Err(Error::NotFound(_)) => {
            return Err(Error::NotFound("no such party in this case"));
        }
        Err(other) => return Err(other),
    };
    if party.kind != PartyKind::Representative {
        return Err(Error::Conflict(
            "only a representative has a power of attorney".into(),
        ));
    }
    let (file, _) = read_upload(&state, multipart, false).await?;
    let record = evidence_record(
        file,
        case.id.clone(),
        Some(party.id.clone()),
        &session.actor(),
    )
    .await?;
    let updated = state
        .store()
        .attach_attorney_letter(&session.actor(), &party.id, record)
        .await?;
    Ok((StatusCode::CREATED, Json(shown(&session, &case, updated))))
}

async fn download(
    State(state): State<AppState>,
    session: StaffSession,
    Path((id, evidence_id)): Path<(String, String)>,
) -> Result<Response> {
    let case = visible_case(&state, &session, &id).await?;
    let record = state
        .store()
        .evidence(&case.id)
        .await?
        .into_iter()
        .find(|e| e.id == evidence_id)
        .ok_or(Error::NotFound("no such evidence file in this case"))?;
    serve_evidence(&state, &record).await
}

/// Streams an evidence file with headers that keep browsers from guessing its type.
pub(crate) async fn serve_evidence(state: &AppState, record: &Evidence) -> Result<Response> {
    let reader = state
        .blobs()
        .open(&record.sha256)
        .await?
        .ok_or_else(|| Error::Internal(format!("blob {} is missing", record.sha256)))?;
    let mut response = crate::evidence::blob_body(reader).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&record.media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(record.size));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}
