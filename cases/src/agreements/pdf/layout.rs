//! Where everything goes: the agreement becomes a list of pages, each a list of things to
//! draw at fixed positions (points, origin at the top left, y downwards). Laying out
//! before drawing is what lets every footer say how many pages there are.

use krilla::image::Image;

use super::metrics::Metrics;
use super::wrap::wrap;
use super::{AgreementDocument, PdfLocale, PdfSignature};
use crate::store::china_time;
use crate::{Error, Result};

/// A4 in points.
pub(crate) const PAGE_WIDTH: f32 = 595.28;
pub(crate) const PAGE_HEIGHT: f32 = 841.89;
pub(crate) const LEFT: f32 = 62.0;
pub(crate) const RIGHT: f32 = PAGE_WIDTH - 62.0;
const TOP: f32 = 64.0;
/// Content stops here; the footer lives below.
const BOTTOM: f32 = PAGE_HEIGHT - 72.0;
/// Where text's baseline sits below the top of its line box, as a share of the size
/// (Noto Sans CJK's ascender is 0.88 em).
const ASCENT: f32 = 0.88;

const BODY: f32 = 11.5;
const BODY_LEADING: f32 = 20.0;
const SMALL: f32 = 9.0;
const SMALL_LEADING: f32 = 14.0;
/// A drawn signature fits in about 50 × 20 mm.
const SIGNATURE_WIDTH: f32 = 141.7;
const SIGNATURE_HEIGHT: f32 = 56.7;
const SEAL_RADIUS: f32 = 52.0;
const QR_SIZE: f32 = 96.0;

/// How a piece of text is inked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ink {
    Black,
    Grey,
    Red,
}

/// The QR code's modules, row by row (`true` is dark), without a quiet zone.
#[derive(Debug, Clone)]
pub(crate) struct QrModules {
    pub(crate) width: usize,
    pub(crate) dark: Vec<bool>,
}

/// One thing to draw.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Text starting at `x` with its baseline at `y`.
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
        ink: Ink,
    },
    /// A thin horizontal rule.
    Rule { x1: f32, x2: f32, y: f32 },
    /// A bitmap in the box at (`x`, `y`), `w` × `h`.
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        image: Image,
    },
    /// A QR code filling the square at (`x`, `y`) with side `size`.
    Qr {
        x: f32,
        y: f32,
        size: f32,
        modules: QrModules,
    },
    /// The electronic seal mark: a red ring with the organisation's name along the top
    /// and a star in the middle.
    Seal {
        cx: f32,
        cy: f32,
        r: f32,
        name: String,
    },
}

/// The words the PDF adds around the agreement's own text.
pub(crate) struct Words {
    pub(crate) case_number: &'static str,
    pub(crate) version: fn(i64) -> String,
    pub(crate) finalised: &'static str,
    pub(crate) organisation: &'static str,
    pub(crate) mediator: &'static str,
    pub(crate) signatures: &'static str,
    pub(crate) signed_at: &'static str,
    pub(crate) declined: &'static str,
    pub(crate) not_signed: &'static str,
    pub(crate) no_signature_image: &'static str,
    pub(crate) seal: &'static str,
    pub(crate) seal_key: &'static str,
    pub(crate) sealed_at: &'static str,
    pub(crate) effective_at: &'static str,
    pub(crate) not_sealed: &'static str,
    pub(crate) verification: &'static str,
    pub(crate) text_hash: &'static str,
    pub(crate) verify_at: &'static str,
    pub(crate) scan: &'static str,
    pub(crate) time_zone: &'static str,
    pub(crate) page: fn(usize, usize) -> String,
    /// Indent of an unnumbered paragraph's first line, in ems.
    pub(crate) indent_ems: f32,
}

