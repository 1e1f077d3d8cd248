//! Evidence files as they arrive from phones: which kinds are taken, how large, and
//! streaming one upload into the blob store while checking both.
//!
//! The kind is read from the file's first bytes, never from the name or the Content-Type a
//! client sends: a renamed program is refused whatever it claims to be.

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};

use crate::error::{Error, Result};
use accord_cases::blobs::{BlobStore, BlobWriter};

/// Largest evidence file unless configured: a phone photo or a scanned PDF fits easily.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Most files in one application.
pub const MAX_FILES: usize = 9;
/// Room for the multipart framing around one file.
pub const FRAMING_BYTES: usize = 64 * 1024;

/// Bytes needed to tell every accepted kind apart.
const SNIFF_LEN: usize = 12;

/// HEIF brands of HEIC photos (iPhones) and of HEIF image collections.
const HEIC_BRANDS: &[&[u8; 4]] = &[
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
];

/// The media type of a file from its first bytes, if it is an accepted kind: JPEG, PNG,
/// WebP, HEIC or PDF.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else if head.len() >= 12
        && &head[4..8] == b"ftyp"
        && HEIC_BRANDS.iter().any(|brand| &head[8..12] == *brand)
    {
        Some("image/heic")
    } else if head.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

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

/// The last path component of a client's file name, at most 200 characters, without
/// control or invisible formatting characters; the name is only shown to staff, never used
/// as a path.
fn clean_file_name(name: Option<&str>) -> String {
    let base = name
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c))
        .take(200)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "evidence".into()
    } else {
        cleaned.to_owned()
    }
}

/// Bidirectional overrides, embeddings and isolates, marks and zero-width characters: a
/// right-to-left override shows `invoice\u{202E}gpj.exe` to staff as `invoiceexe.jpg`.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_kinds_are_told_by_their_first_bytes() {
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01"),
            Some("image/jpeg")
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\x0d"), Some("image/png"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Some("image/heic"));
        assert_eq!(sniff(b"%PDF-1.7\n%\xE2\xE3"), Some("application/pdf"));
    }

    #[test]
    fn programs_and_other_containers_are_refused() {
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0"), None);
        assert_eq!(sniff(b"\x7FELF\x02\x01\x01\0\0\0\0\0"), None);
        // An MP4 video is an ISO-BMFF file too, but not a HEIF image.
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0"), None);
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn file_names_lose_their_directories() {
        assert_eq!(clean_file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_file_name(Some("C:\\photos\\漏水.jpg")), "漏水.jpg");
        assert_eq!(clean_file_name(None), "evidence");
    }

    #[test]
    fn file_names_lose_bidi_and_invisible_characters() {
        assert_eq!(
            clean_file_name(Some("invoice\u{202E}gpj.exe")),
            "invoicegpj.exe"
        );
        assert_eq!(
            clean_file_name(Some("\u{2067}合同\u{200B}.pdf\u{2069}")),
            "合同.pdf"
        );
        assert_eq!(clean_file_name(Some("\u{202E}\u{FEFF}")), "evidence");
    }
}
