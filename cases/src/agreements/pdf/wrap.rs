//! Line breaking: Chinese breaks between any two characters, Latin text at spaces.
//!
//! Two rules of Chinese typesetting are kept because an agreement read on paper looks
//! broken without them: closing punctuation (，。）」 …) never starts a line and opening
//! punctuation (（「“ …) never ends one. Both are glued to their neighbour before lines are
//! filled.

use super::metrics::Metrics;

/// One line of a wrapped paragraph.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub(crate) text: String,
    /// The first line of a paragraph (it takes the first-line indent).
    pub(crate) first: bool,
}

/// Ideographs, kana, hangul, CJK punctuation and full-width forms: each may stand alone on
/// either side of a line break.
fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

fn is_closing(c: char) -> bool {
    "，。、；：？！）》」』】〕〉”’…—·,.;:?!)]}%".contains(c)
}

fn is_opening(c: char) -> bool {
    "（《「『【〔〈“‘([{".contains(c)
}

/// A piece of text no line break may split.
struct Unit {
    text: String,
    space_before: bool,
}

fn units(paragraph: &str) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut space = false;
    // Whether the last unit takes the next character: after an opening mark, or inside a
    // Latin word.
    let mut open = false;
    let mut in_word = false;
    for c in paragraph.chars() {
        if c.is_whitespace() {
            space = !units.is_empty();
            open = false;
            in_word = false;
            continue;
        }
        let cjk = is_cjk(c);
        let glue = !space && (open || (in_word && !cjk) || is_closing(c));
        match units.last_mut() {
            Some(last) if glue => last.text.push(c),
            _ => units.push(Unit {
                text: c.to_string(),
                space_before: space,
            }),
        }
        space = false;
        open = is_opening(c);
        in_word = !cjk;
    }
    units
}

/// Breaks `text` into lines no wider than `width` points at `size` points; the first line
/// of each paragraph (paragraphs are separated by `\n`) is `indent` narrower.
pub(crate) fn wrap(metrics: &Metrics, text: &str, size: f32, width: f32, indent: f32) -> Vec<Line> {
    let space = metrics.width(" ", size);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut current = String::new();
        let mut current_width = 0.0;
        let mut first = true;
        let limit = |first: bool| if first { width - indent } else { width };
        for unit in units(paragraph) {
            let unit_width = metrics.width(&unit.text, size);
            let gap = if unit.space_before && !current.is_empty() {
                space
            } else {
                0.0
            };
            if !current.is_empty() && current_width + gap + unit_width > limit(first) {
                lines.push(Line {
                    text: std::mem::take(&mut current),
                    first,
                });
                first = false;
                current_width = 0.0;
            } else if gap > 0.0 {
                current.push(' ');
                current_width += gap;
            }
            if unit_width <= limit(first) {
                current.push_str(&unit.text);
                current_width += unit_width;
                continue;
            }
            // A word longer than a line (a URL, a long number): break it anywhere.
            for c in unit.text.chars() {
                let w = metrics.width(c.encode_utf8(&mut [0; 4]), size);
                if !current.is_empty() && current_width + w > limit(first) {
                    lines.push(Line {
                        text: std::mem::take(&mut current),
                        first,
                    });
                    first = false;
                    current_width = 0.0;
                }
                current.push(c);
                current_width += w;
            }
        }
        lines.push(Line {
            text: current,
            first,
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(units: &[Unit]) -> Vec<&str> {
        units.iter().map(|u| u.text.as_str()).collect()
    }

    #[test]
    fn chinese_breaks_anywhere_but_keeps_punctuation_with_its_neighbour() {
        let u = units("被申请人（李四）赔偿，共计 3000 元。");
        assert_eq!(
            texts(&u),
            [
                "被", "申", "请", "人", "（李", "四）", "赔", "偿，", "共", "计", "3000", "元。"
            ]
        );
        assert!(u[10].space_before);
        assert!(!u[9].space_before);
    }

    #[test]
    fn latin_breaks_at_spaces_only() {
        let u = units("The respondent pays (in full), by 2026-12-31.");
        assert_eq!(
            texts(&u),
            [
                "The",
                "respondent",
                "pays",
                "(in",
                "full),",
                "by",
                "2026-12-31."
            ]
        );
    }
}
