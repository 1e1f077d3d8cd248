//! Puts the laid-out pages on paper with krilla, and adds each page's footer.

use std::f32::consts::PI;

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

use super::AgreementDocument;
use super::layout::{Ink, LEFT, Op, PAGE_HEIGHT, PAGE_WIDTH, QrModules, RIGHT, words};
use crate::store::china_time;
use crate::{Error, Result};

const SEAL_RED: (u8, u8, u8) = (200, 30, 36);

fn colour(ink: Ink) -> rgb::Color {
    match ink {
        Ink::Black => rgb::Color::new(0, 0, 0),
        Ink::Grey => rgb::Color::new(100, 100, 100),
        Ink::Red => rgb::Color::new(SEAL_RED.0, SEAL_RED.1, SEAL_RED.2),
    }
}

fn fill(ink: Ink) -> Fill {
    Fill {
        paint: colour(ink).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

fn stroke(ink: Ink, width: f32) -> Stroke {
    Stroke {
        paint: colour(ink).into(),
        width,
        ..Default::default()
    }
}

/// The PDF's creation date: the agreement's own time, never the clock's, so that every
/// render is the same.
fn creation_date(ms: i64) -> DateTime {
    let t = china_time(ms);
    let as_u8 = |n: i64| u8::try_from(n).unwrap_or(0);
    DateTime::new(u16::try_from(t.year).unwrap_or(1970))
        .month(as_u8(t.month))
        .day(as_u8(t.day))
        .hour(as_u8(t.hour))
        .minute(as_u8(t.minute))
        .second(as_u8(ms.rem_euclid(60_000) / 1000))
        .utc_offset_hour(8)
        .utc_offset_minute(0)
}

fn text(surface: &mut Surface<'_>, font: &Font, x: f32, y: f32, size: f32, s: &str, ink: Ink) {
    surface.set_fill(Some(fill(ink)));
    surface.draw_text(
        Point::from_xy(x, y),
        font.clone(),
        size,
        s,
        false,
        TextDirection::Auto,
    );
}

fn rule(surface: &mut Surface<'_>, x1: f32, x2: f32, y: f32) {
    let mut path = PathBuilder::new();
    path.move_to(x1, y);
    path.line_to(x2, y);
    if let Some(path) = path.finish() {
        surface.set_fill(None);
        surface.set_stroke(Some(stroke(Ink::Grey, 0.6)));
        surface.draw_path(&path);
        surface.set_stroke(None);
    }
}

/// Dark modules as one path of rectangles, a horizontal run of modules per rectangle.
fn qr(surface: &mut Surface<'_>, x: f32, y: f32, size: f32, modules: &QrModules) {
    let n = modules.width;
    if n == 0 {
        return;
    }
    let module = size / n as f32;
    let mut path = PathBuilder::new();
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if !modules.dark[row * n + col] {
                col += 1;
                continue;
            }
            let start = col;
            while col < n && modules.dark[row * n + col] {
                col += 1;
            }
            if let Some(rect) = Rect::from_xywh(
                x + start as f32 * module,
                y + row as f32 * module,
                (col - start) as f32 * module,
                module,
            ) {
                path.push_rect(rect);
            }
        }
    }
    if let Some(path) = path.finish() {
        surface.set_stroke(None);
        surface.set_fill(Some(fill(Ink::Black)));
        surface.draw_path(&path);
    }
}

fn circle(path: &mut PathBuilder, cx: f32, cy: f32, r: f32) {
    // Four cubic quarter arcs; 0.5523 is the usual control-point factor for a circle.
    let k = 0.552_284_8 * r;
    path.move_to(cx + r, cy);
    path.cubic_to(cx + r, cy + k, cx + k, cy + r, cx, cy + r);
    path.cubic_to(cx - k, cy + r, cx - r, cy + k, cx - r, cy);
    path.cubic_to(cx - r, cy - k, cx - k, cy - r, cx, cy - r);
    path.cubic_to(cx + k, cy - r, cx + r, cy - k, cx + r, cy);
    path.close();
}

