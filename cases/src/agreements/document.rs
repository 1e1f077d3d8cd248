//! The agreement as a shared document: the same CRDT the browser edits with Yjs, kept here
//! with `yrs` so the server can check every change, answer late joiners with what they lack
//! and compute the canonical text that gets hashed and signed.
//!
//! The shape is fixed (see the project brief, "The document model"): a root Y.Text `title`
//! and a root Y.Array `clauses` of Y.Maps `{id: string, kind: string, text: Y.Text}`.
//! Updates travel in the Yjs v1 encoding. Anything else an update tries to put in the
//! document is refused before it touches the stored state.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use yrs::types::GetString;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Any, Array, ArrayRef, Doc, Map, MapPrelim, MapRef, OffsetKind, Options, Out, ReadTxn,
    StateVector, Text, TextPrelim, TextRef, Transact, Update,
};

use crate::error::{Error, Result};

/// The largest update a client may send in one piece. A person typing produces updates of
/// a few dozen bytes; pasting a whole agreement stays well under this.
pub const MAX_UPDATE_BYTES: usize = 64 * 1024;
/// More clauses than any 调解协议书 needs; bounds the work per update.
pub const MAX_CLAUSES: usize = 200;
/// Title and clause texts together, in characters.
pub const MAX_TEXT_CHARS: usize = 200_000;
/// A title is one line on the first page.
pub const MAX_TITLE_CHARS: usize = 200;
/// Clause ids are made by [`new_clause_id`]; clients may make their own within this length.
pub const MAX_CLAUSE_ID_CHARS: usize = 32;

const TITLE: &str = "title";
const CLAUSES: &str = "clauses";
const KEY_ID: &str = "id";
const KEY_KIND: &str = "kind";
const KEY_TEXT: &str = "text";
const CLAUSE_ID_LEN: usize = 10;
const CLAUSE_ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// What a clause is for; decides whether it is numbered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClauseKind {
    /// 纠纷事实及争议事项: stated, not agreed, so not numbered.
    Facts,
    /// What the parties agree to do.
    Term,
    /// What happens if someone does not.
    Breach,
    /// Performance, entry into force, judicial confirmation, copies.
    Closing,
}

impl ClauseKind {
    /// Every kind, in the order a template lists them.
    pub const ALL: &'static [ClauseKind] = &[
        ClauseKind::Facts,
        ClauseKind::Term,
        ClauseKind::Breach,
        ClauseKind::Closing,
    ];

    /// The name in the document and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ClauseKind::Facts => "facts",
            ClauseKind::Term => "term",
            ClauseKind::Breach => "breach",
            ClauseKind::Closing => "closing",
        }
    }

    /// Reads a kind a client or the database wrote.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "facts" => Ok(ClauseKind::Facts),
            "term" => Ok(ClauseKind::Term),
            "breach" => Ok(ClauseKind::Breach),
            "closing" => Ok(ClauseKind::Closing),
            other => Err(Error::BadRequest(format!(
                "unknown clause kind `{}`; one of: facts, term, breach, closing",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// Whether the clause carries an article number (第N条 / Article N).
    pub fn numbered(self) -> bool {
        self != ClauseKind::Facts
    }
}

/// One clause as it reads now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clause {
    /// Stable for the clause's life, whatever is edited or moved around it.
    pub id: String,
    /// What the clause is for.
    pub kind: ClauseKind,
    /// Its text, without the article label.
    pub text: String,
}

/// An agreement's shared document (the main one or a private draft).
pub struct Draft {
    doc: Doc,
    // Held rather than looked up: `get_or_insert_*` opens a write transaction of its own,
    // which must never overlap another on the same document.
    title: TextRef,
    clauses: ArrayRef,
}

impl std::fmt::Debug for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The text is personal data; say only how big the document is.
        f.debug_struct("Draft")
            .field("clauses", &self.clauses().len())
            .finish()
    }
}

