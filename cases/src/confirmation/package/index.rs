//! The index of the package by the materials 法释〔2011〕5号 第三条 lists: for each, whether
//! it is there, in which files, and what is missing. It is in the manifest (for machines)
//! and in `index.zh.txt` (for the judge who opens the ZIP by hand).

use serde::{Deserialize, Serialize};

use super::{ManifestFile, PackageInputs};
use crate::store::model::PartyKind;

/// The kinds of material, in the order the index lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexItem {
    /// 司法确认申请书.
    Application,
    /// 调解协议 (with its signatures and seal).
    Agreement,
    /// 当事人身份证明.
    Identity,
    /// 授权委托书 of each representative.
    Attorney,
    /// 当事人住所、联系方式.
    Contact,
    /// 与调解协议相关的财产权利证明.
    Property,
    /// The organisation and the mediator.
    Organisation,
    /// How consent was reached: recordings and the session records.
    Process,
    /// The audit trail.
    Other,
}

/// One row of the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRow {
    /// Which material.
    pub item: IndexItem,
    /// Its name in Chinese.
    pub label: String,
    /// Whether the court requires it in this case.
    pub required: bool,
    /// Whether it is in the package.
    pub present: bool,
    /// The files that hold it.
    pub files: Vec<String>,
    /// What is missing or why it is not needed, in Chinese.
    pub note: String,
}

fn under(files: &[ManifestFile], prefixes: &[&str]) -> Vec<String> {
    files
        .iter()
        .filter(|f| prefixes.iter().any(|p| f.path.starts_with(p)))
        .map(|f| f.path.clone())
        .collect()
}

fn is_principal(kind: PartyKind) -> bool {
    matches!(kind, PartyKind::Person | PartyKind::Organisation)
}

fn row(item: IndexItem, label: &str, required: bool, files: Vec<String>) -> IndexRow {
    IndexRow {
        item,
        label: label.to_owned(),
        required,
        present: !files.is_empty(),
        files,
        note: String::new(),
    }
}

fn missing_note(names: &[String], what: &str) -> String {
    format!("缺：{}的{what}", names.join("、"))
}

