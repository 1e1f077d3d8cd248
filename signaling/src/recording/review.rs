//! Reviewing a recording: the case's recordings, one recording with everything the review
//! page plays and shows, its files (with HTTP range requests, opened by ticket), the whole
//! recording as one ZIP, a fresh integrity check, and holds. Court users to whom the case was
//! sent, the case's organisation's mediators and administrators see recordings; anyone else
//! gets 404. Every view and download goes into the audit trail.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use accord_cases::ids::{CaseId, RecordingId};
use accord_cases::store::model::{IntegrityState, Recording, RecordingStatus};
use accord_cases::store::now_ms;
use accord_recordings::manifest::Manifest;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use super::finish;
use crate::AppState;
use crate::error::{Error, Result};
use crate::staff::StaffSession;

/// The review routes, and the published signing keys.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases/{case_id}/recordings", get(list))
        .route("/api/v1/recordings/{id}", get(detail))
        .route("/api/v1/recordings/{id}/files/{name}", get(file))
        .route("/api/v1/recordings/{id}/archive.zip", get(archive))
        .route("/api/v1/recordings/{id}/verify", post(verify))
        .route("/api/v1/recordings/{id}/hold", post(hold))
        .route("/.well-known/accord/signing-keys.json", get(signing_keys))
}

/// A recording in a case's list.
#[derive(Debug, Serialize)]
struct Summary {
    id: String,
    session_id: String,
    status: RecordingStatus,
    started_at: i64,
    ended_at: Option<i64>,
    duration_ms: Option<i64>,
    integrity: IntegrityState,
    hold: bool,
    delete_after: Option<i64>,
}

impl From<&Recording> for Summary {
    fn from(r: &Recording) -> Self {
        Self {
            id: r.id.to_string(),
            session_id: r.session_id.to_string(),
            status: r.status,
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_ms: r.ended_at.map(|end| end.saturating_sub(r.started_at)),
            integrity: r.integrity,
            hold: r.hold,
            delete_after: r.delete_after,
        }
    }
}