impl Draft {
    /// An empty document with both root types declared, so that whatever an update puts
    /// under another root name shows up as foreign and can be refused.
    fn empty() -> Draft {
        // Yjs counts text positions in UTF-16 code units; match it for any local edit.
        let doc = Doc::with_options(Options {
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let title = doc.get_or_insert_text(TITLE);
        let clauses = doc.get_or_insert_array(CLAUSES);
        Draft {
            doc,
            title,
            clauses,
        }
    }

    /// A fresh document with the given title and clauses, each with a fresh id, and the
    /// update that creates it: the first update stored for the document.
    pub fn new_from(title: &str, clauses: &[(ClauseKind, String)]) -> (Draft, Vec<u8>) {
        let draft = Draft::empty();
        let update = {
            let title_ref = &draft.title;
            let clauses_ref = &draft.clauses;
            let mut txn = draft.doc.transact_mut();
            title_ref.insert(&mut txn, 0, title);
            for (kind, text) in clauses {
                let len = clauses_ref.len(&txn);
                let map = clauses_ref.insert(&mut txn, len, MapPrelim::default());
                map.insert(&mut txn, KEY_ID, new_clause_id());
                map.insert(&mut txn, KEY_KIND, kind.as_str());
                map.insert(&mut txn, KEY_TEXT, TextPrelim::new(text.as_str()));
            }
            txn.encode_update_v1()
        };
        (draft, update)
    }

    /// The document the stored updates build, in the order they were stored. They were
    /// checked when they came in; a log that no longer makes a valid document is damage,
    /// reported as an internal error.
    pub fn from_updates<'a>(updates: impl IntoIterator<Item = &'a [u8]>) -> Result<Draft> {
        let draft = Draft::empty();
        {
            let mut txn = draft.doc.transact_mut();
            for (n, bytes) in updates.into_iter().enumerate() {
                let update = Update::decode_v1(bytes).map_err(|e| {
                    Error::Internal(format!("stored document update {} is damaged: {e}", n + 1))
                })?;
                txn.apply_update(update).map_err(|e| {
                    Error::Internal(format!("stored document update {} is damaged: {e}", n + 1))
                })?;
            }
            if txn.has_missing_updates() {
                return Err(Error::Internal(
                    "the stored document updates have a gap".to_owned(),
                ));
            }
        }
        draft
            .check()
            .map_err(|e| Error::Internal(format!("the stored document is invalid: {e}")))?;
        Ok(draft)
    }

    /// Checks `update` and applies it. Returns the ids of the clauses it added, removed or
    /// changed the kind or text of, in document order (removed ones last); the title is not
    /// a clause and is not listed. An update already applied is accepted and changes
    /// nothing. Refused with [`Error::BadRequest`], and nothing applied: an update over
    /// [`MAX_UPDATE_BYTES`], one that does not decode, one that builds on changes this
    /// document has not seen, and one that would leave the document out of shape.
    pub fn apply(&mut self, update: &[u8]) -> Result<Vec<String>> {
        if update.len() > MAX_UPDATE_BYTES {
            return Err(Error::BadRequest(format!(
                "a document update is at most {MAX_UPDATE_BYTES} bytes; this one is {}",
                update.len()
            )));
        }
        let before = self.clauses();
        // Trial run on a copy: `yrs` cannot undo an applied update, and the update comes
        // from a client. `catch_unwind` because a crafted update must cost that client
        // its change, not the server a thread; the copy is thrown away either way.
        let state = self.full_update();
        let trial = catch_unwind(AssertUnwindSafe(|| -> Result<Vec<Clause>> {
            let scratch = Draft::empty();
            {
                let mut txn = scratch.doc.transact_mut();
                let decode = |bytes: &[u8]| {
                    Update::decode_v1(bytes).map_err(|e| {
                        Error::BadRequest(format!("the document update does not decode: {e}"))
                    })
                };
                txn.apply_update(decode(&state)?).map_err(|e| {
                    Error::Internal(format!("the document does not copy onto itself: {e}"))
                })?;
                txn.apply_update(decode(update)?).map_err(|e| {
                    Error::BadRequest(format!("the document update does not apply: {e}"))
                })?;
                if txn.has_missing_updates() {
                    return Err(Error::BadRequest(
                        "the document update builds on changes the server does not have; \
                         load the document again"
                            .to_owned(),
                    ));
                }
            }
            scratch.check()?;
            Ok(scratch.clauses())
        }));
        let after = match trial {
            Ok(result) => result?,
            Err(_) => {
                return Err(Error::BadRequest(
                    "the document update is malformed".to_owned(),
                ));
            }
        };
        {
            let decoded = Update::decode_v1(update).map_err(|e| {
                Error::BadRequest(format!("the document update does not decode: {e}"))
            })?;
            let mut txn = self.doc.transact_mut();
            txn.apply_update(decoded).map_err(|e| {
                Error::BadRequest(format!("the document update does not apply: {e}"))
            })?;
        }
        Ok(changed_ids(&before, &after))
    }

    /// This document's state vector (Yjs v1 encoding): what it has seen from each client.
    pub fn state_vector(&self) -> Vec<u8> {
        self.doc.transact().state_vector().encode_v1()
    }

    /// What a peer with `state_vector` lacks, as one v1 update. An empty state vector means
    /// the peer has nothing. A state vector that does not decode is refused.
    pub fn diff(&self, state_vector: &[u8]) -> Result<Vec<u8>> {
        let sv = if state_vector.is_empty() {
            StateVector::default()
        } else {
            StateVector::decode_v1(state_vector)
                .map_err(|e| Error::BadRequest(format!("the state vector does not decode: {e}")))?
        };
        Ok(self.doc.transact().encode_state_as_update_v1(&sv))
    }

    /// The whole document as one v1 update; a new document built from it alone is a copy
    /// (how a private draft starts from the main one).
    pub fn full_update(&self) -> Vec<u8> {
        self.doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    /// The title as it reads now.
    pub fn title(&self) -> String {
        let txn = self.doc.transact();
        self.title.get_string(&txn)
    }

    /// The clauses in document order. Elements that are not well-formed clauses (which
    /// [`Draft::apply`] never lets in) are skipped.
    pub fn clauses(&self) -> Vec<Clause> {
        let txn = self.doc.transact();
        self.clauses
            .iter(&txn)
            .filter_map(|value| match value {
                Out::YMap(map) => read_clause(&txn, &map).ok(),
                _ => None,
            })
            .collect()
    }

    /// Whether the document has exactly the agreed shape and stays within the limits.
    fn check(&self) -> Result<()> {
        let title_ref = &self.title;
        let clauses_ref = &self.clauses;
        let txn = self.doc.transact();
        if let Some((name, _)) = txn
            .root_refs()
            .find(|(name, _)| *name != TITLE && *name != CLAUSES)
        {
            return Err(bad(format!(
                "the document has only `title` and `clauses`; not `{}`",
                name.chars().take(40).collect::<String>()
            )));
        }
        // A root's map part is invisible to Y.Text and Y.Array readers, so keys there would
        // be content nobody sees; refuse them.
        for root in [TITLE, CLAUSES] {
            if txn.get_map(root).is_some_and(|m| m.len(&txn) > 0) {
                return Err(bad(format!("`{root}` has keys; it is a sequence")));
            }
        }
        let title = plain_text(&txn, title_ref, "the title").map_err(bad)?;
        let title_chars = title.chars().count();
        if title_chars > MAX_TITLE_CHARS {
            return Err(bad(format!(
                "the title is at most {MAX_TITLE_CHARS} characters"
            )));
        }
        let count = clauses_ref.len(&txn) as usize;
        if count > MAX_CLAUSES {
            return Err(bad(format!(
                "an agreement has at most {MAX_CLAUSES} clauses"
            )));
        }
        let mut total = title_chars;
        let mut ids = HashSet::new();
        for (n, value) in clauses_ref.iter(&txn).enumerate() {
            let Out::YMap(map) = value else {
                return Err(bad(format!("clause {} is not a map", n + 1)));
            };
            let clause =
                read_clause(&txn, &map).map_err(|e| bad(format!("clause {}: {e}", n + 1)))?;
            if !ids.insert(clause.id.clone()) {
                return Err(bad(format!(
                    "clause {} has the id of an earlier clause; ids are unique",
                    n + 1
                )));
            }
            total += clause.text.chars().count();
            if total > MAX_TEXT_CHARS {
                return Err(bad(format!(
                    "an agreement has at most {MAX_TEXT_CHARS} characters of text"
                )));
            }
        }
        Ok(())
    }
}

fn bad(message: String) -> Error {
    Error::BadRequest(format!("the document update is refused: {message}"))
}

/// A clause map read strictly: exactly the keys `id`, `kind`, `text` with the right types.
/// The error is a bare reason; the caller says which clause.
fn read_clause<T: ReadTxn>(txn: &T, map: &MapRef) -> std::result::Result<Clause, String> {
    let mut id = None;
    let mut kind = None;
    let mut text = None;
    for (key, value) in map.iter(txn) {
        match (key, value) {
            (KEY_ID, Out::Any(Any::String(s))) => id = Some(s.to_string()),
            (KEY_KIND, Out::Any(Any::String(s))) => kind = Some(s.to_string()),
            (KEY_TEXT, Out::YText(t)) => text = Some(plain_text(txn, &t, "the text")?),
            (KEY_ID | KEY_KIND, _) => return Err(format!("`{key}` is not a string")),
            (KEY_TEXT, _) => return Err("`text` is not a Y.Text".to_owned()),
            (other, _) => {
                return Err(format!(
                    "has a key `{}`; a clause has only id, kind and text",
                    other.chars().take(40).collect::<String>()
                ));
            }
        }
    }
    let id = id.ok_or("has no id")?;
    if id.is_empty()
        || id.len() > MAX_CLAUSE_ID_CHARS
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "its id is 1 to {MAX_CLAUSE_ID_CHARS} of a-z, A-Z, 0-9, _ and -"
        ));
    }
    let kind = kind.ok_or("has no kind")?;
    let kind = ClauseKind::parse(&kind).map_err(|e| e.to_string())?;
    let text = text.ok_or("has no text")?;
    Ok(Clause { id, kind, text })
}

