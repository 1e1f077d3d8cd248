//! The agreement as a PDF every party receives byte for byte the same.
//!
//! [`render`] lays the agreement out on A4 pages (title, case number and version, the
//! parties, the clauses with their labels, then the signatures, the seal, the text's
//! SHA-256 and a QR code of the verification address) and writes it with krilla, embedding
//! a subset of a CJK font so Chinese reads on any viewer. Nothing in the output depends on
//! the clock or on chance: the creation date is the agreement's own (effective, else
//! finalised) time and krilla derives the document id from the content, so rendering the
//! same [`AgreementDocument`] twice gives identical bytes.

mod draw;
mod layout;
mod metrics;
pub(crate) mod wrap;

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use serde::{Serialize, Serializer};

use crate::{Error, Result};

/// Where Debian and Ubuntu's `fonts-noto-cjk` package puts the Noto Sans CJK collection.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

/// The face of [`DEFAULT_FONT_PATH`] that is "Noto Sans CJK SC" (Simplified Chinese glyph
/// forms). The collection holds JP, KR, SC, TC, HK in that order, then the Mono faces;
/// `fc-query -f '%{index}: %{family[0]}\n' NotoSansCJK-Regular.ttc` prints `2: Noto Sans
/// CJK SC`.
pub const DEFAULT_FONT_INDEX: u32 = 2;

/// The language the agreement is written in; it picks the words the PDF adds (headings,
/// page numbers, captions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PdfLocale {
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl PdfLocale {
    /// Reads an agreement's locale code (`zh-CN` or `en`).
    pub fn parse(code: &str) -> Result<Self> {
        match code {
            "zh-CN" => Ok(PdfLocale::ZhCn),
            "en" => Ok(PdfLocale::En),
            other => Err(Error::BadRequest(format!(
                "unknown agreement locale `{other}`; expected `zh-CN` or `en`"
            ))),
        }
    }
}

/// Everything printed on the agreement. Plain data: the caller masks ID numbers and phones
/// in `parties` before it gets here.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementDocument {
    /// e.g. "人民调解协议书".
    pub title: String,
    /// The agreement's language.
    pub locale: PdfLocale,
    /// The case number as printed on the case.
    pub case_number: String,
    /// The mediation organisation's name.
    pub organisation: String,
    /// The case's mediator.
    pub mediator: String,
    /// The parties block, one line each, already masked.
    pub parties: Vec<String>,
    /// The clauses in order.
    pub clauses: Vec<PdfClause>,
    /// SHA-256 of the canonical text, lowercase hex.
    pub text_sha256: String,
    /// The finalised version this PDF prints.
    pub version: i64,
    /// When the version was finalised, Unix ms.
    pub finalised_at: i64,
    /// When the agreement came into force (sealed), Unix ms.
    pub effective_at: Option<i64>,
    /// Every signer, in the order they are listed on the agreement.
    pub signatures: Vec<PdfSignature>,
    /// The organisation's electronic seal, once applied.
    pub seal: Option<PdfSeal>,
    /// The public address that checks the text's hash; printed and drawn as a QR code.
    pub verify_url: String,
}

/// One clause as shown.
#[derive(Debug, Clone, Serialize)]
pub struct PdfClause {
    /// "第一条" / "Article 1"; `None` for unnumbered (facts) clauses.
    pub label: Option<String>,
    /// The clause text.
    pub text: String,
}

/// One signer's line in the signatures section.
#[derive(Debug, Clone, Serialize)]
pub struct PdfSignature {
    /// The signer's name.
    pub name: String,
    /// The role as printed: "申请人", "委托代理人", "调解员", "Applicant" ….
    pub role: String,
    /// When they signed, Unix ms; `None` when they declined or have not signed.
    pub signed_at: Option<i64>,
    /// The drawn signature as PNG; empty when there is none.
    #[serde(serialize_with = "as_base64")]
    pub image_png: Vec<u8>,
    /// Why they declined, when they did.
    pub declined_reason: Option<String>,
}

/// The organisation's electronic seal.
#[derive(Debug, Clone, Serialize)]
pub struct PdfSeal {
    /// The organisation named on the seal.
    pub organisation: String,
    /// The seal key's id.
    pub key_id: String,
    /// When the seal was applied, Unix ms.
    pub sealed_at: i64,
}

fn as_base64<S: Serializer>(bytes: &[u8], serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A font file (or one face of a collection) to set the agreement in. Must cover the
/// agreement's script; Noto Sans CJK covers Chinese and Latin.
#[derive(Clone)]
pub struct FontSource {
    data: Arc<Vec<u8>>,
    index: u32,
}

impl std::fmt::Debug for FontSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FontSource")
            .field("bytes", &self.data.len())
            .field("index", &self.index)
            .finish()
    }
}

impl FontSource {
    /// Reads face `index` of the font file at `path`, checking that it is a font this
    /// module can measure and krilla can embed.
    pub fn load(path: &Path, index: u32) -> Result<Self> {
        let data = std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Internal(format!(
                    "the agreement font {} is missing; install fonts-noto-cjk or set the \
                     agreement font path to an OpenType CJK font",
                    path.display()
                ))
            } else {
                Error::Internal(format!(
                    "the agreement font {} cannot be read: {e}",
                    path.display()
                ))
            }
        })?;
        Self::from_bytes(data, index)
    }

    /// The default font: face [`DEFAULT_FONT_INDEX`] of [`DEFAULT_FONT_PATH`].
    pub fn load_default() -> Result<Self> {
        Self::load(Path::new(DEFAULT_FONT_PATH), DEFAULT_FONT_INDEX)
    }

    /// A font already in memory.
    pub fn from_bytes(data: Vec<u8>, index: u32) -> Result<Self> {
        let source = FontSource {
            data: Arc::new(data),
            index,
        };
        source.metrics()?;
        source.krilla_font()?;
        Ok(source)
    }

    pub(crate) fn metrics(&self) -> Result<metrics::Metrics> {
        metrics::Metrics::new(self.data.clone(), self.index)
    }

    pub(crate) fn krilla_font(&self) -> Result<krilla::text::Font> {
        krilla::text::Font::new(self.data.clone().into(), self.index).ok_or_else(|| {
            Error::Internal(format!(
                "the agreement font (face {}) cannot be embedded in a PDF",
                self.index
            ))
        })
    }
}

/// Lays out and writes the agreement; the same input gives the same bytes.
pub fn render(doc: &AgreementDocument, font: &FontSource) -> Result<Vec<u8>> {
    let metrics = font.metrics()?;
    let pages = layout::lay_out(doc, &metrics)?;
    draw::write(doc, &pages, font.krilla_font()?, &metrics)
}