/// A red ring, the organisation's name around the top, a five-pointed star inside.
fn seal(
    surface: &mut Surface<'_>,
    font: &Font,
    metrics: &super::metrics::Metrics,
    cx: f32,
    cy: f32,
    r: f32,
    name: &str,
) {
    let mut ring = PathBuilder::new();
    circle(&mut ring, cx, cy, r);
    if let Some(ring) = ring.finish() {
        surface.set_fill(None);
        surface.set_stroke(Some(stroke(Ink::Red, 2.4)));
        surface.draw_path(&ring);
        surface.set_stroke(None);
    }

    let mut star = PathBuilder::new();
    let (outer, inner) = (r * 0.27, r * 0.27 * 0.382);
    for i in 0..10 {
        let radius = if i % 2 == 0 { outer } else { inner };
        let angle = -PI / 2.0 + i as f32 * PI / 5.0;
        let (px, py) = (cx + radius * angle.cos(), cy + radius * angle.sin());
        if i == 0 {
            star.move_to(px, py);
        } else {
            star.line_to(px, py);
        }
    }
    star.close();
    if let Some(star) = star.finish() {
        surface.set_fill(Some(fill(Ink::Red)));
        surface.draw_path(&star);
    }

    let chars: Vec<char> = name.chars().collect();
    if chars.is_empty() {
        return;
    }
    // The name runs clockwise over at most 250° of the ring, each character upright
    // towards the rim, smaller when the name is long.
    let n = chars.len() as f32;
    let max_span = 250f32.to_radians();
    let mut size = (r * 0.26).max(5.0);
    // Shrink until the characters fit side by side on the arc they have.
    while size > 5.0 && size * 1.08 > (r - 5.0 - size * 0.88) * max_span / n {
        size -= 0.25;
    }
    let baseline_radius = r - 5.0 - size * 0.88;
    let step = (size * 1.08 / baseline_radius).min(max_span / n);
    let span = step * n;
    for (i, c) in chars.iter().enumerate() {
        let s = c.to_string();
        let angle = -span / 2.0 + step * (i as f32 + 0.5);
        let w = metrics.width(&s, size);
        surface.push_transform(&Transform::from_translate(cx, cy));
        surface.push_transform(&Transform::from_rotate(angle.to_degrees()));
        text(
            surface,
            font,
            -w / 2.0,
            -baseline_radius,
            size,
            &s,
            Ink::Red,
        );
        surface.pop();
        surface.pop();
    }
}

/// Writes the pages, each with its footer, into one PDF.
pub(crate) fn write(
    doc: &AgreementDocument,
    pages: &[Vec<Op>],
    font: Font,
    metrics: &super::metrics::Metrics,
) -> Result<Vec<u8>> {
    let words = words(doc.locale);
    let mut document = Document::new();
    let language = match doc.locale {
        super::PdfLocale::ZhCn => "zh-CN",
        super::PdfLocale::En => "en",
    };
    document.set_metadata(
        Metadata::new()
            .title(doc.title.clone())
            .language(language.to_string())
            .creator("Accord".to_string())
            .creation_date(creation_date(doc.effective_at.unwrap_or(doc.finalised_at))),
    );
    let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| Error::Internal("the A4 page size was refused".to_string()))?;
    let total = pages.len();
    for (n, ops) in pages.iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    text: s,
                    ink,
                } => text(&mut surface, &font, *x, *y, *size, s, *ink),
                Op::Rule { x1, x2, y } => rule(&mut surface, *x1, *x2, *y),
                Op::Image { x, y, w, h, image } => {
                    if let Some(size) = Size::from_wh(*w, *h) {
                        surface.push_transform(&Transform::from_translate(*x, *y));
                        surface.draw_image(image.clone(), size);
                        surface.pop();
                    }
                }
                Op::Qr {
                    x,
                    y,
                    size,
                    modules,
                } => qr(&mut surface, *x, *y, *size, modules),
                Op::Seal { cx, cy, r, name } => {
                    seal(&mut surface, &font, metrics, *cx, *cy, *r, name)
                }
            }
        }

        let footer_y = PAGE_HEIGHT - 36.0;
        rule(&mut surface, LEFT, RIGHT, footer_y - 14.0);
        let label = (words.page)(n + 1, total);
        let x = (PAGE_WIDTH - metrics.width(&label, 9.0)) / 2.0;
        text(&mut surface, &font, x, footer_y, 9.0, &label, Ink::Grey);
        let case = format!("{}{}", words.case_number, doc.case_number);
        text(&mut surface, &font, LEFT, footer_y, 8.0, &case, Ink::Grey);
        let short_hash: String = doc.text_sha256.chars().take(16).collect();
        let hash = format!("SHA-256 {short_hash}…");
        let x = RIGHT - metrics.width(&hash, 8.0);
        text(&mut surface, &font, x, footer_y, 8.0, &hash, Ink::Grey);
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| Error::Internal(format!("the agreement PDF could not be written: {e:?}")))
}