/// The text of a Y.Text holding only plain characters: an agreement is words, so embedded
/// objects and formatting are refused rather than silently dropped from what gets signed.
fn plain_text<T: ReadTxn>(
    txn: &T,
    text: &TextRef,
    what: &str,
) -> std::result::Result<String, String> {
    let mut out = String::new();
    for chunk in text.diff(txn, |_| ()) {
        if chunk.attributes.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(format!("{what} has formatting; it is plain text"));
        }
        match chunk.insert {
            Out::Any(Any::String(s)) => out.push_str(&s),
            _ => return Err(format!("{what} embeds an object; it is plain text")),
        }
    }
    Ok(out)
}

fn changed_ids(before: &[Clause], after: &[Clause]) -> Vec<String> {
    let old: HashMap<&str, &Clause> = before.iter().map(|c| (c.id.as_str(), c)).collect();
    let new: HashSet<&str> = after.iter().map(|c| c.id.as_str()).collect();
    let mut changed: Vec<String> = after
        .iter()
        .filter(|c| {
            old.get(c.id.as_str())
                .is_none_or(|o| o.kind != c.kind || o.text != c.text)
        })
        .map(|c| c.id.clone())
        .collect();
    changed.extend(
        before
            .iter()
            .filter(|c| !new.contains(c.id.as_str()))
            .map(|c| c.id.clone()),
    );
    changed
}

