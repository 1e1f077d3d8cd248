//! What [`super::verify()`] found, in Chinese and English, with stable codes a machine (the
//! browser test, a court's system) can match on.

use serde::Serialize;

/// Why a package does not verify. The codes are the contract shared with the browser verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// The manifest's signature does not verify, or its key is not a trusted one.
    ManifestSignature,
    /// A listed file is absent.
    FileMissing,
    /// A file is present but not listed.
    FileUnlisted,
    /// A file's SHA-256 or size differs from the manifest's.
    FileHash,
    /// The agreement text's SHA-256 is not the agreement's `text_sha256`.
    TextHash,
    /// A signer's ECDSA signature does not verify over their payload.
    SignatureInvalid,
    /// A signature belongs to someone else, or to another text or version.
    SignatureMismatch,
    /// The seal or the platform's countersignature fails, or the statement names another
    /// text or other signatures.
    SealInvalid,
    /// An audit entry's hash does not recompute or does not chain.
    AuditChain,
    /// A recording manifest's signature fails.
    RecordingManifest,
}

impl ProblemCode {
    /// The code as text.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::ManifestSignature => "manifest_signature",
            ProblemCode::FileMissing => "file_missing",
            ProblemCode::FileUnlisted => "file_unlisted",
            ProblemCode::FileHash => "file_hash",
            ProblemCode::TextHash => "text_hash",
            ProblemCode::SignatureInvalid => "signature_invalid",
            ProblemCode::SignatureMismatch => "signature_mismatch",
            ProblemCode::SealInvalid => "seal_invalid",
            ProblemCode::AuditChain => "audit_chain",
            ProblemCode::RecordingManifest => "recording_manifest",
        }
    }
}

/// One thing wrong, at one path of the ZIP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What kind of problem.
    pub code: ProblemCode,
    /// The file it is in.
    pub path: String,
    /// For people, in Chinese.
    pub message_zh: String,
    /// For people, in English.
    pub message_en: String,
}

/// One group of checks and whether it passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `manifest_signature`, `files`, `agreement_text`, `signatures`, `seal`, `audit_chain`,
    /// `recordings`.
    pub what: &'static str,
    /// Whether every check of the group passed.
    pub ok: bool,
}

/// The language a report is printed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    /// Chinese (the default: the report is for a Chinese court).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en`.
    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// The verification's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// No problem found.
    pub ok: bool,
    /// Every problem, in the order found.
    pub problems: Vec<Problem>,
    /// Every group of checks.
    pub checks: Vec<Check>,
}

/// The check groups in the order they run, with their names in both languages.
pub(crate) const CHECKS: &[(&str, &str, &str)] = &[
    ("manifest_signature", "清单签名", "manifest signature"),
    ("files", "文件完整性", "files"),
    ("agreement_text", "协议文本哈希", "agreement text hash"),
    ("signatures", "当事人电子签名", "signatures"),
    ("seal", "调解组织电子印章", "seal"),
    ("audit_chain", "审计链", "audit chain"),
    ("recordings", "录音录像清单签名", "recording manifests"),
];

impl Report {
    /// Whether some problem has `code` at `path`.
    pub fn has(&self, code: ProblemCode, path: &str) -> bool {
        self.problems
            .iter()
            .any(|p| p.code == code && p.path == path)
    }

    /// The report as lines for a terminal: one `FAIL <path>: <message>` per problem, one
    /// line per check group, and a summary.
    pub fn lines(&self, lang: Lang) -> Vec<String> {
        let mut out = Vec::new();
        for check in &self.checks {
            let name = CHECKS
                .iter()
                .find(|(what, _, _)| *what == check.what)
                .map_or(check.what, |(_, zh, en)| match lang {
                    Lang::Zh => zh,
                    Lang::En => en,
                });
            let state = match (check.ok, lang) {
                (true, _) => "OK  ",
                (false, _) => "FAIL",
            };
            out.push(format!("{state} {name}"));
        }
        for problem in &self.problems {
            let message = match lang {
                Lang::Zh => &problem.message_zh,
                Lang::En => &problem.message_en,
            };
            out.push(format!(
                "FAIL {}: {message} [{}]",
                problem.path,
                problem.code.as_str()
            ));
        }
        out.push(match (self.ok, lang) {
            (true, Lang::Zh) => "结论：材料包完整，全部签名有效。".to_owned(),
            (true, Lang::En) => {
                "Result: the package is intact and every signature verifies.".to_owned()
            }
            (false, Lang::Zh) => {
                format!("结论：发现 {} 个问题，材料包不可信。", self.problems.len())
            }
            (false, Lang::En) => format!(
                "Result: {} problem(s) found; the package cannot be trusted.",
                self.problems.len()
            ),
        });
        out
    }
}

/// Collects problems while the checks run and marks the group each belongs to.
#[derive(Default)]
pub(crate) struct Findings {
    pub(crate) problems: Vec<Problem>,
    failed: Vec<&'static str>,
}

impl Findings {
    pub(crate) fn add(
        &mut self,
        group: &'static str,
        code: ProblemCode,
        path: &str,
        message_zh: String,
        message_en: String,
    ) {
        if !self.failed.contains(&group) {
            self.failed.push(group);
        }
        let problem = Problem {
            code,
            path: path.to_owned(),
            message_zh,
            message_en,
        };
        // The same problem found twice (e.g. by two checks reading one file) is said once.
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    pub(crate) fn into_report(self) -> Report {
        let checks = CHECKS
            .iter()
            .map(|(what, _, _)| Check {
                what,
                ok: !self.failed.contains(what),
            })
            .collect();
        Report {
            ok: self.problems.is_empty(),
            problems: self.problems,
            checks,
        }
    }
}