const ZH: Words = Words {
    case_number: "案号：",
    version: |v| format!("第 {v} 版"),
    finalised: "定稿时间：",
    organisation: "调解组织：",
    mediator: "调解员：",
    signatures: "签名",
    signed_at: "签署时间：",
    declined: "拒绝签署：",
    not_signed: "尚未签署",
    no_signature_image: "（无签名图像）",
    seal: "电子印章：",
    seal_key: "印章密钥：",
    sealed_at: "盖章时间：",
    effective_at: "生效时间：",
    not_sealed: "本协议尚未加盖调解组织电子印章，尚未生效。",
    verification: "核验",
    text_hash: "协议文本 SHA-256：",
    verify_at: "核验地址：",
    scan: "扫码核验本协议真伪",
    time_zone: "（北京时间）",
    page: |n, m| format!("第 {n} 页 / 共 {m} 页"),
    indent_ems: 2.0,
};

const EN: Words = Words {
    case_number: "Case No. ",
    version: |v| format!("Version {v}"),
    finalised: "Finalised ",
    organisation: "Mediation organisation: ",
    mediator: "Mediator: ",
    signatures: "Signatures",
    signed_at: "Signed ",
    declined: "Declined to sign: ",
    not_signed: "Not signed",
    no_signature_image: "(no signature image)",
    seal: "Electronic seal: ",
    seal_key: "Seal key: ",
    sealed_at: "Sealed ",
    effective_at: "In force from ",
    not_sealed: "This agreement has not been sealed by the mediation organisation and is not yet in force.",
    verification: "Verification",
    text_hash: "SHA-256 of the agreement text: ",
    verify_at: "Verify at: ",
    scan: "Scan to verify this agreement",
    time_zone: " (UTC+8)",
    page: |n, m| format!("Page {n} of {m}"),
    indent_ems: 0.0,
};

pub(crate) fn words(locale: PdfLocale) -> &'static Words {
    match locale {
        PdfLocale::ZhCn => &ZH,
        PdfLocale::En => &EN,
    }
}