/// A fresh clause id: 10 characters of `[a-z0-9]`, as the browser makes them.
pub fn new_clause_id() -> String {
    let mut rng = rand::rng();
    (0..CLAUSE_ID_LEN)
        .map(|_| char::from(CLAUSE_ID_ALPHABET[rng.random_range(0..CLAUSE_ID_ALPHABET.len())]))
        .collect()
}

/// The label of the `n`th numbered clause (from 1): `第一条` in `zh-CN`, `Article 1` otherwise.
pub fn label(locale: &str, n: usize) -> String {
    if locale == "zh-CN" {
        format!("第{}条", chinese_numeral(n))
    } else {
        format!("Article {n}")
    }
}

/// Chinese numerals as legal texts write article numbers: 十, 十一, 二十一, 一百零一, 一百一十.
fn chinese_numeral(n: usize) -> String {
    const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    const UNITS: [char; 4] = ['\0', '十', '百', '千'];
    if n == 0 {
        return "零".to_owned();
    }
    if n >= 10_000 {
        // Never reached (at most MAX_CLAUSES clauses); digits keep the label readable.
        return n.to_string();
    }
    let digits = [n / 1000, n / 100 % 10, n / 10 % 10, n % 10];
    let mut out = String::new();
    let mut pending_zero = false;
    for (i, &d) in digits.iter().enumerate() {
        let unit = UNITS[3 - i];
        if d == 0 {
            pending_zero = !out.is_empty();
            continue;
        }
        if pending_zero {
            out.push('零');
            pending_zero = false;
        }
        // 十一, not 一十一, when the number starts with the tens.
        if !(unit == '十' && d == 1 && out.is_empty()) {
            out.push(DIGITS[d]);
        }
        if unit != '\0' {
            out.push(unit);
        }
    }
    out
}

