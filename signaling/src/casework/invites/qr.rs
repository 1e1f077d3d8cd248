//! An invite's link as a QR code, for a phone to scan off the mediator's screen or a
//! printed notice: SVG for the page, PNG for everything else. The image is the link, so it
//! is answered like one: never cached where others could read it.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use qrcode::{EcLevel, QrCode};

use crate::error::{Error, Result};

/// Pixels per module and the quiet zone around the code, in modules (ISO/IEC 18004 asks
/// for four).
const PNG_SCALE: usize = 6;
const QUIET_ZONE: usize = 4;

/// `link` as an SVG QR code, answered privately.
pub(super) fn svg(link: &str) -> Result<Response> {
    let svg = qr_code(link)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok(private_image("image/svg+xml", svg))
}

/// `link` as a PNG QR code, answered privately.
pub(super) fn png(link: &str) -> Result<Response> {
    let png = png_bytes(&qr_code(link)?)?;
    Ok(private_image("image/png", png))
}

fn qr_code(link: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(link.as_bytes(), EcLevel::M)
        .map_err(|e| Error::Internal(format!("encoding a QR code: {e}")))
}

fn private_image(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The image is the link: it must not sit in shared caches.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

fn png_bytes(code: &QrCode) -> Result<Vec<u8>> {
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * PNG_SCALE;
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (row, column) = (index / modules + QUIET_ZONE, index % modules + QUIET_ZONE);
        for y in row * PNG_SCALE..(row + 1) * PNG_SCALE {
            let line = y * side;
            pixels[line + column * PNG_SCALE..line + (column + 1) * PNG_SCALE].fill(0);
        }
    }
    let side_u32 = u32::try_from(side).map_err(|_| Error::Internal("QR code too large".into()))?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let encoding = |e: png::EncodingError| Error::Internal(format!("encoding a PNG: {e}"));
    let mut writer = encoder.write_header().map_err(encoding)?;
    writer.write_image_data(&pixels).map_err(encoding)?;
    writer.finish().map_err(encoding)?;
    Ok(out)
}