/// `GET /api/v1/cases/{case_id}/recordings`.
async fn list(
    State(state): State<AppState>,
    session: StaffSession,
    Path(case_id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let case = state
        .store()
        .visible_case(&session.viewer(), &CaseId::from(case_id.as_str()))
        .await?;
    let recordings = state.store().recordings_of_case(&case.id).await?;
    let summaries: Vec<Summary> = recordings.iter().map(Summary::from).collect();
    Ok(Json(serde_json::json!({ "recordings": summaries })))
}

async fn visible(state: &AppState, session: &StaffSession, id: &str) -> Result<Recording> {
    let (recording, _case) = state
        .store()
        .visible_recording(&session.viewer(), &RecordingId::from(id))
        .await?;
    Ok(recording)
}

#[derive(Debug, Serialize)]
struct TrackView {
    name: String,
    kind: String,
    participant_id: String,
    participant_name: Option<String>,
    role: Option<String>,
    space: String,
    start_ms: u64,
    end_ms: u64,
    size: i64,
    url: String,
}

#[derive(Debug, Serialize)]
struct MixedView {
    name: String,
    start_ms: u64,
    end_ms: u64,
    size: i64,
    url: String,
}

#[derive(Debug, Serialize)]
struct Span {
    from_ms: u64,
    to_ms: u64,
}

#[derive(Debug, Serialize)]
struct GapView {
    participant_id: String,
    participant_name: Option<String>,
    from_ms: u64,
    to_ms: u64,
}

#[derive(Debug, Serialize)]
struct TimelineEntry {
    at_ms: i64,
    kind: String,
    text: Option<String>,
    participant_name: Option<String>,
    role: Option<String>,
    subject_name: Option<String>,
    space: Option<String>,
}

#[derive(Debug, Serialize)]
struct Verification {
    state: IntegrityState,
    checked_at: Option<i64>,
    key_id: Option<String>,
    problems: Vec<accord_cases::store::model::IntegrityProblem>,
}

/// `GET /api/v1/recordings/{id}`: everything the review page needs.
async fn detail(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let record = visible(&state, &session, &id).await?;
    state
        .store()
        .recording_viewed(&session.actor(), &record)
        .await?;
    let now = now_ms();
    let (ticket, ticket_expires_at) =
        state
            .recorders()
            .tickets()
            .issue(record.id.as_str(), session.0.sub.as_str(), now);
    let url = |name: &str| {
        format!(
            "/api/v1/recordings/{}/files/{}?ticket={ticket}",
            record.id,
            urlencode(name)
        )
    };
    let files = state.store().recording_files(&record.id).await?;
    let size_of = |name: &str| files.iter().find(|f| f.name == name).map_or(0, |f| f.size);
    let manifest = match files.iter().find(|f| f.name == "manifest.json") {
        Some(f) => read_manifest(&state, &f.sha256).await?,
        None => None,
    };
    let events = state.store().session_events(&record.session_id).await?;
    let names: HashMap<String, String> = events
        .iter()
        .filter_map(|e| Some((e.actor_identity.clone()?, e.actor_name.clone()?)))
        .collect();
    let mut tracks = Vec::new();
    let mut mixed = None;
    let mut pauses = Vec::new();
    let mut gaps = Vec::new();
    let mut key_id = None;
    if let Some(m) = &manifest {
        key_id = Some(m.key_id.clone());
        for t in &m.tracks {
            let Some(name) = &t.file else { continue };
            tracks.push(TrackView {
                name: name.clone(),
                kind: t.kind.clone(),
                participant_id: t.participant_id.clone(),
                participant_name: names.get(&t.participant_id).cloned(),
                role: t.role.clone(),
                space: t.space.clone(),
                start_ms: t.start_ms,
                end_ms: t.end_ms,
                size: size_of(name),
                url: url(name),
            });
        }
        mixed = m.mixed_audio.as_ref().map(|a| MixedView {
            name: a.file.clone(),
            start_ms: a.start_ms,
            end_ms: a.end_ms,
            size: size_of(&a.file),
            url: url(&a.file),
        });
        pauses = m
            .pauses
            .iter()
            .map(|p| Span {
                from_ms: p.from_ms,
                to_ms: p.to_ms,
            })
            .collect();
        gaps = m
            .private_rooms
            .gaps
            .iter()
            .map(|g| GapView {
                participant_id: g.participant_id.clone(),
                participant_name: names.get(&g.participant_id).cloned(),
                from_ms: g.from_ms,
                to_ms: g.to_ms,
            })
            .collect();
    }
    let origin = manifest.as_ref().map_or(record.started_at, |m| {
        i64::try_from(m.started_at_ms).unwrap_or(0)
    });
    let timeline: Vec<TimelineEntry> = events
        .iter()
        .map(|e| TimelineEntry {
            at_ms: e.at - origin,
            kind: e.kind.as_str().to_owned(),
            text: e.detail.clone(),
            participant_name: e.actor_name.clone(),
            role: e.actor_role.clone(),
            subject_name: e.subject_name.clone(),
            space: e.space.clone(),
        })
        .collect();
    let mut body = serde_json::to_value(Summary::from(&record))
        .map_err(|e| Error::Internal(format!("a recording's summary: {e}")))?;
    let extra = serde_json::json!({
        "case_id": record.case_id,
        "private_rooms_recorded": record.private_rooms_recorded,
        "duration_ms": manifest.as_ref().map(|m| m.duration_ms),
        "ticket": ticket,
        "ticket_expires_at": ticket_expires_at,
        "tracks": tracks,
        "mixed_audio": mixed,
        "pauses": pauses,
        "gaps": gaps,
        "timeline": timeline,
        "verification": Verification {
            state: record.integrity,
            checked_at: record.integrity_checked_at,
            key_id,
            problems: record.integrity_problems.clone(),
        },
        "downloads": {
            "archive_url": format!("/api/v1/recordings/{}/archive.zip?ticket={ticket}", record.id),
            "manifest_url": url("manifest.json"),
        },
    });
    if let (Some(target), serde_json::Value::Object(more)) = (body.as_object_mut(), extra) {
        for (k, v) in more {
            if !(k == "duration_ms" && v.is_null()) {
                target.insert(k, v);
            }
        }
    }
    Ok(Json(body))
}

async fn read_manifest(state: &AppState, sha256: &str) -> Result<Option<Manifest>> {
    let Some(mut reader) = state.blobs().open(sha256).await? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| Error::Internal(format!("reading a manifest: {e}")))?;
    Ok(serde_json::from_slice(&bytes).ok())
}

fn urlencode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `?ticket=` on file and archive URLs.
#[derive(Debug, Deserialize)]
struct TicketQuery {
    ticket: String,
}

/// Downloads already audited, per ticket and file, so a player's repeated requests for the
/// start of a file are one entry, not hundreds.
static AUDITED: Mutex<Option<HashSet<(String, String)>>> = Mutex::new(None);

fn first_download(ticket: &str, name: &str) -> bool {
    let mut audited = AUDITED.lock().unwrap_or_else(|p| p.into_inner());
    let set = audited.get_or_insert_with(HashSet::new);
    if set.len() > 100_000 {
        set.clear();
    }
    set.insert((ticket.to_owned(), name.to_owned()))
}

