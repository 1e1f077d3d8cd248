//! The agreement's PDF at the edge: what goes on it is gathered from the store (the frozen
//! text of the sealed version, the signatures with their drawn images from the blob store,
//! the seal) and laid out by the domain ([`accord_cases::agreements::pdf::render`]); the bytes
//! are kept in the blob store and named on the seal, so every download is the same file.

use std::path::PathBuf;
use std::sync::Mutex;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;

use super::caller::Caller;
use super::signing::MAX_IMAGE_BYTES;
use super::signing_limits::{hit, limits};
use crate::AppState;
use crate::error::{Error, Result};
use accord_cases::AgreementId;
use accord_cases::agreements::document::label;
use accord_cases::agreements::model::AgreementStatus;
use accord_cases::agreements::pdf::{
    AgreementDocument, DEFAULT_FONT_INDEX, DEFAULT_FONT_PATH, FontSource, PdfClause, PdfLocale,
    PdfSeal, PdfSignature, render,
};
use accord_cases::store::model::Side;
use accord_cases::store::{SignatureRecord, SignerRole, SignerStatus};

/// The font agreements are set in: an OpenType CJK font, one face of a collection
/// (`[agreements] font_path`, `font_index`; `ACCORD_AGREEMENT_FONT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgreementFont {
    /// The font file.
    pub path: PathBuf,
    /// The face of a collection (`.ttc`); 0 for a single font.
    pub index: u32,
}

impl Default for AgreementFont {
    fn default() -> Self {
        Self {
            path: PathBuf::from(DEFAULT_FONT_PATH),
            index: DEFAULT_FONT_INDEX,
        }
    }
}

/// The loaded font, kept after the first PDF: the collection is tens of megabytes.
static FONT: Mutex<Option<(AgreementFont, FontSource)>> = Mutex::new(None);

async fn font(setting: &AgreementFont) -> Result<FontSource> {
    {
        let cached = FONT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((loaded, source)) = cached.as_ref()
            && loaded == setting
        {
            return Ok(source.clone());
        }
    }
    let wanted = setting.clone();
    let source = tokio::task::spawn_blocking(move || FontSource::load(&wanted.path, wanted.index))
        .await
        .map_err(|e| Error::Internal(format!("loading the agreement font: {e}")))?
        .map_err(unavailable)?;
    *FONT.lock().unwrap_or_else(|p| p.into_inner()) = Some((setting.clone(), source.clone()));
    Ok(source)
}

/// A PDF that cannot be made now (the font is missing) is the installation's to fix; the
/// agreement itself stands.
fn unavailable(e: accord_cases::Error) -> Error {
    let detail = match e {
        accord_cases::Error::Internal(m) => m,
        other => other.to_string(),
    };
    Error::Unavailable(format!(
        "the agreement is in force, but its PDF cannot be made now: {detail}"
    ))
}

/// The address the verification QR code points at: the configured public address, else the
/// origin the request came to.
pub fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = state.config().public_url.as_deref() {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| p.eq_ignore_ascii_case("https"))
        .map_or("http", |_| "https");
    format!("{scheme}://{host}")
}

/// The frozen text split back into what the PDF prints: title, parties block, clauses. Each
/// line after the parties is a paragraph; one that starts with the next clause label is
/// that numbered clause (a facts clause or a clause's second line prints as it reads).
fn split_text(text: &str, locale: &str) -> (String, Vec<String>, Vec<PdfClause>) {
    let mut blocks = text.splitn(3, "\n\n");
    let title = blocks.next().unwrap_or_default().to_owned();
    let parties = blocks
        .next()
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut clauses = Vec::new();
    let mut number = 1;
    for line in blocks.next().unwrap_or_default().lines() {
        let next = label(locale, number);
        match line.strip_prefix(&format!("{next} ")) {
            Some(rest) => {
                clauses.push(PdfClause {
                    label: Some(next),
                    text: rest.to_owned(),
                });
                number += 1;
            }
            None => clauses.push(PdfClause {
                label: None,
                text: line.to_owned(),
            }),
        }
    }
    (title, parties, clauses)
}

fn role_label(record: &SignatureRecord, locale: PdfLocale) -> String {
    let zh = locale == PdfLocale::ZhCn;
    match (record.role, record.side, zh) {
        (SignerRole::Mediator, _, true) => "调解员",
        (SignerRole::Mediator, _, false) => "Mediator",
        (SignerRole::Representative, _, true) => "委托代理人",
        (SignerRole::Representative, _, false) => "Representative",
        (SignerRole::Party, Some(Side::Respondent), true) => "被申请人",
        (SignerRole::Party, Some(Side::Respondent), false) => "Respondent",
        (SignerRole::Party, _, true) => "申请人",
        (SignerRole::Party, _, false) => "Applicant",
    }
    .to_owned()
}

async fn drawn_image(state: &AppState, sha256: Option<&str>) -> Result<Vec<u8>> {
    let Some(sha256) = sha256 else {
        return Ok(Vec::new());
    };
    let Some(reader) = state.blobs().open(sha256).await? else {
        return Err(Error::Internal(format!(
            "the drawn signature {sha256} is missing from the blob store"
        )));
    };
    let mut image = Vec::new();
    reader
        .take(MAX_IMAGE_BYTES as u64 + 1)
        .read_to_end(&mut image)
        .await
        .map_err(|e| Error::Internal(format!("reading a drawn signature: {e}")))?;
    Ok(image)
}

