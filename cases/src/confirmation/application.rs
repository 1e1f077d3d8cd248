//! The 司法确认申请书: the joint application the parties file with the court, as text (the
//! package keeps it beside the PDF, and its wording is what a judge reads) and as a PDF set
//! in the agreement's CJK font.
//!
//! The wording follows the form courts hand out for 法释〔2011〕5号: the applicants with their
//! identity and 送达地址, 请求事项, 事实与理由 with the statutory basis, the undertakings of
//! 第七条 (voluntary, no collusion, no harm to the state, the public or others, true
//! content), 此致 the court, and each applicant's electronic signature with the date.
//! Nothing depends on the clock: the date printed is the one passed in, so the same input
//! gives the same text and the same PDF bytes.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::Point;
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::TextDirection;

use crate::agreements::pdf::FontSource;
use crate::agreements::pdf::wrap::wrap;
use crate::store::china_time;
use crate::store::model::PartyKind;
use crate::{Error, Result};

/// One applicant as the 申请书 names them. Full ID number and phone: the court needs them to
/// identify and reach the applicant, so this value is personal data and never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct ApplicationParty {
    /// Name (a person's or an organisation's).
    pub name: String,
    /// Person or organisation.
    pub kind: PartyKind,
    /// Resident ID number, or an organisation's unified social credit code.
    pub id_number: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// 送达地址, as given when applying.
    pub address: String,
    /// The representative (委托代理人) who applied for them, if one did.
    pub represented_by: Option<String>,
    /// When they (or their representative) applied, Unix ms.
    pub applied_at: i64,
}

impl std::fmt::Debug for ApplicationParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicationParty")
            .field("kind", &self.kind)
            .field("applied_at", &self.applied_at)
            .finish_non_exhaustive()
    }
}

/// Everything the 申请书 says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationInput {
    /// The case number, e.g. `2026-宝安-000001`.
    pub case_number: String,
    /// The court applied to, e.g. `深圳市宝安区人民法院`.
    pub court: String,
    /// Every applicant, in the order of the agreement.
    pub applicants: Vec<ApplicationParty>,
    /// The mediation organisation.
    pub organisation: String,
    /// The mediator who presided.
    pub mediator: String,
    /// The dispute as the case file states it (案情).
    pub facts: String,
    /// The sealed version.
    pub agreement_version: i64,
    /// When the agreement came into force, Unix ms.
    pub agreement_effective_at: i64,
    /// SHA-256 of its canonical text, lowercase hex.
    pub agreement_text_sha256: String,
    /// The date of the application (the last applicant's), Unix ms.
    pub date: i64,
}

/// `2026年12月6日` in Beijing time.
fn chinese_date(ms: i64) -> String {
    let t = china_time(ms);
    format!("{}年{}月{}日", t.year, t.month, t.day)
}

fn applicant_line(n: usize, total: usize, party: &ApplicationParty) -> String {
    let label = if total > 1 {
        format!("申请人{}", chinese_number(n + 1))
    } else {
        "申请人".to_owned()
    };
    let id_label = match party.kind {
        PartyKind::Organisation => "统一社会信用代码",
        _ => "公民身份号码",
    };
    let mut line = format!("{label}：{}", party.name);
    if let Some(id) = party.id_number.as_deref().filter(|s| !s.is_empty()) {
        line.push_str(&format!("，{id_label}：{id}"));
    }
    if let Some(phone) = party.phone.as_deref().filter(|s| !s.is_empty()) {
        line.push_str(&format!("，联系电话：{phone}"));
    }
    line.push_str(&format!("，送达地址：{}。", party.address));
    if let Some(agent) = &party.represented_by {
        line.push_str(&format!("\n委托代理人：{agent}（已提交授权委托书）。"));
    }
    line
}

/// 一, 二, … 九十九: enough for any number of applicants a case has.
fn chinese_number(n: usize) -> String {
    const DIGITS: [&str; 10] = ["〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => DIGITS[n].to_owned(),
        10..=19 => format!("十{}", if n == 10 { "" } else { DIGITS[n - 10] }),
        20..=99 => format!(
            "{}十{}",
            DIGITS[n / 10],
            if n.is_multiple_of(10) {
                ""
            } else {
                DIGITS[n % 10]
            }
        ),
        _ => n.to_string(),
    }
}