async fn ticketed(state: &AppState, id: &str, ticket: &str) -> Result<(Recording, String)> {
    let checked = state
        .recorders()
        .tickets()
        .check(ticket, id, now_ms())
        .ok_or(Error::NotFound("no such recording"))?;
    let record = state
        .store()
        .recording(&RecordingId::from(id))
        .await
        .map_err(|e| match e {
            accord_cases::Error::NotFound(_) => Error::NotFound("no such recording"),
            other => other.into(),
        })?;
    if !record.status.has_files() {
        return Err(Error::NotFound("no such recording"));
    }
    Ok((record, checked.staff_id))
}

/// `GET /api/v1/recordings/{id}/files/{name}?ticket=…`, with range requests.
async fn file(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    Query(query): Query<TicketQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let (record, staff) = ticketed(&state, &id, &query.ticket).await?;
    let files = state.store().recording_files(&record.id).await?;
    let entry = files
        .iter()
        .find(|f| f.name == name)
        .ok_or(Error::NotFound("no such file"))?;
    let size = u64::try_from(entry.size).unwrap_or(0);
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size));
    let (start, end) = match range {
        None | Some(RangeAsked::Ignored) => (0, size.saturating_sub(1)),
        Some(RangeAsked::Bytes(start, end)) => (start, end),
        Some(RangeAsked::Unsatisfiable) => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
    };
    if start == 0 && first_download(&query.ticket, &name) {
        state
            .store()
            .recording_downloaded(
                &accord_cases::store::model::Actor::Staff(staff.as_str().into()),
                &record,
                &name,
            )
            .await?;
    }
    let partial = matches!(range, Some(RangeAsked::Bytes(..)));
    let length = if size == 0 { 0 } else { end - start + 1 };
    let mut response = if length == 0 {
        axum::body::Body::empty().into_response()
    } else {
        let (reader, _) = state
            .blobs()
            .open_range(&entry.sha256, start, Some(end))
            .await?
            .ok_or_else(|| Error::Internal(format!("the file {name} of a recording is missing")))?;
        crate::evidence::blob_body(reader).into_response()
    };
    if partial {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&name)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".webm") {
        if name.contains("audio") {
            "audio/webm"
        } else {
            "video/webm"
        }
    } else if name.ends_with(".mkv") {
        "video/x-matroska"
    } else if name.ends_with(".json") || name.ends_with(".sig") {
        "application/json"
    } else if name.ends_with(".jsonl") {
        "application/x-ndjson"
    } else {
        "application/octet-stream"
    }
}

/// What a `Range` header asks for, against a file of a known size.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsked {
    /// Inclusive byte positions.
    Bytes(u64, u64),
    /// Nothing of the file (416).
    Unsatisfiable,
    /// Not a single byte range we serve (several ranges, another unit): the whole file.
    Ignored,
}

fn parse_range(value: &str, size: u64) -> RangeAsked {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsked::Ignored;
    };
    if spec.contains(',') {
        return RangeAsked::Ignored;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAsked::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.is_empty(), last.is_empty()) {
        (true, false) => last.parse::<u64>().ok().map(|n| {
            if n == 0 {
                (1, 0)
            } else {
                (size.saturating_sub(n), size.saturating_sub(1))
            }
        }),
        (false, _) => first.parse::<u64>().ok().and_then(|start| {
            let end = if last.is_empty() {
                Some(size.saturating_sub(1))
            } else {
                last.parse::<u64>()
                    .ok()
                    .map(|e| e.min(size.saturating_sub(1)))
            };
            end.map(|end| (start, end))
        }),
        (true, true) => None,
    };
    match parsed {
        None => RangeAsked::Ignored,
        Some((start, end)) if size == 0 || start > end || start >= size => {
            RangeAsked::Unsatisfiable
        }
        Some((start, end)) => RangeAsked::Bytes(start, end),
    }
}