/// Unix ms as Beijing time, `2026-12-06 18:30`.
pub(crate) fn local_time(ms: i64) -> String {
    let t = china_time(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

struct Layouter<'a> {
    metrics: &'a Metrics,
    pages: Vec<Vec<Op>>,
    /// Top of the next line box on the current page.
    y: f32,
}

impl Layouter<'_> {
    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page unless `height` more points fit on this one (or this page is
    /// still empty, where waiting would not help).
    fn keep(&mut self, height: f32) {
        if self.y + height > BOTTOM && !self.ops().is_empty() {
            self.pages.push(Vec::new());
            self.y = TOP;
        }
    }

    fn gap(&mut self, height: f32) {
        self.y += height;
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        self.metrics.width(text, size)
    }

    fn line_at(&mut self, x: f32, size: f32, leading: f32, text: String, ink: Ink) {
        self.keep(leading);
        let y = self.y + (leading - size) / 2.0 + size * ASCENT;
        if !text.is_empty() {
            self.ops().push(Op::Text {
                x,
                y,
                size,
                text,
                ink,
            });
        }
        self.y += leading;
    }

    /// Wraps `text` into the column from `x` to `right`; `indent` points off each
    /// paragraph's first line.
    #[allow(clippy::too_many_arguments)]
    fn paragraph(
        &mut self,
        text: &str,
        x: f32,
        right: f32,
        size: f32,
        leading: f32,
        indent: f32,
        ink: Ink,
    ) {
        for line in wrap(self.metrics, text, size, right - x, indent) {
            let at = if line.first { x + indent } else { x };
            self.line_at(at, size, leading, line.text, ink);
        }
    }

    fn centred(&mut self, text: &str, size: f32, leading: f32, ink: Ink) {
        for line in wrap(self.metrics, text, size, RIGHT - LEFT, 0.0) {
            let x = LEFT + ((RIGHT - LEFT) - self.width(&line.text, size)).max(0.0) / 2.0;
            self.line_at(x, size, leading, line.text, ink);
        }
    }

    fn rule(&mut self) {
        let y = self.y;
        self.ops().push(Op::Rule {
            x1: LEFT,
            x2: RIGHT,
            y,
        });
    }

    fn heading(&mut self, text: &str, following: f32) {
        self.gap(10.0);
        // A heading stays with at least the start of what it introduces.
        self.keep(24.0 + following);
        self.line_at(LEFT, 13.0, 24.0, text.to_string(), Ink::Black);
        self.rule();
        self.gap(8.0);
    }

    fn signer(&mut self, index: usize, signer: &PdfSignature, words: &Words) -> Result<()> {
        let column = LEFT + SIGNATURE_WIDTH + 22.0;
        let mut lines: Vec<(String, Ink)> =
            vec![(format!("{}　{}", signer.name, signer.role), Ink::Black)];
        match (&signer.declined_reason, signer.signed_at) {
            (Some(reason), _) => lines.push((format!("{}{reason}", words.declined), Ink::Red)),
            (None, Some(at)) => lines.push((
                format!("{}{}{}", words.signed_at, local_time(at), words.time_zone),
                Ink::Black,
            )),
            (None, None) => lines.push((words.not_signed.to_string(), Ink::Grey)),
        }
        let wrapped: usize = lines
            .iter()
            .map(|(text, _)| wrap(self.metrics, text, BODY, RIGHT - column, 0.0).len())
            .sum();
        let height = SIGNATURE_HEIGHT.max(wrapped as f32 * BODY_LEADING) + 18.0;
        self.keep(height);
        let top = self.y;

        if signer.image_png.is_empty() {
            let y = top + SIGNATURE_HEIGHT / 2.0 + SMALL * 0.3;
            let text = words.no_signature_image.to_string();
            let x = LEFT + (SIGNATURE_WIDTH - self.width(&text, SMALL)).max(0.0) / 2.0;
            self.ops().push(Op::Text {
                x,
                y,
                size: SMALL,
                text,
                ink: Ink::Grey,
            });
        } else {
            let image = Image::from_png(signer.image_png.clone().into(), true).map_err(|e| {
                Error::Internal(format!(
                    "signature image {} of the agreement is not a readable PNG: {e}",
                    index + 1
                ))
            })?;
            let (w, h) = image.size();
            if w == 0 || h == 0 {
                return Err(Error::Internal(format!(
                    "signature image {} of the agreement is empty",
                    index + 1
                )));
            }
            let scale = (SIGNATURE_WIDTH / w as f32).min(SIGNATURE_HEIGHT / h as f32);
            let (w, h) = (w as f32 * scale, h as f32 * scale);
            self.ops().push(Op::Image {
                x: LEFT + (SIGNATURE_WIDTH - w) / 2.0,
                y: top + (SIGNATURE_HEIGHT - h) / 2.0,
                w,
                h,
                image,
            });
        }
        let line_y = top + SIGNATURE_HEIGHT + 2.0;
        self.ops().push(Op::Rule {
            x1: LEFT,
            x2: LEFT + SIGNATURE_WIDTH,
            y: line_y,
        });

        for (text, ink) in lines {
            self.paragraph(&text, column, RIGHT, BODY, BODY_LEADING, 0.0, ink);
        }
        self.y = top + height;
        Ok(())
    }

    fn seal(&mut self, doc: &AgreementDocument, words: &Words) {
        let Some(seal) = &doc.seal else {
            self.paragraph(
                words.not_sealed,
                LEFT,
                RIGHT,
                BODY,
                BODY_LEADING,
                0.0,
                Ink::Grey,
            );
            return;
        };
        let height = 2.0 * SEAL_RADIUS + 16.0;
        self.keep(height);
        let top = self.y;
        self.ops().push(Op::Seal {
            cx: LEFT + SEAL_RADIUS + 4.0,
            cy: top + SEAL_RADIUS + 4.0,
            r: SEAL_RADIUS,
            name: seal.organisation.clone(),
        });
        let column = LEFT + 2.0 * SEAL_RADIUS + 30.0;
        self.y = top + 12.0;
        let mut lines = vec![
            format!("{}{}", words.seal, seal.organisation),
            format!("{}{}", words.seal_key, seal.key_id),
            format!(
                "{}{}{}",
                words.sealed_at,
                local_time(seal.sealed_at),
                words.time_zone
            ),
        ];
        if let Some(at) = doc.effective_at {
            lines.push(format!(
                "{}{}{}",
                words.effective_at,
                local_time(at),
                words.time_zone
            ));
        }
        for line in lines {
            self.paragraph(&line, column, RIGHT, BODY, BODY_LEADING, 0.0, Ink::Black);
        }
        self.y = self.y.max(top + height);
    }

    fn verification(&mut self, doc: &AgreementDocument, words: &Words) -> Result<()> {
        let code = qrcode::QrCode::new(doc.verify_url.as_bytes()).map_err(|e| {
            Error::BadRequest(format!(
                "the verification address does not fit in a QR code: {e}"
            ))
        })?;
        let modules = QrModules {
            width: code.width(),
            dark: code
                .to_colors()
                .into_iter()
                .map(|c| c != qrcode::Color::Light)
                .collect(),
        };
        let column_right = RIGHT - QR_SIZE - 20.0;
        let texts = [
            (words.text_hash.to_string(), BODY, BODY_LEADING),
            (doc.text_sha256.clone(), SMALL, SMALL_LEADING),
            (
                format!(
                    "{}　{}{}",
                    (words.version)(doc.version),
                    words.finalised,
                    local_time(doc.finalised_at)
                ),
                BODY,
                BODY_LEADING,
            ),
            (words.verify_at.to_string(), BODY, BODY_LEADING),
            (doc.verify_url.clone(), SMALL, SMALL_LEADING),
        ];
        let text_height: f32 = texts
            .iter()
            .map(|(t, size, leading)| {
                wrap(self.metrics, t, *size, column_right - LEFT, 0.0).len() as f32 * leading
            })
            .sum();
        let height = text_height.max(QR_SIZE + 22.0);
        self.heading(words.verification, height);
        let top = self.y;
        for (text, size, leading) in texts {
            self.paragraph(&text, LEFT, column_right, size, leading, 0.0, Ink::Black);
        }
        let qr_x = RIGHT - QR_SIZE;
        self.ops().push(Op::Qr {
            x: qr_x,
            y: top,
            size: QR_SIZE,
            modules,
        });
        let caption_width = self.width(words.scan, SMALL);
        let caption_x = (qr_x + (QR_SIZE - caption_width) / 2.0).min(RIGHT - caption_width);
        self.ops().push(Op::Text {
            x: caption_x,
            y: top + QR_SIZE + 14.0,
            size: SMALL,
            text: words.scan.to_string(),
            ink: Ink::Grey,
        });
        self.y = self.y.max(top + height);
        Ok(())
    }
}

/// Lays the agreement out; every returned page has at least one thing on it.
pub(crate) fn lay_out(doc: &AgreementDocument, metrics: &Metrics) -> Result<Vec<Vec<Op>>> {
    let words = words(doc.locale);
    let mut l = Layouter {
        metrics,
        pages: vec![Vec::new()],
        y: TOP,
    };

    l.centred(&doc.title, 20.0, 34.0, Ink::Black);
    l.gap(2.0);
    l.centred(
        &format!(
            "{}{}　{}　{}{}",
            words.case_number,
            doc.case_number,
            (words.version)(doc.version),
            words.finalised,
            local_time(doc.finalised_at)
        ),
        SMALL,
        SMALL_LEADING,
        Ink::Grey,
    );
    l.gap(8.0);
    l.rule();
    l.gap(10.0);
    let header = [
        format!("{}{}", words.organisation, doc.organisation),
        format!("{}{}", words.mediator, doc.mediator),
    ];
    for line in header.iter().chain(&doc.parties) {
        l.paragraph(line, LEFT, RIGHT, BODY, BODY_LEADING, 0.0, Ink::Black);
    }
    l.gap(12.0);

    let indent = words.indent_ems * BODY;
    for clause in &doc.clauses {
        match &clause.label {
            Some(label) => {
                let text = format!("{label} {}", clause.text);
                l.paragraph(&text, LEFT, RIGHT, BODY, BODY_LEADING, 0.0, Ink::Black);
            }
            None => l.paragraph(
                &clause.text,
                LEFT,
                RIGHT,
                BODY,
                BODY_LEADING,
                indent,
                Ink::Black,
            ),
        }
        l.gap(4.0);
    }

    l.heading(words.signatures, SIGNATURE_HEIGHT + 18.0);
    for (i, signer) in doc.signatures.iter().enumerate() {
        l.signer(i, signer, words)?;
    }
    l.gap(8.0);
    l.seal(doc, words);
    l.verification(doc, words)?;
    Ok(l.pages)
}
