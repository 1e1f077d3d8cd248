//! An agreement's documents and their updates: the shared draft (`main`) everyone in the
//! session follows, and private drafts a mediator writes in a caucus and may show to one side.
//! A document is the list of its Yjs updates in order; the edge replays them into a `Draft`.
//!
//! An update is stored before it is acknowledged, so what a client was told is stored survives
//! a crash. Keystroke updates are not audited one by one: their rows (who, when, which
//! session, which clauses) are their record, and the history is read from them. What changes
//! the agreement's state (a reopened version, a draft shown to a side) is audited.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::agreements::{insert_doc, insert_update};
use super::cases::subject;
use super::model::Side;
use super::vocabulary::AuditAction;
use super::{Store, Tx, new_id, now_ms};
use crate::agreements::Rule;
use crate::agreements::model::{
    AgreementStatus, Appended, DraftDoc, Editor, MAIN_DOC, StoredUpdate,
};
use crate::error::{Error, Result};
use crate::ids::{AgreementId, DraftId, SessionId};

/// The most clauses one update may name as touched: a document holds at most 200.
const MAX_TOUCHED: usize = 200;

/// The most private drafts an agreement keeps, so a mediator's clicks cannot grow it without
/// bound.
const MAX_PRIVATE_DRAFTS: i64 = 20;

const DOC_COLUMNS: &str = "doc, shown_to, created_at, created_by";