/// The index of a package holding `files` (every file but the manifest and its signature).
pub fn index_rows(inputs: &PackageInputs, files: &[ManifestFile]) -> Vec<IndexRow> {
    let principals: Vec<_> = inputs
        .parties
        .iter()
        .filter(|p| is_principal(p.party.kind))
        .collect();
    let representatives: Vec<_> = inputs
        .parties
        .iter()
        .filter(|p| p.party.kind == PartyKind::Representative)
        .collect();
    let parties_json = "parties/parties.json".to_owned();

    let mut application = row(
        IndexItem::Application,
        "司法确认申请书",
        true,
        under(files, &["application/"]),
    );
    application.note = if application.present {
        "各申请人共同申请，已电子签名".to_owned()
    } else {
        "缺：司法确认申请书".to_owned()
    };

    let mut agreement = row(
        IndexItem::Agreement,
        "调解协议",
        true,
        under(files, &["agreement/", "signatures/", "seal/"]),
    );
    agreement.note = format!(
        "第{}版，含{}份电子签名及调解组织电子印章",
        inputs.agreement.version,
        files
            .iter()
            .filter(|f| f.path.starts_with("signatures/") && f.path.ends_with("/signature.json"))
            .count()
    );

    let mut identity = row(IndexItem::Identity, "当事人身份证明", true, Vec::new());
    identity.files = under(files, &["parties/identity/"]);
    identity.files.insert(0, parties_json.clone());
    let without_id: Vec<String> = principals
        .iter()
        .filter(|p| p.id_number.is_none() && p.identity_files.is_empty())
        .map(|p| p.party.name.clone())
        .collect();
    identity.present = without_id.is_empty();
    identity.note = if identity.present {
        "身份证件号码载于 parties/parties.json".to_owned()
    } else {
        missing_note(&without_id, "身份证明")
    };

    let mut attorney = row(
        IndexItem::Attorney,
        "委托代理人的授权委托书",
        !representatives.is_empty(),
        under(files, &["parties/attorney/"]),
    );
    let without_letter: Vec<String> = representatives
        .iter()
        .filter(|p| p.attorney_letter.is_none())
        .map(|p| p.party.name.clone())
        .collect();
    attorney.present = !representatives.is_empty() && without_letter.is_empty();
    attorney.note = if representatives.is_empty() {
        "本案无委托代理人，不适用".to_owned()
    } else if without_letter.is_empty() {
        "每位委托代理人均已提交授权委托书".to_owned()
    } else {
        missing_note(&without_letter, "授权委托书")
    };

    let mut contact = row(
        IndexItem::Contact,
        "当事人住所、联系方式",
        true,
        vec![parties_json, "application/申请书.txt".to_owned()],
    );
    let without_contact: Vec<String> = principals
        .iter()
        .filter(|p| {
            p.address.as_deref().is_none_or(str::is_empty)
                || (p.phone.is_none()
                    && !representatives.iter().any(|r| {
                        r.party.represents.as_ref() == Some(&p.party.id) && r.phone.is_some()
                    }))
        })
        .map(|p| p.party.name.clone())
        .collect();
    contact.present = without_contact.is_empty();
    contact.note = if contact.present {
        "送达地址取自各申请人的申请，联系电话取自案件登记".to_owned()
    } else {
        missing_note(&without_contact, "送达地址或联系电话")
    };

    let mut property = row(
        IndexItem::Property,
        "与调解协议相关的财产权利证明",
        false,
        under(files, &["evidence/"]),
    );
    // The evidence list is always in the package; it proves something only when it lists files.
    property.present = !inputs.evidence.is_empty();
    property.note = if property.present {
        format!("当事人提交的证据材料 {} 份", inputs.evidence.len())
    } else {
        "缺（视情况提供：协议涉及财产权利的，应提交相关证明）".to_owned()
    };

    let mut organisation = row(
        IndexItem::Organisation,
        "调解组织及调解员情况",
        true,
        under(files, &["organisation/"]),
    );
    organisation.note = format!(
        "调解组织：{}；调解员：{}",
        inputs.organisation.name, inputs.mediator.name
    );

    let mut process = row(
        IndexItem::Process,
        "调解过程材料（录音录像、调解笔录）",
        false,
        under(files, &["recordings/", "records/"]),
    );
    process.note = format!(
        "录音录像 {} 段（清单及签名，视频可在线调阅），调解笔录 {} 份",
        inputs.recordings.len(),
        inputs.records.len()
    );

    let mut other = row(
        IndexItem::Other,
        "其他材料：平台审计记录",
        false,
        under(files, &["audit/"]),
    );
    other.note = format!("审计记录 {} 条，哈希链可独立校验", inputs.audit.len());

    vec![
        application,
        agreement,
        identity,
        attorney,
        contact,
        property,
        organisation,
        process,
        other,
    ]
}

/// `index.zh.txt`: the index as the judge reads it.
pub fn index_text(case_number: &str, court: &str, rows: &[IndexRow]) -> String {
    let mut out = format!(
        "司法确认申请材料目录\n（依据《最高人民法院关于人民调解协议司法确认程序的若干规定》第三条）\n\n\
         案号：{case_number}\n受理法院：{court}\n\n"
    );
    for (n, row) in rows.iter().enumerate() {
        let mark = match (row.present, row.required) {
            (true, _) => "已附",
            (false, true) => "缺",
            (false, false) if row.item == IndexItem::Attorney => "不适用",
            (false, false) => "缺（视情况）",
        };
        out.push_str(&format!("{}. {}【{mark}】\n", n + 1, row.label));
        if !row.note.is_empty() {
            out.push_str(&format!("   说明：{}\n", row.note));
        }
        for file in &row.files {
            out.push_str(&format!("   - {file}\n"));
        }
    }
    out.push_str("\n本材料包由 Accord 平台生成，可用 `accord verify` 或平台校验页离线校验。\n");
    out
}
