//! The agreement PDF, read back with poppler (`pdftotext`, `pdffonts`, `pdfinfo`,
//! `pdftoppm` from poppler-utils): every clause, name and the hash come out as text, Chinese
//! is set in an embedded subset of Noto Sans CJK, page 1 renders with ink on it, long
//! agreements paginate, and the same input gives the same bytes.
//!
//! Set `ACCORD_PDF_SAMPLE_DIR` to keep the sample agreement there (that is how
//! docs/screenshots/agreement-pdf.png is made: `pdftoppm -r 100 -f 1 -l 1 -png`).

use std::path::{Path, PathBuf};
use std::process::Command;

use accord_cases::Error;
use accord_cases::agreements::pdf::{
    AgreementDocument, DEFAULT_FONT_INDEX, DEFAULT_FONT_PATH, FontSource, PdfClause, PdfLocale,
    PdfSeal, PdfSignature, render,
};

const HASH: &str = "9f2c4e7a1b3d5f60718293a4b5c6d7e8f9012a3b4c5d6e7f8091a2b3c4d5e6f7";
/// 2026-12-06 18:30 in Beijing.
const SEALED_AT: i64 = 1_796_553_000_000;

fn font() -> FontSource {
    FontSource::load(Path::new(DEFAULT_FONT_PATH), DEFAULT_FONT_INDEX)
        .expect("the agreement font (apt-get install -y fonts-noto-cjk)")
}