/// `GET /api/v1/recordings/{id}/archive.zip?ticket=…`: every file and the signed manifest,
/// checkable offline with `accord verify`.
async fn archive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<TicketQuery>,
) -> Result<Response> {
    let (record, staff) = ticketed(&state, &id, &query.ticket).await?;
    let folder = materialise(&state, &record).await?;
    let zip_path = folder.path().join("..").join(format!("{}.zip", record.id));
    let dir = folder.path().to_path_buf();
    let out = zip_path.clone();
    tokio::task::spawn_blocking(move || -> accord_recordings::Result<()> {
        let file = std::fs::File::create(&out)
            .map_err(|e| accord_recordings::Error::io("creating an archive", e))?;
        accord_recordings::archive::write_zip(&dir, file)
    })
    .await
    .map_err(|e| Error::Internal(format!("building an archive: {e}")))??;
    state
        .store()
        .recording_downloaded(
            &accord_cases::store::model::Actor::Staff(staff.as_str().into()),
            &record,
            "archive.zip",
        )
        .await?;
    let file = tokio::fs::File::open(&zip_path)
        .await
        .map_err(|e| Error::Internal(format!("opening an archive: {e}")))?;
    let size = file
        .metadata()
        .await
        .map_err(|e| Error::Internal(format!("an archive's size: {e}")))?
        .len();
    // The open file stays readable after its name is gone; the folder goes with `folder`.
    let _ = tokio::fs::remove_file(&zip_path).await;
    drop(folder);
    let mut response = crate::evidence::blob_body(Box::pin(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"recording-{}.zip\"",
        record.id
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// A temporary folder holding a stored recording's files under their names, as the recorder
/// wrote them (for the archive and for checking).
async fn materialise(state: &AppState, record: &Recording) -> Result<tempfile::TempDir> {
    let base = state.recorders().settings().recorder.work_dir.join("tmp");
    tokio::fs::create_dir_all(&base)
        .await
        .map_err(|e| Error::Internal(format!("creating {}: {e}", base.display())))?;
    let folder = tempfile::Builder::new()
        .prefix("review-")
        .tempdir_in(&base)
        .map_err(|e| Error::Internal(format!("a temporary folder: {e}")))?;
    for f in state.store().recording_files(&record.id).await? {
        let mut reader = state.blobs().open(&f.sha256).await?.ok_or_else(|| {
            Error::Internal(format!("the file {} of a recording is missing", f.name))
        })?;
        let mut out = tokio::fs::File::create(folder.path().join(&f.name))
            .await
            .map_err(|e| Error::Internal(format!("copying {}: {e}", f.name)))?;
        tokio::io::copy(&mut reader, &mut out)
            .await
            .map_err(|e| Error::Internal(format!("copying {}: {e}", f.name)))?;
    }
    Ok(folder)
}

/// `POST /api/v1/recordings/{id}/verify`: checks the stored files against the signed
/// manifest now, and records the result.
async fn verify(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let record = visible(&state, &session, &id).await?;
    if !record.status.has_files() {
        return Err(Error::Conflict(
            "the recording has no files to check yet".into(),
        ));
    }
    let folder = materialise(&state, &record).await?;
    let dir = folder.path().to_path_buf();
    let trusted = state.recorders().keys().public_keys();
    let report = tokio::task::spawn_blocking(move || {
        accord_recordings::verify::verify_recording(&dir, Some(&trusted))
    })
    .await
    .map_err(|e| Error::Internal(format!("verifying a recording: {e}")))??;
    finish::record_integrity(&state, &record.id, &report).await?;
    let record = state.store().recording(&record.id).await?;
    Ok(Json(serde_json::json!({
        "state": record.integrity,
        "checked_at": record.integrity_checked_at,
        "key_id": report.key_id,
        "problems": record.integrity_problems,
    })))
}

/// `POST /api/v1/recordings/{id}/hold`.
#[derive(Debug, Deserialize)]
struct HoldRequest {
    hold: bool,
    #[serde(default)]
    reason: Option<String>,
}

async fn hold(
    State(state): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    body: std::result::Result<Json<HoldRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>> {
    let Json(request) = body?;
    let record = visible(&state, &session, &id).await?;
    let record = state
        .store()
        .set_recording_hold(
            &session.actor(),
            &record.id,
            request.hold,
            request.reason.as_deref(),
        )
        .await?;
    Ok(Json(serde_json::to_value(Summary::from(&record)).map_err(
        |e| Error::Internal(format!("a recording's summary: {e}")),
    )?))
}

/// `GET /.well-known/accord/signing-keys.json`: the platform's public keys, for checking
/// recordings (and later packages) offline.
async fn signing_keys(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "keys": state.recorders().keys().public_keys() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_players_send_them() {
        assert_eq!(parse_range("bytes=0-", 100), RangeAsked::Bytes(0, 99));
        assert_eq!(parse_range("bytes=10-19", 100), RangeAsked::Bytes(10, 19));
        assert_eq!(parse_range("bytes=90-200", 100), RangeAsked::Bytes(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeAsked::Bytes(90, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAsked::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAsked::Ignored);
        assert_eq!(parse_range("items=0-1", 100), RangeAsked::Ignored);
        assert_eq!(parse_range("bytes=-0", 100), RangeAsked::Unsatisfiable);
    }
}