/// What the PDF of `agreement_id`'s sealed version prints.
async fn document(
    state: &AppState,
    agreement_id: &AgreementId,
    base: &str,
) -> Result<AgreementDocument> {
    let store = state.store();
    let agreement = store.agreement(agreement_id).await?;
    if agreement.status != AgreementStatus::InForce {
        return Err(Error::Conflict(
            "the agreement is not in force yet; its PDF is made when it is sealed".into(),
        ));
    }
    let version = store
        .current_final(agreement_id)
        .await?
        .ok_or_else(|| Error::Internal("an agreement in force without its version".into()))?;
    let seal = store
        .seal_of(agreement_id)
        .await?
        .ok_or_else(|| Error::Internal("an agreement in force without its seal".into()))?;
    let case = store.case(&agreement.case_id).await?;
    let organisation = store.organisation(&case.organisation_id).await?.name;
    let mediator = match case.mediator_id.as_ref() {
        Some(id) => store.staff(id).await?.display_name,
        None => String::new(),
    };
    let locale = PdfLocale::parse(&agreement.locale)?;
    let (title, parties, clauses) = split_text(&version.text, &agreement.locale);
    let mut signatures = Vec::new();
    for record in store
        .signature_records(agreement_id, version.version)
        .await?
    {
        let signed = record.status == SignerStatus::Signed;
        signatures.push(PdfSignature {
            name: record.name.clone(),
            role: role_label(&record, locale),
            signed_at: signed.then_some(record.at),
            image_png: drawn_image(state, record.image_sha256.as_deref()).await?,
            declined_reason: record.declined_reason.clone(),
        });
    }
    Ok(AgreementDocument {
        title,
        locale,
        case_number: case.number,
        organisation: organisation.clone(),
        mediator,
        parties,
        clauses,
        text_sha256: version.text_sha256.clone(),
        version: version.version,
        finalised_at: version.finalised_at,
        effective_at: Some(seal.effective_at),
        signatures,
        seal: Some(PdfSeal {
            organisation,
            key_id: seal.key_id,
            sealed_at: seal.sealed_at,
        }),
        verify_url: format!("{base}/v/{}", version.text_sha256),
    })
}

/// Makes the sealed agreement's PDF, keeps it in the blob store and names it on the seal.
/// Returns the bytes.
pub async fn make(state: &AppState, agreement_id: &AgreementId, base: &str) -> Result<Vec<u8>> {
    let doc = document(state, agreement_id, base).await?;
    let font = font(&state.config().agreement_font).await?;
    let version = doc.version;
    let pdf = tokio::task::spawn_blocking(move || render(&doc, &font))
        .await
        .map_err(|e| Error::Internal(format!("rendering the agreement: {e}")))?
        .map_err(unavailable)?;
    let mut writer = state.blobs().writer().await?;
    writer.write(&pdf).await?;
    let blob = writer.finish().await?;
    state
        .store()
        .set_seal_pdf(agreement_id, version, &blob.sha256)
        .await?;
    Ok(pdf)
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

fn disposition(case_number: &str) -> HeaderValue {
    let ascii: String = case_number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let value = format!(
        "attachment; filename=\"agreement-{ascii}.pdf\"; filename*={}",
        rfc5987(&format!("调解协议书-{case_number}.pdf"))
    );
    // Every byte is ASCII by construction, so the header is always valid.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

pub(crate) async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response> {
    let (agreement, case) = caller.agreement(&state, &id).await?;
    hit(&limits(&state).pdf, caller.identity())?;
    if agreement.status != AgreementStatus::InForce {
        return Err(Error::Conflict(
            "the agreement is not in force yet; its PDF is made when it is sealed".into(),
        ));
    }
    let stored = match state.store().seal_of(&agreement.id).await? {
        Some(seal) => match seal.pdf_sha256 {
            Some(sha) => match state.blobs().open(&sha).await? {
                Some(mut reader) => {
                    let mut pdf = Vec::new();
                    reader
                        .read_to_end(&mut pdf)
                        .await
                        .map_err(|e| Error::Internal(format!("reading the PDF: {e}")))?;
                    Some(pdf)
                }
                None => None,
            },
            None => None,
        },
        None => None,
    };
    let pdf = match stored {
        Some(pdf) => pdf,
        None => make(&state, &agreement.id, &public_base(&state, &headers)).await?,
    };
    let mut response = pdf.into_response();
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    out.insert(header::CONTENT_DISPOSITION, disposition(&case.number));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_encoded_as_rfc_5987_says() {
        assert_eq!(rfc5987("a b.pdf"), "UTF-8''a%20b.pdf");
        assert_eq!(
            rfc5987("调解协议书-1.pdf"),
            "UTF-8''%E8%B0%83%E8%A7%A3%E5%8D%8F%E8%AE%AE%E4%B9%A6-1.pdf"
        );
    }

    #[test]
    fn the_frozen_text_splits_into_title_parties_and_numbered_clauses() {
        let text =
            "人民调解协议书\n\n申请人：张三\n被申请人：李四\n\n事实\n第一条 付款\n第二条 违约";
        let (title, parties, clauses) = split_text(text, "zh-CN");
        assert_eq!(title, "人民调解协议书");
        assert_eq!(parties, vec!["申请人：张三", "被申请人：李四"]);
        assert_eq!(clauses.len(), 3);
        assert_eq!(clauses[0].label, None);
        assert_eq!(clauses[1].label.as_deref(), Some("第一条"));
        assert_eq!(clauses[1].text, "付款");
        assert_eq!(clauses[2].label.as_deref(), Some("第二条"));
    }
}