/// Runs a poppler tool; a missing tool fails the test with what to install.
fn poppler(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "{tool} could not run ({e}); install poppler-utils: apt-get install -y poppler-utils"
        )
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A directory of its own for each test, removed when the test passes.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("accord-pdf-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("write pdf");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG of a pen stroke (a wave with a loop of `phase`), written without a PNG library:
/// zlib "stored" blocks need no compressor.
fn signature_png(phase: f32) -> Vec<u8> {
    let (w, h) = (300usize, 120usize);
    let mut rows = Vec::with_capacity(h * (1 + w * 4));
    for y in 0..h {
        rows.push(0u8);
        for x in 0..w {
            let t = x as f32 / w as f32 * 6.0 + phase;
            let curve = 60.0 + 35.0 * (t.sin() * (1.0 - x as f32 / w as f32 * 0.5));
            let ink = (y as f32 - curve).abs() < 3.0;
            rows.extend_from_slice(if ink {
                &[20, 30, 90, 255]
            } else {
                &[0, 0, 0, 0]
            });
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = rows.chunks(65_535).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(chunk);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &rows {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut chunk = |kind: &[u8; 4], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut header = Vec::new();
    header.extend_from_slice(&(w as u32).to_be_bytes());
    header.extend_from_slice(&(h as u32).to_be_bytes());
    header.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(b"IHDR", &header);
    chunk(b"IDAT", &zlib);
    chunk(b"IEND", &[]);
    png
}

fn clause(label: Option<&str>, text: &str) -> PdfClause {
    PdfClause {
        label: label.map(str::to_string),
        text: text.to_string(),
    }
}

/// A neighbours' water-leak agreement: 李四's bathroom upstairs leaked into 张三's flat.
fn water_leak() -> AgreementDocument {
    AgreementDocument {
        title: "人民调解协议书".to_string(),
        locale: PdfLocale::ZhCn,
        case_number: "（2026）京朝调字第0123号".to_string(),
        organisation: "北京市朝阳区望京街道人民调解委员会".to_string(),
        mediator: "王五".to_string(),
        parties: vec![
            "申请人：张三（身份证号 110***********1234），住望京西园三区 2 号楼 502 室".to_string(),
            "被申请人：李四（身份证号 110***********5678），住望京西园三区 2 号楼 602 室"
                .to_string(),
        ],
        clauses: vec![
            clause(
                None,
                "2026年10月起，被申请人家中卫生间防水层老化，持续向楼下申请人家中渗水，造成申请人卫生间吊顶脱落、墙面霉变。双方经多次协商未果，申请人于2026年11月向本委员会申请调解。",
            ),
            clause(
                Some("第一条"),
                "被申请人于2026年12月31日前委托具备资质的施工单位重做卫生间防水层，并在完工后进行不少于48小时的闭水试验，试验时通知申请人到场查看。",
            ),
            clause(
                Some("第二条"),
                "被申请人一次性赔偿申请人吊顶、墙面修复费用及财物损失共计人民币3800元（大写：叁仟捌佰元整），于本协议生效之日起7日内通过银行转账支付。",
            ),
            clause(
                Some("第三条"),
                "申请人收到上述款项后，不再就本次漏水事件向被申请人主张其他任何权利。",
            ),
            clause(
                Some("第四条"),
                "任何一方未按本协议履行义务的，另一方可以向人民法院申请司法确认或者提起诉讼。",
            ),
            clause(
                Some("第五条"),
                "本协议自双方签名、调解委员会加盖电子印章之日起生效。各方收到的电子文本完全一致，可通过页末二维码核验真伪。",
            ),
        ],
        text_sha256: HASH.to_string(),
        version: 2,
        finalised_at: SEALED_AT - 40 * 60_000,
        effective_at: Some(SEALED_AT),
        signatures: vec![
            PdfSignature {
                name: "张三".to_string(),
                role: "申请人".to_string(),
                signed_at: Some(SEALED_AT - 25 * 60_000),
                image_png: signature_png(0.0),
                declined_reason: None,
            },
            PdfSignature {
                name: "李四".to_string(),
                role: "被申请人".to_string(),
                signed_at: Some(SEALED_AT - 20 * 60_000),
                image_png: signature_png(1.7),
                declined_reason: None,
            },
            PdfSignature {
                name: "王五".to_string(),
                role: "调解员".to_string(),
                signed_at: Some(SEALED_AT - 5 * 60_000),
                image_png: signature_png(3.1),
                declined_reason: None,
            },
        ],
        seal: Some(PdfSeal {
            organisation: "北京市朝阳区望京街道人民调解委员会".to_string(),
            key_id: "SK_3n8q2w5e7r".to_string(),
            sealed_at: SEALED_AT,
        }),
        verify_url: format!("https://accord.example.cn/verify/{HASH}"),
    }
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether `needle` is in `text`, ignoring whitespace: pdftotext guesses spaces from gaps.
fn has(text: &str, needle: &str) -> bool {
    squeeze(text).contains(&squeeze(needle))
}

fn pages(pdf: &str) -> usize {
    let info = poppler("pdfinfo", &[pdf]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo prints the page count")
}

#[test]
fn every_clause_name_and_the_hash_come_out_as_text() {
    let dir = Scratch::new("text");
    let doc = water_leak();
    let bytes = render(&doc, &font()).expect("render");
    assert!(bytes.starts_with(b"%PDF-"));
    if let Ok(keep) = std::env::var("ACCORD_PDF_SAMPLE_DIR") {
        std::fs::write(Path::new(&keep).join("agreement-sample.pdf"), &bytes).expect("keep sample");
    }
    let pdf = dir.write("agreement.pdf", &bytes);
    let text = poppler("pdftotext", &["-enc", "UTF-8", &pdf, "-"]);
    let flat = squeeze(&text);

    assert!(flat.contains(&squeeze(&doc.title)), "{text}");
    for c in &doc.clauses {
        let shown = match &c.label {
            Some(label) => format!("{label} {}", c.text),
            None => c.text.clone(),
        };
        assert!(
            flat.contains(&squeeze(&shown)),
            "missing clause {shown}\n{text}"
        );
    }
    for line in &doc.parties {
        assert!(
            flat.contains(&squeeze(line)),
            "missing party {line}\n{text}"
        );
    }
    for name in ["张三", "李四", "王五", "北京市朝阳区望京街道人民调解委员会"]
    {
        assert!(has(&text, name), "missing {name}\n{text}");
    }
    assert!(has(&text, HASH), "the hash is on one line\n{text}");
    assert!(has(&text, "（2026）京朝调字第0123号"), "{text}");
    assert!(has(&text, "扫码核验本协议真伪"), "{text}");
    assert!(has(&text, "签署时间：2026-12-06 18:05"), "{text}");
    assert!(has(&text, "盖章时间：2026-12-06 18:30"), "{text}");
    assert!(has(&text, "SK_3n8q2w5e7r"), "{text}");
    let n = pages(&pdf);
    for page in 1..=n {
        assert!(
            has(&text, &format!("第 {page} 页 / 共 {n} 页")),
            "page {page}\n{text}"
        );
    }
}

#[test]
fn chinese_is_set_in_an_embedded_subset_of_noto_sans_cjk() {
    let dir = Scratch::new("fonts");
    let pdf = dir.write(
        "agreement.pdf",
        &render(&water_leak(), &font()).expect("render"),
    );
    let fonts = poppler("pdffonts", &[&pdf]);
    let line = fonts
        .lines()
        .find(|l| l.contains("NotoSansCJK"))
        .unwrap_or_else(|| panic!("no Noto Sans CJK font in\n{fonts}"));
    let columns: Vec<&str> = line.split_whitespace().collect();
    let name = columns[0];
    assert!(
        name.len() > 7 && name.as_bytes()[6] == b'+',
        "a subset carries a six-letter tag: {line}"
    );
    // pdffonts ends each row with: emb sub uni object-number generation.
    let flags = &columns[columns.len() - 5..columns.len() - 2];
    assert_eq!(
        flags,
        ["yes", "yes", "yes"],
        "embedded, subset, with a Unicode map: {line}"
    );
    assert_eq!(
        fonts.lines().skip(2).count(),
        1,
        "one font for everything, nothing left to the viewer:\n{fonts}"
    );
    // And the embedded subset is small: a 20 MB collection shrinks to the glyphs used.
    let size = std::fs::metadata(&pdf).expect("pdf").len();
    assert!(size < 400_000, "{size} bytes");
}

/// Page 1 at 100 dpi in grey (PGM: a header, then one byte per pixel, 255 white).
fn page_one_grey(pdf: &str, dir: &Scratch) -> (usize, usize, Vec<u8>) {
    let prefix = dir.0.join("page1").to_string_lossy().into_owned();
    poppler(
        "pdftoppm",
        &[
            "-r",
            "100",
            "-f",
            "1",
            "-l",
            "1",
            "-gray",
            "-singlefile",
            pdf,
            &prefix,
        ],
    );
    let pgm = std::fs::read(format!("{prefix}.pgm")).expect("pdftoppm wrote page 1");
    // "P5\n<w> <h>\n255\n" then the pixels.
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !pgm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&pgm[start..at]).into_owned());
    }
    assert_eq!(fields[0], "P5");
    let w: usize = fields[1].parse().expect("width");
    let h: usize = fields[2].parse().expect("height");
    let pixels = pgm[at + 1..].to_vec();
    assert_eq!(pixels.len(), w * h);
    (w, h, pixels)
}

#[test]
fn page_one_renders_with_ink_in_the_title_and_the_body() {
    let dir = Scratch::new("pixels");
    let pdf = dir.write(
        "agreement.pdf",
        &render(&water_leak(), &font()).expect("render"),
    );
    let (w, h, pixels) = page_one_grey(&pdf, &dir);
    // A4 at 100 dpi.
    assert_eq!(w, 827);
    assert!((1169..=1170).contains(&h), "{h}");
    let dark = |rows: std::ops::Range<usize>| {
        rows.flat_map(|y| pixels[y * w..(y + 1) * w].iter())
            .filter(|&&p| p < 128)
            .count()
    };
    let all = dark(0..h);
    assert!(
        all > w * h / 200,
        "page 1 is nearly blank: {all} dark pixels"
    );
    assert!(all < w * h / 4, "page 1 is mostly ink: {all} dark pixels");
    // The title line (64–98 pt from the top): seven ideographs at 20 pt, centred.
    let title = dark(89..136);
    assert!(title > 1_000, "the title drew {title} dark pixels");
    let title_columns: Vec<usize> = (0..w)
        .filter(|&x| (89..136).any(|y| pixels[y * w + x] < 128))
        .collect();
    let (first, last) = (title_columns[0], title_columns[title_columns.len() - 1]);
    assert!(
        (first as i64 + last as i64 - w as i64).abs() < 12,
        "the title is centred: {first}..{last} of {w}"
    );
}

#[test]
fn a_long_agreement_paginates_and_numbers_every_page() {
    let dir = Scratch::new("long");
    let mut doc = water_leak();
    let numerals = ["一", "二", "三", "四", "五", "六", "七", "八", "九"];
    doc.clauses = (1..=60)
        .map(|n: usize| {
            let label = match (n / 10, n % 10) {
                (0, u) => numerals[u - 1].to_string(),
                (1, 0) => "十".to_string(),
                (1, u) => format!("十{}", numerals[u - 1]),
                (t, 0) => format!("{}十", numerals[t - 1]),
                (t, u) => format!("{}十{}", numerals[t - 1], numerals[u - 1]),
            };
            clause(
                Some(&format!("第{label}条")),
                &format!("第{n}项约定：被申请人应当按照双方确认的维修方案完成第{n}项修复工作，并由申请人验收确认；验收不合格的，被申请人应当在七日内返工。"),
            )
        })
        .collect();
    let pdf = dir.write("long.pdf", &render(&doc, &font()).expect("render"));
    let n = pages(&pdf);
    assert!(n >= 4, "60 clauses on {n} pages");
    let text = poppler("pdftotext", &["-enc", "UTF-8", &pdf, "-"]);
    let flat = squeeze(&text);
    for page in 1..=n {
        assert!(
            has(&text, &format!("第 {page} 页 / 共 {n} 页")),
            "page {page} of {n}"
        );
    }
    for c in &doc.clauses {
        let shown = format!("{} {}", c.label.as_deref().unwrap_or_default(), c.text);
        assert!(flat.contains(&squeeze(&shown)), "missing {shown}");
    }
    // Each page ends with its own footer: the clause text never runs into it.
    let last = poppler(
        "pdftotext",
        &[
            "-enc",
            "UTF-8",
            "-f",
            &n.to_string(),
            "-l",
            &n.to_string(),
            &pdf,
            "-",
        ],
    );
    assert!(
        has(&last, HASH),
        "the verification block closes the agreement"
    );
    assert!(has(&last, "扫码核验本协议真伪"));
}

#[test]
fn the_same_agreement_gives_the_same_bytes() {
    let doc = water_leak();
    let first = render(&doc, &font()).expect("render");
    let second = render(&doc, &font()).expect("render again");
    assert!(first == second, "two renders differ");
    let mut later = doc.clone();
    later.version = 3;
    assert!(render(&later, &font()).expect("render v3") != first);
}

#[test]
fn an_english_agreement_with_a_declined_signer_and_no_seal() {
    let dir = Scratch::new("english");
    let mut doc = water_leak();
    doc.locale = PdfLocale::En;
    doc.title = "People's Mediation Agreement".to_string();
    doc.clauses = vec![
        clause(
            None,
            "Since October 2026 water has leaked from the respondent's bathroom into the applicant's flat below.",
        ),
        clause(
            Some("Article 1"),
            "The respondent has the bathroom's waterproofing redone by a licensed contractor by 31 December 2026.",
        ),
        clause(
            Some("Article 2"),
            "The respondent pays the applicant CNY 3,800 within seven days of this agreement coming into force: https://accord.example.cn/a/very/long/address/that/does/not/fit/on/one/line/at/all/because/it/goes/on/and/on",
        ),
    ];
    doc.signatures[1].signed_at = None;
    doc.signatures[1].image_png = Vec::new();
    doc.signatures[1].declined_reason = Some("The amount is too high".to_string());
    doc.signatures[2].signed_at = None;
    doc.signatures[2].image_png = Vec::new();
    doc.seal = None;
    doc.effective_at = None;
    let pdf = dir.write("en.pdf", &render(&doc, &font()).expect("render"));
    let text = poppler("pdftotext", &["-enc", "UTF-8", &pdf, "-"]);
    let flat = squeeze(&text);
    for c in &doc.clauses {
        let shown = match &c.label {
            Some(label) => format!("{label} {}", c.text),
            None => c.text.clone(),
        };
        assert!(
            flat.contains(&squeeze(&shown)),
            "missing clause {shown}\n{text}"
        );
    }
    assert!(has(&text, "Page 1 of"), "{text}");
    assert!(has(&text, "Scan to verify this agreement"), "{text}");
    assert!(
        has(&text, "Declined to sign: The amount is too high"),
        "{text}"
    );
    assert!(has(&text, "Not signed"), "{text}");
    assert!(has(&text, "not yet in force"), "{text}");
    assert!(has(&text, "Signed 2026-12-06 18:05 (UTC+8)"), "{text}");
}

#[test]
fn a_missing_font_or_face_says_what_to_install() {
    let missing = FontSource::load(Path::new("/nonexistent/NotoSansCJK-Regular.ttc"), 2);
    match missing {
        Err(Error::Internal(message)) => {
            assert!(message.contains("fonts-noto-cjk"), "{message}");
            assert!(message.contains("missing"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match FontSource::load(Path::new(DEFAULT_FONT_PATH), 40) {
        Err(Error::Internal(message)) => assert!(message.contains("face 40"), "{message}"),
        other => panic!("{other:?}"),
    }
    match FontSource::from_bytes(b"not a font at all".to_vec(), 0) {
        Err(Error::Internal(message)) => assert!(message.contains("font"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_broken_signature_image_is_an_error_not_a_panic() {
    let mut doc = water_leak();
    doc.signatures[0].image_png = b"\x89PNG\r\n\x1a\nnot really".to_vec();
    match render(&doc, &font()) {
        Err(Error::Internal(message)) => {
            assert!(message.contains("signature image 1"), "{message}")
        }
        other => panic!("{:?}", other.map(|b| b.len())),
    }
}

#[test]
fn the_sample_document_serialises_without_the_raw_image_bytes() {
    let json = serde_json::to_value(water_leak()).expect("json");
    assert_eq!(json["locale"], "zh-CN");
    let image = json["signatures"][0]["image_png"]
        .as_str()
        .expect("base64 string");
    assert!(image.starts_with("iVBORw0KGgo"), "{image}");
}
