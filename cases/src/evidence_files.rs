//! What an evidence file may be: its kind, read from its first bytes and never from the name
//! or the Content-Type a client sends (a renamed program is refused whatever it claims to
//! be), and its name as staff see it. The edge streams uploads and calls these on the way.

/// Bytes needed to tell every accepted kind apart.
pub const SNIFF_LEN: usize = 12;

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

/// The last path component of a client's file name, at most 200 characters, without
/// control or invisible formatting characters; the name is only shown to staff, never used
/// as a path.
pub fn clean_file_name(name: Option<&str>) -> String {
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