/// The text that is hashed and signed: the title, a blank line, the parties block, a blank
/// line, then each clause on its own line(s) with its label if numbered; Unicode NFC, `\n`
/// line ends, no trailing whitespace on any line and no trailing newline.
pub fn canonical_text(title: &str, parties: &[String], clauses: &[Clause], locale: &str) -> String {
    let mut raw = String::new();
    raw.push_str(title);
    raw.push_str("\n\n");
    raw.push_str(&parties.join("\n"));
    raw.push_str("\n\n");
    let mut number = 0;
    let lines: Vec<String> = clauses
        .iter()
        .map(|clause| {
            if clause.kind.numbered() {
                number += 1;
                format!("{} {}", label(locale, number), clause.text)
            } else {
                clause.text.clone()
            }
        })
        .collect();
    raw.push_str(&lines.join("\n"));
    let normalised: String = raw.nfc().collect();
    let unified = normalised.replace("\r\n", "\n").replace('\r', "\n");
    let trimmed: Vec<&str> = unified.split('\n').map(str::trim_end).collect();
    trimmed.join("\n").trim_end_matches('\n').to_owned()
}

/// SHA-256 of the text's UTF-8 bytes, lowercase hex.
pub fn text_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_labels() {
        let cases = [
            (1, "第一条"),
            (10, "第十条"),
            (11, "第十一条"),
            (19, "第十九条"),
            (20, "第二十条"),
            (21, "第二十一条"),
            (99, "第九十九条"),
            (100, "第一百条"),
            (101, "第一百零一条"),
            (110, "第一百一十条"),
            (111, "第一百一十一条"),
            (200, "第二百条"),
        ];
        for (n, want) in cases {
            assert_eq!(label("zh-CN", n), want, "n = {n}");
        }
        assert_eq!(label("en", 7), "Article 7");
    }

    #[test]
    fn clause_ids_are_ten_lowercase_alphanumerics() {
        let id = new_clause_id();
        assert_eq!(id.len(), 10);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }

    #[test]
    fn kinds_round_trip() {
        for kind in ClauseKind::ALL {
            assert_eq!(ClauseKind::parse(kind.as_str()).ok(), Some(*kind));
        }
        assert!(ClauseKind::parse("preamble").is_err());
    }

    #[test]
    fn changes_are_reported_by_clause() {
        let (a, first) = Draft::new_from(
            "T",
            &[
                (ClauseKind::Facts, "f".into()),
                (ClauseKind::Term, "t".into()),
            ],
        );
        let ids: Vec<String> = a.clauses().into_iter().map(|c| c.id).collect();
        let b = Draft::from_updates([first.as_slice()]).expect("rebuilds");
        let sv = b.state_vector();
        {
            let clauses = a.clauses.clone();
            let mut txn = a.doc.transact_mut();
            let Some(Out::YMap(map)) = clauses.get(&txn, 1) else {
                panic!("no second clause");
            };
            let Some(Out::YText(text)) = map.get(&txn, KEY_TEXT) else {
                panic!("no text");
            };
            text.push(&mut txn, "wo");
        }
        let update = a.diff(&sv).expect("diff");
        let mut b = b;
        assert_eq!(b.apply(&update).expect("applies"), vec![ids[1].clone()]);
        assert_eq!(b.apply(&update).expect("duplicate"), Vec::<String>::new());
    }
}