impl Store {
    /// The agreement's documents: `main` first, then the private drafts oldest first.
    pub async fn draft_docs(&self, agreement_id: &AgreementId) -> Result<Vec<DraftDoc>> {
        let rows = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS} FROM agreement_docs WHERE agreement_id = $1 \
             ORDER BY CASE WHEN doc = $2 THEN 0 ELSE 1 END, created_at, doc"
        ))
        .bind(agreement_id)
        .bind(MAIN_DOC)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(doc_from_row).collect()
    }

    /// One document of the agreement.
    pub async fn draft_doc(&self, agreement_id: &AgreementId, doc: &str) -> Result<DraftDoc> {
        let row = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS} FROM agreement_docs WHERE agreement_id = $1 AND doc = $2"
        ))
        .bind(agreement_id)
        .bind(doc)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("no such draft"))?;
        doc_from_row(&row)
    }

    /// Starts a private draft holding `initial_update` (the shared draft's full state, so
    /// the mediator starts from what everyone sees), shown to nobody yet. Not audited: it is
    /// a mediator's scratch copy until shown, and showing it is.
    pub async fn create_private_draft(
        &self,
        agreement_id: &AgreementId,
        initial_update: Vec<u8>,
        by: &Editor,
    ) -> Result<DraftDoc> {
        if initial_update.is_empty() {
            return Err(Error::BadRequest("the draft to copy is empty".into()));
        }
        let mut tx = self.begin().await?;
        let agreement = self.locked_agreement(&mut tx, agreement_id).await?;
        if agreement.status == AgreementStatus::InForce {
            return Err(Error::Rule(Rule::InForce));
        }
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) FROM agreement_docs WHERE agreement_id = $1 AND doc <> $2",
        )
        .bind(agreement_id)
        .bind(MAIN_DOC)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if count >= MAX_PRIVATE_DRAFTS {
            return Err(Error::Conflict(format!(
                "an agreement keeps at most {MAX_PRIVATE_DRAFTS} private drafts"
            )));
        }
        let doc: DraftId = new_id("PD");
        let now = now_ms();
        insert_doc(&mut tx, agreement_id, &doc, &by.identity, now).await?;
        insert_update(
            &mut tx,
            agreement_id,
            &doc,
            1,
            &initial_update,
            by,
            None,
            &[],
            now,
        )
        .await?;
        tx.commit().await?;
        self.draft_doc(agreement_id, &doc).await
    }

    /// Shows a private draft to one side (besides the mediators), or to nobody with `None`.
    pub async fn show_private_draft(
        &self,
        agreement_id: &AgreementId,
        doc: &DraftId,
        shown_to: Option<Side>,
        by: &Editor,
    ) -> Result<DraftDoc> {
        let mut tx = self.begin().await?;
        let agreement = self.locked_agreement(&mut tx, agreement_id).await?;
        let changed = sqlx::query(
            "UPDATE agreement_docs SET shown_to = $1 WHERE agreement_id = $2 AND doc = $3 \
             AND doc <> $4",
        )
        .bind(shown_to.map(Side::as_str))
        .bind(agreement_id)
        .bind(doc)
        .bind(MAIN_DOC)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(Error::NotFound("no such draft"));
        }
        self.audit(
            &mut tx,
            &by.actor,
            AuditAction::AgreementPrivateDraftShown,
            &subject(&agreement.case_id),
            json!({"agreement": agreement_id, "draft": doc,
                   "shown_to": shown_to.map(Side::as_str)}),
        )
        .await?;
        tx.commit().await?;
        self.draft_doc(agreement_id, doc).await
    }

    /// A document's updates in order, to rebuild it.
    pub async fn draft_updates(
        &self,
        agreement_id: &AgreementId,
        doc: &str,
    ) -> Result<Vec<StoredUpdate>> {
        let rows = sqlx::query(
            "SELECT seq, data, by_identity, by_name, at, session_id, clauses \
             FROM agreement_updates WHERE agreement_id = $1 AND doc = $2 ORDER BY seq",
        )
        .bind(agreement_id)
        .bind(doc)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(update_from_row).collect()
    }

    /// A document's updates numbered after `after`, in order: what a copy of the document
    /// built up to `after` is missing (another node stored them).
    pub async fn draft_updates_after(
        &self,
        agreement_id: &AgreementId,
        doc: &str,
        after: i64,
    ) -> Result<Vec<StoredUpdate>> {
        let rows = sqlx::query(
            "SELECT seq, data, by_identity, by_name, at, session_id, clauses \
             FROM agreement_updates WHERE agreement_id = $1 AND doc = $2 AND seq > $3 \
             ORDER BY seq",
        )
        .bind(agreement_id)
        .bind(doc)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(update_from_row).collect()
    }

    /// The newest update's number in a document; 0 when it has none.
    pub async fn last_seq(&self, agreement_id: &AgreementId, doc: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM agreement_updates \
             WHERE agreement_id = $1 AND doc = $2",
        )
        .bind(agreement_id)
        .bind(doc)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Stores an update of `doc` that the edge has validated against the document, made by
    /// `editor` at `at` (in `session`, if in one), touching the clauses `touched`. Refused
    /// with [`Rule::InForce`] once the agreement is in force. An update of the shared draft
    /// while `final` reopens it (see [`AgreementStatus::Final`]): the returned
    /// [`Appended::reopened`] names the new version. Updates of the shared draft keep each
    /// touched clause's moment.
    #[allow(clippy::too_many_arguments)]
    pub async fn append_update(
        &self,
        agreement_id: &AgreementId,
        doc: &str,
        data: &[u8],
        editor: &Editor,
        session: Option<&SessionId>,
        touched: &[String],
        at: i64,
    ) -> Result<Appended> {
        if data.is_empty() {
            return Err(Error::BadRequest("the update is empty".into()));
        }
        if touched.len() > MAX_TOUCHED {
            return Err(Error::BadRequest(format!(
                "an update touches at most {MAX_TOUCHED} clauses"
            )));
        }
        // The sequence number is MAX + 1 inside the transaction; should two appends still
        // pick the same one (the agreement's row lock makes that rare), the primary key
        // refuses the second, which tries once more with the next number.
        match self
            .try_append(agreement_id, doc, data, editor, session, touched, at)
            .await
        {
            Err(Retry) => self
                .try_append(agreement_id, doc, data, editor, session, touched, at)
                .await
                .map_err(Attempt::into_error),
            other => other.map_err(Attempt::into_error),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_append(
        &self,
        agreement_id: &AgreementId,
        doc: &str,
        data: &[u8],
        editor: &Editor,
        session: Option<&SessionId>,
        touched: &[String],
        at: i64,
    ) -> Result<Appended, Attempt> {
        let mut tx = self.begin().await?;
        let agreement = self.locked_agreement(&mut tx, agreement_id).await?;
        if agreement.status == AgreementStatus::InForce {
            return Err(Error::Rule(Rule::InForce).into());
        }
        let known =
            sqlx::query("SELECT 1 FROM agreement_docs WHERE agreement_id = $1 AND doc = $2")
                .bind(agreement_id)
                .bind(doc)
                .fetch_optional(&mut *tx)
                .await?;
        if known.is_none() {
            return Err(Error::NotFound("no such draft").into());
        }
        let seq = next_seq(&mut tx, agreement_id, doc).await?;
        match insert_update(
            &mut tx,
            agreement_id,
            doc,
            seq,
            data,
            editor,
            session,
            touched,
            at,
        )
        .await
        {
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Err(Retry),
            other => other.map_err(Error::from)?,
        }
        let is_main = doc == MAIN_DOC;
        let reopened = if is_main && agreement.status == AgreementStatus::Final {
            Some(self.reopen(&mut tx, &agreement, editor, at).await?)
        } else {
            sqlx::query("UPDATE agreements SET updated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(agreement_id)
                .execute(&mut *tx)
                .await?;
            None
        };
        if is_main {
            for clause in touched {
                upsert_moment(&mut tx, agreement_id, clause, at, session, &editor.name).await?;
            }
        }
        tx.commit().await?;
        Ok(Appended { seq, reopened })
    }
}

/// Why an append attempt failed: a sequence number taken meanwhile (try again), or an error.
enum Attempt {
    Retry,
    Failed(Error),
}
use Attempt::Retry;

impl Attempt {
    fn into_error(self) -> Error {
        match self {
            Retry => {
                Error::Conflict("the draft changed under this update twice; send it again".into())
            }
            Attempt::Failed(error) => error,
        }
    }
}

impl From<Error> for Attempt {
    fn from(error: Error) -> Self {
        Attempt::Failed(error)
    }
}

impl From<sqlx::Error> for Attempt {
    fn from(error: sqlx::Error) -> Self {
        Attempt::Failed(error.into())
    }
}

async fn next_seq(tx: &mut Tx, agreement_id: &AgreementId, doc: &str) -> Result<i64> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM agreement_updates \
         WHERE agreement_id = $1 AND doc = $2",
    )
    .bind(agreement_id)
    .bind(doc)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get::<i64, _>(0)? + 1)
}

