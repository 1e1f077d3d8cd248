//! A request's documents: the 申请书 PDF (the parties, the mediators and the court), the
//! package ZIP (the mediators and the court: it holds every party's full ID number, so each
//! download is audited), and the court's ruling once uploaded (the parties, the mediators,
//! the court).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::io::AsyncReadExt;

use super::{LinkCaller, hit, limits};
use crate::AppState;
use crate::error::{Error, Result};
use accord_cases::confirmation::model::ConfirmationRequest;

/// The largest document served from memory; a package is capped well below this when built.
const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024 * 1024;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/confirmation-requests/{id}/application.pdf",
            get(application),
        )
        .route(
            "/api/v1/confirmation-requests/{id}/package.zip",
            get(package_zip),
        )
        .route("/api/v1/confirmation-requests/{id}/ruling", get(ruling))
}

async fn read_blob(state: &AppState, sha256: &str, what: &'static str) -> Result<Vec<u8>> {
    let Some(reader) = state.blobs().open(sha256).await? else {
        return Err(Error::Internal(format!(
            "{what} {sha256} is missing from the blob store"
        )));
    };
    let mut bytes = Vec::new();
    reader
        .take(MAX_DOCUMENT_BYTES)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| Error::Internal(format!("reading {what}: {e}")))?;
    Ok(bytes)
}

/// RFC 5987 `ext-value` of a file name: UTF-8, every byte outside `attr-char` percent-encoded.
fn rfc5987(name: &str) -> String {
    let mut out = String::from("UTF-8''");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A download of `bytes` as `content_type`, named `ascii_name` (and `name` for clients that
/// read RFC 5987).
fn download(bytes: Vec<u8>, content_type: &'static str, ascii_name: &str, name: &str) -> Response {
    let disposition = format!(
        "attachment; filename=\"{ascii_name}\"; filename*={}",
        rfc5987(name)
    );
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Every byte is ASCII by construction (the ASCII name is ours), so this always parses.
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition)
            .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
    );
    response
}

/// The request's id as a file name's ASCII part.
fn ascii(request: &ConfirmationRequest) -> String {
    request
        .id
        .as_str()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

async fn application(
    State(state): State<AppState>,
    Path(id): Path<String>,
    LinkCaller(caller): LinkCaller,
) -> Result<Response> {
    hit(&limits(&state).documents, caller.identity())?;
    let (request, _, case) = caller.request(&state, &id).await?;
    let Some(sha) = &request.application_sha256 else {
        return Err(Error::NotFound(
            "the 申请书 is made when every party has applied",
        ));
    };
    let bytes = read_blob(&state, sha, "the 申请书").await?;
    Ok(download(
        bytes,
        "application/pdf",
        &format!("application-{}.pdf", ascii(&request)),
        &format!("司法确认申请书-{}.pdf", case.number),
    ))
}

async fn package_zip(
    State(state): State<AppState>,
    Path(id): Path<String>,
    LinkCaller(caller): LinkCaller,
) -> Result<Response> {
    hit(&limits(&state).documents, caller.identity())?;
    let (request, _, case) = caller.request(&state, &id).await?;
    if !caller.mediates(&case) && !caller.court_of(&request) {
        return Err(Error::Forbidden(
            "the package holds the parties' ID numbers: only the case's mediators and the court download it",
        ));
    }
    let Some(sha) = &request.package_sha256 else {
        return Err(Error::NotFound(
            "the package is built when every party has applied",
        ));
    };
    let bytes = read_blob(&state, sha, "the package").await?;
    state
        .store()
        .record_package_download(&caller.actor(), &request.id, state.now_ms())
        .await?;
    Ok(download(
        bytes,
        "application/zip",
        &format!("confirmation-{}.zip", ascii(&request)),
        &format!("司法确认材料-{}.zip", case.number),
    ))
}

/// A ruling's type from its first bytes: the court uploads a PDF or an image.
fn ruling_type(bytes: &[u8]) -> (&'static str, &'static str) {
    match super::assemble::extension_of(bytes) {
        "pdf" => ("application/pdf", "pdf"),
        "png" => ("image/png", "png"),
        "jpg" => ("image/jpeg", "jpg"),
        _ => ("application/octet-stream", "bin"),
    }
}

async fn ruling(
    State(state): State<AppState>,
    Path(id): Path<String>,
    LinkCaller(caller): LinkCaller,
) -> Result<Response> {
    hit(&limits(&state).documents, caller.identity())?;
    let (request, _, case) = caller.request(&state, &id).await?;
    let Some(sha) = &request.ruling_sha256 else {
        return Err(Error::NotFound(
            "the court has not issued a ruling document",
        ));
    };
    let bytes = read_blob(&state, sha, "the ruling").await?;
    let (content_type, extension) = ruling_type(&bytes);
    Ok(download(
        bytes,
        content_type,
        &format!("ruling-{}.{extension}", ascii(&request)),
        &format!("民事裁定书-{}.{extension}", case.number),
    ))
}
