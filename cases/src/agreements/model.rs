//! The agreement's records as the store keeps them: the agreement, its frozen versions, its
//! documents (the shared `main` draft and the mediator's private drafts) and their updates,
//! comments on clauses, each clause's last moment, and the history of who edited what.
//! The edge builds the Agreement JSON of the API from these; field names are those of the API.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{AgreementId, CaseId, CommentId, SessionId};
use crate::store::model::{Actor, Side, text_enum};

/// The shared document's name; private drafts are named by their `PD_…` id.
pub const MAIN_DOC: &str = "main";

/// Whether `locale` is one an agreement may be written in ([`super::templates::LOCALES`]).
/// Fixed per agreement: the clause labels and the canonical text depend on it.
pub fn is_locale(locale: &str) -> bool {
    super::templates::LOCALES.contains(&locale)
}

text_enum!(
    /// Where an agreement stands.
    AgreementStatus {
        /// Being written; no version to sign.
        Drafting = "drafting",
        /// A version is frozen and may be signed; an edit starts the next version.
        Final = "final",
        /// Sealed: in effect, its text never changes again.
        InForce = "in_force",
    }
);

text_enum!(
    /// What became of a frozen version.
    VersionStatus {
        /// The current frozen text, open for signing.
        Final = "final",
        /// An edit after freezing started a newer version; signatures on this one are void.
        Superseded = "superseded",
        /// Sealed: this is the text in effect.
        InForce = "in_force",
    }
);

/// A case's agreement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Agreement {
    /// `AG_…`.
    pub id: AgreementId,
    /// Its case (one agreement per case).
    pub case_id: CaseId,
    /// `zh-CN` or `en`.
    pub locale: String,
    /// The template it was started from.
    pub template_id: Option<String>,
    /// Where it stands.
    pub status: AgreementStatus,
    /// The version being drafted, or the frozen one while `final` / `in_force`. Starts at 1.
    pub version: i64,
    /// Who started it (a staff id).
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last stored edit or state change.
    pub updated_at: i64,
}

/// A frozen version: the canonical text that is signed, and its hash.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgreementVersion {
    /// Its agreement.
    pub agreement_id: AgreementId,
    /// 1, 2, …
    pub version: i64,
    /// The canonical text (`document::canonical_text`).
    pub text: String,
    /// SHA-256 of the text's UTF-8 bytes, lowercase hex.
    pub text_sha256: String,
    /// Unix milliseconds.
    pub finalised_at: i64,
    /// Who froze it (a staff id).
    pub finalised_by: String,
    /// Their name then.
    pub finalised_by_name: String,
    /// Current, superseded or in force.
    pub status: VersionStatus,
}

/// A version as the history lists it, without its text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionSummary {
    /// 1, 2, …
    pub version: i64,
    /// SHA-256 of its text.
    pub text_sha256: String,
    /// Unix milliseconds.
    pub finalised_at: i64,
    /// Current, superseded or in force.
    pub status: VersionStatus,
}

/// One document of an agreement: the shared draft or a private one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DraftDoc {
    /// [`MAIN_DOC`] or `PD_…`.
    pub doc: String,
    /// For a private draft: the side it is shown to, besides the mediators; `None` shows it
    /// to nobody else. Always `None` for `main`, which everyone in the session sees.
    pub shown_to: Option<Side>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Who made it (a staff id).
    pub created_by: String,
}

impl DraftDoc {
    /// Whether this is the shared draft.
    pub fn is_main(&self) -> bool {
        self.doc == MAIN_DOC
    }
}

/// A stored Yjs update of one document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredUpdate {
    /// 1, 2, … per document, without gaps; 1 is the document's creation.
    pub seq: i64,
    /// The Yjs v1 update, as received.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Who sent it (a staff id).
    pub by_identity: String,
    /// Their name then.
    pub by_name: String,
    /// Unix milliseconds.
    pub at: i64,
    /// The session it was made in; `None` when drafted between sessions.
    pub session_id: Option<SessionId>,
    /// The clauses it changed, added or removed.
    pub clauses: Vec<String>,
}

/// What [`crate::store::Store::append_update`] stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Appended {
    /// The update's sequence number in its document.
    pub seq: i64,
    /// When the update reopened a final agreement: the new version being drafted. Signatures
    /// on the version before it no longer count.
    pub reopened: Option<i64>,
}

/// A comment on a clause.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comment {
    /// `CM_…`.
    pub id: CommentId,
    /// Its agreement.
    pub agreement_id: AgreementId,
    /// The clause commented on.
    pub clause_id: String,
    /// Who wrote it (a party or staff id).
    pub author_identity: String,
    /// Their name then.
    pub author_name: String,
    /// Their role then (`mediator`, `party`, …).
    pub author_role: String,
    /// What they said.
    pub text: String,
    /// Unix milliseconds.
    pub at: i64,
    /// When a mediator marked it dealt with.
    pub resolved_at: Option<i64>,
}

/// When a clause of the shared draft was last edited, on the session clock, so a reviewer of
/// the recording can jump to the moment it was written.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClauseMoment {
    /// The clause.
    pub clause_id: String,
    /// Unix milliseconds of its last edit.
    pub last_edit_at: i64,
    /// The session it was made in; `None` between sessions.
    pub session_id: Option<SessionId>,
    /// Who made it.
    pub by_name: String,
}

/// One edit of the history: consecutive updates of the shared draft by one editor, each
/// less than [`EDIT_GAP_MS`] after the one before.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEdit {
    /// Its first update.
    pub from_seq: i64,
    /// Its last update.
    pub to_seq: i64,
    /// The editor's name.
    pub by_name: String,
    /// Unix milliseconds of its first update.
    pub first_at: i64,
    /// Unix milliseconds of its last update.
    pub last_at: i64,
    /// The clauses it touched, in the order first touched.
    pub clauses: Vec<String>,
}

/// Updates further apart than this are separate edits in the history.
pub const EDIT_GAP_MS: i64 = 60_000;

/// Who changed what, and the frozen versions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct History {
    /// Oldest first.
    pub edits: Vec<HistoryEdit>,
    /// Oldest first.
    pub versions: Vec<VersionSummary>,
}

/// Who makes a change: their identity (`ST_…`, `PT_…`), name and role as the session knows
/// them, and who the audit trail names.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Editor {
    /// A staff or party id.
    pub identity: String,
    /// Their display name.
    pub name: String,
    /// `mediator`, `party`, …
    pub role: String,
    /// As the audit trail names them.
    #[serde(skip)]
    pub actor: Actor,
}

/// An agreement to start.
#[derive(Clone, Debug)]
pub struct NewAgreement {
    /// The case.
    pub case_id: CaseId,
    /// `zh-CN` or `en`.
    pub locale: String,
    /// The template it is drafted from.
    pub template_id: Option<String>,
    /// Whether the case concerns marriage, adoption or inheritance status; required for
    /// family cases, which may or may not.
    pub personal_status: Option<bool>,
    /// The Yjs update that creates the first draft (`Draft::new_from`).
    pub initial_update: Vec<u8>,
}
