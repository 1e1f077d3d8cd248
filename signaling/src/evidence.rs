//! Evidence files as they arrive from phones: streaming one upload into the blob store while
//! checking its size and its kind; a session's share of evidence, counted on this node or
//! across the cluster's nodes; and any blob streamed back out as a response body. Which kinds
//! are taken, and how a file's kind and name are read, are the domain's rules
//! ([`accord_cases::evidence_files`], [`accord_cases::evidence_tally`]).

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};

use crate::AppState;
use crate::error::{Error, Result};
use accord_cases::SessionId;
use accord_cases::blobs::{BlobStore, BlobWriter};
use accord_cases::evidence_files::{SNIFF_LEN, clean_file_name, sniff};
use accord_cases::evidence_tally::ShareAsk;

/// Does what `ask` says on the evidence share of `session` (a case session's id; a plain
/// room's name), refusing (413) what is past it.
///
/// A single node counts in memory, starting a session from its record. Nodes of a cluster
/// count in Redis, so uploads through every node add up to one share; each call reads the
/// record's count first, which starts and catches up the shared count. With Redis
/// unreachable, the record's count decides: nothing is refused on a guess, and the share is
/// exceeded by at most the uploads in flight at that moment.
pub async fn session_share(state: &AppState, session: &str, ask: ShareAsk) -> Result<()> {
    let tally = &state.limits().evidence;
    let id = SessionId::from(session);
    let record = || state.store().evidence_shared_in_session(&id);
    let Some(redis) = state.cluster().redis() else {
        if !tally.knows(session) {
            let (files, bytes) = record().await?;
            tally.seed(session, files, bytes);
        }
        return Ok(tally.ask(session, ask)?);
    };
    let (files, bytes) = record().await?;
    let allowed = match redis
        .evidence_share(session, (files, bytes), ask, tally)
        .await
    {
        Ok(allowed) => allowed,
        Err(e) => {
            redis.unreachable(&e);
            tally.allows(files, bytes, ask)
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(tally.refusal().into())
    }
}

/// A blob's content as a response body, read 64 KiB at a time.
pub fn blob_body(reader: accord_cases::blobs::BlobReader) -> axum::body::Body {
    use tokio::io::AsyncReadExt;
    let chunks = futures_util::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        let mut buffer = vec![0u8; 64 * 1024];
        match reader.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(buffer), Some(reader)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    axum::body::Body::from_stream(chunks)
}

/// Largest evidence file unless configured: a phone photo or a scanned PDF fits easily.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Most files in one application.
pub const MAX_FILES: usize = 9;
/// Room for the multipart framing around one file.
pub const FRAMING_BYTES: usize = 64 * 1024;

/// An upload written to the blob store but not yet stored (see [`BlobWriter::finish`]).
pub struct Received {
    /// The unfinished blob.
    pub writer: Box<dyn BlobWriter>,
    /// What the content is.
    pub media_type: &'static str,
    /// The name the client gave, without any directory part.
    pub file_name: String,
}

/// Streams one multipart file into a new blob, refusing a kind we do not take (415) or a
/// file over `max_bytes` (413). A refused file's remaining bytes are read and dropped, so
/// the client, still sending, gets the answer rather than a reset connection.
pub async fn receive(
    field: &mut Field<'_>,
    blobs: &dyn BlobStore,
    max_bytes: u64,
) -> Result<Received> {
    let file_name = clean_file_name(field.file_name());
    let mut writer = blobs.writer().await?;
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF_LEN);
    let mut media_type = None;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if writer.written() + chunk.len() as u64 > max_bytes {
            drain(field).await?;
            return Err(Error::PayloadTooLarge(format!(
                "each file may be at most {} MiB",
                max_bytes / (1024 * 1024)
            )));
        }
        if media_type.is_none() {
            let wanted = SNIFF_LEN.saturating_sub(head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..wanted]);
            if head.len() >= SNIFF_LEN {
                let Some(known) = sniff(&head) else {
                    drain(field).await?;
                    return Err(Error::UnsupportedMediaType(UNSUPPORTED));
                };
                media_type = Some(known);
            }
        }
        writer.write(&chunk).await?;
    }
    // A file shorter than the sniffing window is judged on what there is.
    let media_type = match media_type {
        Some(known) => known,
        None => sniff(&head).ok_or(Error::UnsupportedMediaType(UNSUPPORTED))?,
    };
    if writer.written() == 0 {
        return Err(Error::UnsupportedMediaType(UNSUPPORTED));
    }
    Ok(Received {
        writer,
        media_type,
        file_name,
    })
}

const UNSUPPORTED: &str = "evidence files must be photos (JPEG, PNG, WebP, HEIC) or PDF";

/// Reads the rest of a field and drops it.
pub async fn drain(field: &mut Field<'_>) -> Result<()> {
    while field.chunk().await.map_err(multipart_error)?.is_some() {}
    Ok(())
}

/// The next field of an upload for the caller to read, or `None` at the end. Once the
/// upload was `refused`, the rest of the body is read and dropped here instead, so the
/// client, still sending, gets the refusal as an answer rather than a connection closed
/// under its upload.
pub async fn next_field(multipart: &mut Multipart, refused: bool) -> Result<Option<Field<'_>>> {
    if refused {
        while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
            drain(&mut field).await?;
        }
        return Ok(None);
    }
    multipart.next_field().await.map_err(multipart_error)
}

/// Drops a field the endpoint does not take, and says which ones it does.
pub async fn unexpected(field: &mut Field<'_>, name: &str, expected: &str) -> Result<Error> {
    drain(field).await?;
    Ok(Error::BadRequest(format!(
        "unexpected field `{name}`: send {expected}"
    )))
}

/// The largest body an upload endpoint takes: `files` files of `max_file_bytes` each, and
/// `form_bytes` for the multipart framing and any form fields around them. Each file is
/// checked again as it streams ([`receive`]).
pub fn body_limit(max_file_bytes: u64, files: usize, form_bytes: usize) -> usize {
    usize::try_from(max_file_bytes)
        .unwrap_or(usize::MAX)
        .saturating_mul(files)
        .saturating_add(form_bytes)
}

/// A broken or over-long multipart body.
pub fn multipart_error(e: MultipartError) -> Error {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge("the request is larger than this endpoint takes".into())
    } else {
        Error::BadRequest(format!(
            "the multipart body is malformed: {}",
            e.body_text()
        ))
    }
}