async fn upsert_moment(
    tx: &mut Tx,
    agreement_id: &AgreementId,
    clause_id: &str,
    at: i64,
    session: Option<&SessionId>,
    by_name: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO agreement_clause_moments (agreement_id, clause_id, last_edit_at, \
         session_id, by_name) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (agreement_id, clause_id) DO UPDATE SET \
         last_edit_at = excluded.last_edit_at, session_id = excluded.session_id, \
         by_name = excluded.by_name",
    )
    .bind(agreement_id)
    .bind(clause_id)
    .bind(at)
    .bind(session)
    .bind(by_name)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn doc_from_row(row: &AnyRow) -> Result<DraftDoc> {
    Ok(DraftDoc {
        doc: row.try_get(0)?,
        shown_to: row
            .try_get::<Option<String>, _>(1)?
            .map(|side| Side::parse(&side))
            .transpose()?,
        created_at: row.try_get(2)?,
        created_by: row.try_get(3)?,
    })
}

fn update_from_row(row: &AnyRow) -> Result<StoredUpdate> {
    Ok(StoredUpdate {
        seq: row.try_get(0)?,
        data: row.try_get(1)?,
        by_identity: row.try_get(2)?,
        by_name: row.try_get(3)?,
        at: row.try_get(4)?,
        session_id: row.try_get(5)?,
        clauses: clauses_from_text(&row.try_get::<String, _>(6)?)?,
    })
}

/// The touched clauses stored with an update (a JSON array of ids).
pub(super) fn clauses_from_text(text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text)
        .map_err(|e| Error::Internal(format!("an update's clause list does not parse: {e}")))
}