/// The sections of the 申请书 in order: the title, then (heading, paragraphs) pairs. The
/// text and the PDF are both made from this, so they cannot say different things.
fn sections(input: &ApplicationInput) -> Vec<(Option<String>, Vec<String>)> {
    let effective = chinese_date(input.agreement_effective_at);
    let total = input.applicants.len();
    let applicants: Vec<String> = input
        .applicants
        .iter()
        .enumerate()
        .map(|(n, party)| applicant_line(n, total, party))
        .collect();
    let names: Vec<&str> = input.applicants.iter().map(|p| p.name.as_str()).collect();
    let names = names.join("、");
    let requests = vec![format!(
        "请求人民法院依法确认申请人{names}于{effective}经{organisation}主持调解达成的调解协议\
         （案号：{case}，第{version}版，协议文本 SHA-256：{hash}）有效。",
        organisation = input.organisation,
        case = input.case_number,
        version = input.agreement_version,
        hash = input.agreement_text_sha256,
    )];
    let mut facts = Vec::new();
    let case_facts = input.facts.trim();
    if !case_facts.is_empty() {
        facts.push(case_facts.to_owned());
    }
    facts.push(format!(
        "经{organisation}调解员{mediator}主持调解，申请人在平等协商的基础上自愿达成调解协议。\
         协议经各方当事人电子签名并加盖{organisation}电子印章，于{effective}生效。",
        organisation = input.organisation,
        mediator = input.mediator,
    ));
    facts.push(
        "根据《中华人民共和国人民调解法》第三十三条、《中华人民共和国民事诉讼法》第二百零五条\
         及《最高人民法院关于人民调解协议司法确认程序的若干规定》（法释〔2011〕5号）的规定，\
         申请人自调解协议生效之日起三十日内共同向贵院申请司法确认。"
            .to_owned(),
    );
    let undertakings = vec![
        "一、申请人出于解决纠纷的目的自愿达成调解协议，没有恶意串通、规避法律的行为；".to_owned(),
        "二、调解协议不损害国家利益、社会公共利益和他人合法权益，如因协议内容给他人造成损害的，\
         申请人愿意承担相应的民事责任和其他法律责任；"
            .to_owned(),
        "三、申请人提交的材料及所述事实真实、合法、有效。".to_owned(),
    ];
    let mut signatures = vec!["此致".to_owned(), input.court.clone(), String::new()];
    for party in &input.applicants {
        let by = match &party.represented_by {
            Some(agent) => format!("（委托代理人{agent}代为申请）"),
            None => String::new(),
        };
        signatures.push(format!(
            "申请人：{}{by}（电子签名）　{}",
            party.name,
            chinese_date(party.applied_at)
        ));
    }
    signatures.push(String::new());
    signatures.push(chinese_date(input.date));
    vec![
        (None, applicants),
        (Some("请求事项".to_owned()), requests),
        (Some("事实与理由".to_owned()), facts),
        (Some("申请人承诺".to_owned()), undertakings),
        (None, signatures),
    ]
}

/// The title printed on the application.
pub const TITLE: &str = "司法确认申请书";

/// The 申请书 as plain text (UTF-8, `\n` line ends, ending with a newline).
pub fn application_text(input: &ApplicationInput) -> String {
    let mut out = format!("{TITLE}\n\n");
    for (heading, paragraphs) in sections(input) {
        if let Some(heading) = heading {
            out.push_str(&heading);
            out.push('\n');
        }
        for paragraph in paragraphs {
            out.push_str(&paragraph);
            out.push('\n');
        }
        out.push('\n');
    }
    // One newline at the end, not a blank line.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const LEFT: f32 = 72.0;
const RIGHT: f32 = PAGE_WIDTH - 72.0;
const TOP: f32 = 72.0;
const BOTTOM: f32 = PAGE_HEIGHT - 72.0;
const TITLE_SIZE: f32 = 20.0;
const BODY: f32 = 12.0;
const LEADING: f32 = 22.0;

/// One line placed on a page: (x, baseline y, size, text).
type Placed = (f32, f32, f32, String);

/// The 申请书 as an A4 PDF set in `font` (the agreement PDF's font, so Chinese renders on
/// any viewer). The same input gives the same bytes: the PDF's date is the application's.
pub fn application_pdf(input: &ApplicationInput, font: &FontSource) -> Result<Vec<u8>> {
    let metrics = font.metrics()?;
    let mut pages: Vec<Vec<Placed>> = vec![Vec::new()];
    let mut y = TOP;
    let place = |pages: &mut Vec<Vec<Placed>>, y: &mut f32, x: f32, size: f32, text: String| {
        if *y + LEADING > BOTTOM {
            pages.push(Vec::new());
            *y = TOP;
        }
        if !text.is_empty()
            && let Some(page) = pages.last_mut()
        {
            page.push((x, *y + size, size, text));
        }
        *y += LEADING;
    };
    let title_width = metrics.width(TITLE, TITLE_SIZE);
    place(
        &mut pages,
        &mut y,
        (PAGE_WIDTH - title_width) / 2.0,
        TITLE_SIZE,
        TITLE.to_owned(),
    );
    y += LEADING / 2.0;
    let indent = BODY * 2.0;
    for (heading, paragraphs) in sections(input) {
        if let Some(heading) = heading {
            let x = (PAGE_WIDTH - metrics.width(&heading, BODY)) / 2.0;
            place(&mut pages, &mut y, x, BODY, heading);
        }
        for paragraph in paragraphs {
            for text_line in paragraph.split('\n') {
                if text_line.is_empty() {
                    place(&mut pages, &mut y, LEFT, BODY, String::new());
                    continue;
                }
                for line in wrap(&metrics, text_line, BODY, RIGHT - LEFT, indent) {
                    let x = if line.first { LEFT + indent } else { LEFT };
                    place(&mut pages, &mut y, x, BODY, line.text);
                }
            }
        }
        y += LEADING / 2.0;
    }
    write_pdf(input, &pages, font)
}

fn write_pdf(
    input: &ApplicationInput,
    pages: &[Vec<Placed>],
    font: &FontSource,
) -> Result<Vec<u8>> {
    let font = font.krilla_font()?;
    let t = china_time(input.date);
    let as_u8 = |n: i64| u8::try_from(n).unwrap_or(0);
    let date = DateTime::new(u16::try_from(t.year).unwrap_or(1970))
        .month(as_u8(t.month))
        .day(as_u8(t.day))
        .hour(as_u8(t.hour))
        .minute(as_u8(t.minute))
        .utc_offset_hour(8)
        .utc_offset_minute(0);
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{TITLE} {}", input.case_number))
            .language("zh-CN".to_string())
            .creator("Accord".to_string())
            .creation_date(date),
    );
    let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| Error::Internal("the A4 page size was refused".to_string()))?;
    let black = Fill {
        paint: rgb::Color::new(0, 0, 0).into(),
        ..Default::default()
    };
    let total = pages.len();
    for (n, lines) in pages.iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        surface.set_fill(Some(black.clone()));
        for (x, y, size, text) in lines {
            surface.draw_text(
                Point::from_xy(*x, *y),
                font.clone(),
                *size,
                text,
                false,
                TextDirection::Auto,
            );
        }
        let footer = format!("第 {} 页 / 共 {total} 页", n + 1);
        let x = (PAGE_WIDTH - metrics_width(&footer)) / 2.0;
        surface.draw_text(
            Point::from_xy(x, PAGE_HEIGHT - 36.0),
            font.clone(),
            9.0,
            &footer,
            false,
            TextDirection::Auto,
        );
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| Error::Internal(format!("the application PDF could not be written: {e:?}")))
}

