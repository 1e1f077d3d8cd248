//! Advance widths straight from the font's `cmap` and `hmtx` tables.
//!
//! krilla shapes and embeds text but keeps its metrics to itself, and line breaking needs
//! to know how wide a run of text is before it is drawn. The two tables are enough for
//! that: the agreement is set without ligatures or kerning that change width noticeably
//! (CJK ideographs are full-width; kerning only nudges Latin pairs by a few units), and the
//! layout leaves a margin for the difference.

use std::sync::Arc;

use crate::{Error, Result};

/// Where the tables the measurer needs sit inside the font file.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    data: Arc<Vec<u8>>,
    units_per_em: f32,
    cmap: CmapTable,
    hmtx: usize,
    hmtx_len: usize,
    long_metrics: usize,
}

#[derive(Debug, Clone, Copy)]
enum CmapTable {
    /// Segmented coverage of the whole Unicode range (groups of 12 bytes).
    Format12 { groups: usize, count: usize },
    /// The Basic Multilingual Plane only.
    Format4 { table: usize, segments: usize },
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn malformed(what: &str) -> Error {
    Error::Internal(format!(
        "the agreement font is not a usable OpenType font: {what}"
    ))
}

/// The (offset, length) of each table this module reads, for face `index` of the file.
fn table(data: &[u8], face: usize, tag: &[u8; 4]) -> Result<(usize, usize)> {
    let tables =
        usize::from(u16_at(data, face + 4).ok_or_else(|| malformed("no table directory"))?);
    for i in 0..tables {
        let record = face + 12 + i * 16;
        let name = data
            .get(record..record + 4)
            .ok_or_else(|| malformed("truncated table directory"))?;
        if name == tag {
            let offset =
                u32_at(data, record + 8).ok_or_else(|| malformed("truncated table record"))?;
            let length =
                u32_at(data, record + 12).ok_or_else(|| malformed("truncated table record"))?;
            let (offset, length) = (offset as usize, length as usize);
            if offset
                .checked_add(length)
                .is_none_or(|end| end > data.len())
            {
                return Err(malformed("a table lies outside the file"));
            }
            return Ok((offset, length));
        }
    }
    Err(malformed(&format!(
        "no `{}` table",
        String::from_utf8_lossy(tag)
    )))
}

impl Metrics {
    /// Reads face `index` of a font file or collection.
    pub(crate) fn new(data: Arc<Vec<u8>>, index: u32) -> Result<Self> {
        let bytes = data.as_slice();
        let face = if bytes.get(0..4) == Some(b"ttcf") {
            let faces = u32_at(bytes, 8).ok_or_else(|| malformed("truncated collection header"))?;
            if index >= faces {
                return Err(Error::Internal(format!(
                    "the agreement font collection has {faces} faces; face {index} does not exist"
                )));
            }
            u32_at(bytes, 12 + 4 * index as usize)
                .ok_or_else(|| malformed("truncated collection header"))? as usize
        } else if index == 0 {
            0
        } else {
            return Err(Error::Internal(format!(
                "the agreement font is a single font, not a collection; face {index} does not exist"
            )));
        };

        let (head, _) = table(bytes, face, b"head")?;
        let units_per_em = u16_at(bytes, head + 18).ok_or_else(|| malformed("short `head`"))?;
        if units_per_em == 0 {
            return Err(malformed("zero units per em"));
        }
        let (hhea, _) = table(bytes, face, b"hhea")?;
        let long_metrics =
            usize::from(u16_at(bytes, hhea + 34).ok_or_else(|| malformed("short `hhea`"))?);
        if long_metrics == 0 {
            return Err(malformed("no horizontal metrics"));
        }
        let (hmtx, hmtx_len) = table(bytes, face, b"hmtx")?;
        let cmap = Self::find_cmap(bytes, face)?;
        Ok(Metrics {
            data,
            units_per_em: f32::from(units_per_em),
            cmap,
            hmtx,
            hmtx_len,
            long_metrics,
        })
    }

