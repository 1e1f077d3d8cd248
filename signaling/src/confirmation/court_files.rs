//! The package viewer's files: one file of a request's stored package, served to a court user
//! of its court inline, so the browser shows a PDF, a text or a picture in place. The package
//! is read from the blob store and the file found by its exact name in the ZIP; nothing is
//! unpacked to disk.

use std::io::{Cursor, Read as _};

use accord_cases::confirmation::package::{MANIFEST, Manifest};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use super::connector::{MAX_PACKAGE_BYTES, read_blob};
use super::inbox::CourtUser;
use crate::AppState;
use crate::error::{Error, Result};

/// The file route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/court/requests/{id}/files/{*path}", get(file))
}

/// The stored package's bytes.
async fn package_bytes(state: &AppState, sha256: &str) -> Result<Vec<u8>> {
    read_blob(state, sha256, MAX_PACKAGE_BYTES).await
}

/// The largest single file served out of a package: a video reference or a scan, never more.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The manifest of the package stored as `sha256`.
pub async fn manifest(state: &AppState, sha256: &str) -> Result<Manifest> {
    let bytes = package_bytes(state, sha256).await?;
    let manifest = read_file(&bytes, MANIFEST)?
        .ok_or_else(|| Error::Internal("a stored package has no manifest.json".into()))?;
    serde_json::from_slice(&manifest)
        .map_err(|e| Error::Internal(format!("a stored package's manifest does not parse: {e}")))
}

/// The bytes of the file named exactly `path` in the ZIP `package`, `None` if there is none.
/// The packages are ours (built and stored by the platform), so an unreadable one is our
/// failure; the size bound keeps a damaged entry from claiming all memory.
pub fn read_file(package: &[u8], path: &str) -> Result<Option<Vec<u8>>> {
    let unreadable = |e: zip::result::ZipError| Error::Internal(format!("a stored package: {e}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(package)).map_err(unreadable)?;
    let mut file = match archive.by_name(path) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    if file.is_dir() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Internal(format!("reading {path} from a stored package: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "{path} is larger than {} MiB",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    Ok(Some(bytes))
}

/// The Content-Type a file of the package is served with, by its extension.
pub fn content_type(path: &str) -> &'static str {
    let extension = path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "pdf" => "application/pdf",
        "txt" | "md" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// `GET /api/v1/court/requests/{id}/files/{*path}`: one file of the package.
async fn file(
    State(state): State<AppState>,
    user: CourtUser,
    Path((id, path)): Path<(String, String)>,
) -> Result<Response> {
    super::hit(&super::limits(&state).documents, &user.session.sub)?;
    let request = user.request(&state, &id).await?;
    let sha256 = request
        .package_sha256
        .as_deref()
        .ok_or(Error::NotFound("this request has no package"))?;
    let bytes = package_bytes(&state, sha256).await?;
    let content =
        read_file(&bytes, &path)?.ok_or(Error::NotFound("the package has no such file"))?;
    // The file's own name, percent-encoded: Chinese names survive every browser this way.
    let name = path.rsplit('/').next().unwrap_or(&path);
    let disposition = format!("inline; filename*=UTF-8''{}", percent_encode(name));
    let disposition =
        HeaderValue::from_str(&disposition).unwrap_or_else(|_| HeaderValue::from_static("inline"));
    Response::builder()
        .header(header::CONTENT_TYPE, content_type(&path))
        .header(header::CONTENT_DISPOSITION, disposition)
        // The package holds identity numbers and phones: no shared cache keeps it.
        .header(header::CACHE_CONTROL, "private, no-store")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(Body::from(content))
        .map_err(|e| Error::Internal(format!("building a file response: {e}")))
}

/// RFC 5987 percent-encoding of a file name.
fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_typed_by_extension() {
        assert_eq!(content_type("agreement/agreement.pdf"), "application/pdf");
        assert_eq!(content_type("index.zh.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type("a/B.JPG"), "image/jpeg");
        assert_eq!(
            content_type("recordings/RC_1/manifest.json"),
            "application/json"
        );
        assert_eq!(content_type("x.webm"), "video/webm");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(
            percent_encode("申请书.pdf"),
            "%E7%94%B3%E8%AF%B7%E4%B9%A6.pdf"
        );
    }
}