/// The footer's width, roughly: it is centred only for looks, so an estimate (CJK full
/// width, digits and spaces half) serves.
fn metrics_width(text: &str) -> f32 {
    text.chars()
        .map(|c| if c.is_ascii() { 4.5 } else { 9.0 })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ApplicationInput {
        ApplicationInput {
            case_number: "2026-宝安-000001".into(),
            court: "深圳市宝安区人民法院".into(),
            applicants: vec![
                ApplicationParty {
                    name: "张三".into(),
                    kind: PartyKind::Person,
                    id_number: Some("110101199003071234".into()),
                    phone: Some("13800001234".into()),
                    address: "深圳市宝安区新安街道1号".into(),
                    represented_by: None,
                    applied_at: 1_796_500_000_000,
                },
                ApplicationParty {
                    name: "某某有限公司".into(),
                    kind: PartyKind::Organisation,
                    id_number: Some("91440300MA5XXXXXX1".into()),
                    phone: None,
                    address: "深圳市南山区科技园2号".into(),
                    represented_by: Some("李四".into()),
                    applied_at: 1_796_510_000_000,
                },
            ],
            organisation: "宝安区人民调解委员会".into(),
            mediator: "王五".into(),
            facts: "双方因货款发生纠纷。".into(),
            agreement_version: 2,
            agreement_effective_at: 1_796_400_000_000,
            agreement_text_sha256: "ab".repeat(32),
            date: 1_796_510_000_000,
        }
    }

    #[test]
    fn the_text_has_every_part_a_court_expects() {
        let text = application_text(&input());
        for part in [
            "司法确认申请书",
            "申请人一：张三，公民身份号码：110101199003071234",
            "申请人二：某某有限公司，统一社会信用代码",
            "委托代理人：李四",
            "请求事项",
            "事实与理由",
            "人民调解法》第三十三条",
            "民事诉讼法》第二百零五条",
            "没有恶意串通",
            "不损害国家利益、社会公共利益和他人合法权益",
            "此致\n深圳市宝安区人民法院",
            "（电子签名）",
        ] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
    }

    #[test]
    fn numbers_read_in_chinese() {
        assert_eq!(chinese_number(1), "一");
        assert_eq!(chinese_number(10), "十");
        assert_eq!(chinese_number(12), "十二");
        assert_eq!(chinese_number(20), "二十");
        assert_eq!(chinese_number(34), "三十四");
    }

    #[test]
    fn the_pdf_is_the_same_bytes_twice_when_the_font_is_installed() {
        let Ok(font) = FontSource::load_default() else {
            return;
        };
        let a = application_pdf(&input(), &font).expect("pdf");
        let b = application_pdf(&input(), &font).expect("pdf");
        assert!(a.starts_with(b"%PDF-"));
        assert_eq!(a, b);
    }
}