    /// Picks the Unicode subtable: full-range format 12 when there is one, else the BMP's
    /// format 4.
    fn find_cmap(bytes: &[u8], face: usize) -> Result<CmapTable> {
        let (cmap, _) = table(bytes, face, b"cmap")?;
        let records =
            usize::from(u16_at(bytes, cmap + 2).ok_or_else(|| malformed("short `cmap`"))?);
        let mut bmp = None;
        for i in 0..records {
            let record = cmap + 4 + i * 8;
            let (Some(platform), Some(encoding), Some(offset)) = (
                u16_at(bytes, record),
                u16_at(bytes, record + 2),
                u32_at(bytes, record + 4),
            ) else {
                return Err(malformed("truncated `cmap` record"));
            };
            let sub = cmap + offset as usize;
            let unicode = platform == 0 || (platform == 3 && (encoding == 1 || encoding == 10));
            if !unicode {
                continue;
            }
            match u16_at(bytes, sub) {
                Some(12) => {
                    let count = u32_at(bytes, sub + 12)
                        .ok_or_else(|| malformed("short format 12"))?
                        as usize;
                    if count
                        .checked_mul(12)
                        .and_then(|n| n.checked_add(sub + 16))
                        .is_none_or(|end| end > bytes.len())
                    {
                        return Err(malformed("format 12 groups lie outside the file"));
                    }
                    return Ok(CmapTable::Format12 {
                        groups: sub + 16,
                        count,
                    });
                }
                Some(4) => {
                    let seg_x2 = usize::from(
                        u16_at(bytes, sub + 6).ok_or_else(|| malformed("short format 4"))?,
                    );
                    bmp = Some(CmapTable::Format4 {
                        table: sub,
                        segments: seg_x2 / 2,
                    });
                }
                _ => {}
            }
        }
        bmp.ok_or_else(|| malformed("no Unicode `cmap` subtable"))
    }

    fn glyph(&self, c: char) -> u16 {
        let data = self.data.as_slice();
        let code = u32::from(c);
        match self.cmap {
            CmapTable::Format12 { groups, count } => {
                let (mut lo, mut hi) = (0usize, count);
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    let at = groups + mid * 12;
                    let (Some(start), Some(end), Some(first)) =
                        (u32_at(data, at), u32_at(data, at + 4), u32_at(data, at + 8))
                    else {
                        return 0;
                    };
                    if code < start {
                        hi = mid;
                    } else if code > end {
                        lo = mid + 1;
                    } else {
                        return u16::try_from(first + (code - start)).unwrap_or(0);
                    }
                }
                0
            }
            CmapTable::Format4 { table, segments } => {
                let Ok(code) = u16::try_from(code) else {
                    return 0;
                };
                let ends = table + 14;
                let starts = ends + segments * 2 + 2;
                let deltas = starts + segments * 2;
                let ranges = deltas + segments * 2;
                for i in 0..segments {
                    let Some(end) = u16_at(data, ends + i * 2) else {
                        return 0;
                    };
                    if code > end {
                        continue;
                    }
                    let (Some(start), Some(delta), Some(range)) = (
                        u16_at(data, starts + i * 2),
                        u16_at(data, deltas + i * 2),
                        u16_at(data, ranges + i * 2),
                    ) else {
                        return 0;
                    };
                    if code < start {
                        return 0;
                    }
                    if range == 0 {
                        return code.wrapping_add(delta);
                    }
                    let at = ranges + i * 2 + usize::from(range) + 2 * usize::from(code - start);
                    return match u16_at(data, at) {
                        Some(0) | None => 0,
                        Some(g) => g.wrapping_add(delta),
                    };
                }
                0
            }
        }
    }

    fn advance_units(&self, glyph: u16) -> u16 {
        // Glyphs past the last long metric share its advance.
        let i = usize::from(glyph).min(self.long_metrics - 1);
        if i * 4 + 2 > self.hmtx_len {
            return 0;
        }
        u16_at(&self.data, self.hmtx + i * 4).unwrap_or(0)
    }

    /// How wide `text` is at `size` points.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text
            .chars()
            .map(|c| u32::from(self.advance_units(self.glyph(c))))
            .sum();
        units as f32 * size / self.units_per_em
    }
}
