//! A case's agreement in the store: started from a template, frozen into versions, reopened by
//! an edit after freezing. Its documents and their updates are in `agreement_drafts.rs`,
//! comments in `agreement_comments.rs`, the history and clause moments in
//! `agreement_history.rs`, templates in `agreement_templates.rs`.
//!
//! Every state change and its audit entry are one transaction on the case's trail. The
//! agreement's row is locked first in each, so on PostgreSQL a finalise and an edit of the
//! same agreement never interleave (SQLite's single connection already serialises them).

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::cases::subject;
use super::model::Category;
use super::vocabulary::AuditAction;
use super::{Store, Tx, new_id, now_ms};
use crate::agreements::Rule;
use crate::agreements::document::text_sha256;
use crate::agreements::model::{
    Agreement, AgreementStatus, AgreementVersion, Editor, MAIN_DOC, NewAgreement, VersionStatus,
    is_locale,
};
use crate::error::{Error, Result};
use crate::ids::{AgreementId, CaseId};

pub(super) const AGREEMENT_COLUMNS: &str =
    "id, case_id, locale, template_id, status, version, created_by, created_at, updated_at";

const VERSION_COLUMNS: &str = "agreement_id, version, text, text_sha256, finalised_at, \
     finalised_by, finalised_by_name, status";

impl Store {
    /// Starts the case's agreement from `new.initial_update` (the first draft, made from a
    /// template), as `drafting` version 1. A case has one agreement: a second is refused with
    /// [`Rule::AgreementExists`]. A family case must say whether it concerns personal status
    /// (marriage, adoption, inheritance), which decides whether it may be signed electronically.
    pub async fn create_agreement(&self, new: NewAgreement, by: &Editor) -> Result<Agreement> {
        if !is_locale(&new.locale) {
            return Err(Error::field("locale", "the locale must be zh-CN or en"));
        }
        if new.initial_update.is_empty() {
            return Err(Error::BadRequest("the first draft is empty".into()));
        }
        let case = self.case(&new.case_id).await?;
        if case.category == Category::Family && new.personal_status.is_none() {
            return Err(Error::field(
                "personal_status",
                "say whether this family case concerns marriage, adoption or inheritance status: \
                 such agreements cannot be signed electronically",
            ));
        }
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM agreements WHERE case_id = $1")
            .bind(&new.case_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(Error::Rule(Rule::AgreementExists));
        }
        let id: AgreementId = new_id("AG");
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO agreements (id, case_id, locale, template_id, status, version, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)",
        )
        .bind(&id)
        .bind(&new.case_id)
        .bind(&new.locale)
        .bind(&new.template_id)
        .bind(AgreementStatus::Drafting.as_str())
        .bind(&by.identity)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            // Two starts at once: the case's unique agreement row decides which one won.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(Error::Rule(Rule::AgreementExists));
            }
            other => other?,
        };
        insert_doc(&mut tx, &id, MAIN_DOC, &by.identity, now).await?;
        insert_update(
            &mut tx,
            &id,
            MAIN_DOC,
            1,
            &new.initial_update,
            by,
            None,
            &[],
            now,
        )
        .await?;
        if let Some(personal_status) = new.personal_status {
            sqlx::query("UPDATE cases SET personal_status = $1, updated_at = $2 WHERE id = $3")
                .bind(personal_status)
                .bind(now)
                .bind(&new.case_id)
                .execute(&mut *tx)
                .await?;
        }
        self.audit(
            &mut tx,
            &by.actor,
            AuditAction::AgreementCreated,
            &subject(&new.case_id),
            json!({"agreement": id, "template": new.template_id, "locale": new.locale,
                   "personal_status": new.personal_status}),
        )
        .await?;
        tx.commit().await?;
        self.agreement(&id).await
    }

    /// One agreement.
    pub async fn agreement(&self, id: &AgreementId) -> Result<Agreement> {
        let row = self
            .one(
                &format!("SELECT {AGREEMENT_COLUMNS} FROM agreements WHERE id = $1"),
                id.as_str(),
                "no such agreement",
            )
            .await?;
        agreement_from_row(&row)
    }

    /// The case's agreement, if it has one.
    pub async fn agreement_of_case(&self, case_id: &CaseId) -> Result<Option<Agreement>> {
        let row = sqlx::query(&format!(
            "SELECT {AGREEMENT_COLUMNS} FROM agreements WHERE case_id = $1"
        ))
        .bind(case_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(agreement_from_row).transpose()
    }

    /// Whether the case concerns marriage, adoption or inheritance status (电子签名法 第三条):
    /// its agreement is not offered e-signing or judicial confirmation.
    pub async fn personal_status(&self, case_id: &CaseId) -> Result<bool> {
        let row = self
            .one(
                "SELECT CAST(CASE WHEN personal_status THEN 1 ELSE 0 END AS BIGINT) \
                 FROM cases WHERE id = $1",
                case_id.as_str(),
                "no such case",
            )
            .await?;
        Ok(row.try_get::<i64, _>(0)? != 0)
    }

    /// Records whether the case concerns marriage, adoption or inheritance status, which
    /// decides whether its agreement may be e-signed. Setting the value it has changes nothing
    /// and is not audited.
    pub async fn set_personal_status(
        &self,
        case_id: &CaseId,
        value: bool,
        by: &Editor,
    ) -> Result<()> {
        if self.personal_status(case_id).await? == value {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE cases SET personal_status = $1, updated_at = $2 WHERE id = $3")
            .bind(value)
            .bind(now_ms())
            .bind(case_id)
            .execute(&mut *tx)
            .await?;
        self.audit(
            &mut tx,
            &by.actor,
            AuditAction::AgreementPersonalStatusSet,
            &subject(case_id),
            json!({"personal_status": value}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Freezes the shared draft's current text as the agreement's version: `text` is the
    /// canonical text (`document::canonical_text`), hashed here. Finalising again while
    /// final with the same text returns that version; a different text (a party's name was
    /// corrected since) supersedes it with the next version, as an edit would. Refused in force.
    pub async fn finalise(
        &self,
        agreement_id: &AgreementId,
        text: &str,
        by: &Editor,
    ) -> Result<AgreementVersion> {
        if text.trim().is_empty() {
            return Err(Error::BadRequest("the agreement's text is empty".into()));
        }
        let sha256 = text_sha256(text);
        let mut tx = self.begin().await?;
        let agreement = self.locked_agreement(&mut tx, agreement_id).await?;
        let now = now_ms();
        let version = match agreement.status {
            AgreementStatus::InForce => return Err(Error::Rule(Rule::InForce)),
            AgreementStatus::Drafting => agreement.version,
            AgreementStatus::Final => {
                let current = version_in(&mut tx, agreement_id, agreement.version).await?;
                if current.text_sha256 == sha256 {
                    return Ok(current);
                }
                self.reopen(&mut tx, &agreement, by, now).await?
            }
        };
        sqlx::query(&format!(
            "INSERT INTO agreement_versions ({VERSION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(agreement_id)
        .bind(version)
        .bind(text)
        .bind(&sha256)
        .bind(now)
        .bind(&by.identity)
        .bind(&by.name)
        .bind(VersionStatus::Final.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE agreements SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(AgreementStatus::Final.as_str())
            .bind(now)
            .bind(agreement_id)
            .execute(&mut *tx)
            .await?;
        self.audit(
            &mut tx,
            &by.actor,
            AuditAction::AgreementFinalised,
            &subject(&agreement.case_id),
            json!({"agreement": agreement_id, "version": version, "text_sha256": sha256}),
        )
        .await?;
        tx.commit().await?;
        self.version(agreement_id, version).await
    }

    /// Moves a final agreement back to drafting as its next version, inside `tx`: the frozen
    /// version becomes `superseded`, so signatures on it no longer count. Returns the new
    /// version.
    pub(super) async fn reopen(
        &self,
        tx: &mut Tx,
        agreement: &Agreement,
        by: &Editor,
        at: i64,
    ) -> Result<i64> {
        let next = agreement.version + 1;
        sqlx::query(
            "UPDATE agreement_versions SET status = $1 WHERE agreement_id = $2 AND version = $3",
        )
        .bind(VersionStatus::Superseded.as_str())
        .bind(&agreement.id)
        .bind(agreement.version)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE agreements SET status = $1, version = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(AgreementStatus::Drafting.as_str())
        .bind(next)
        .bind(at)
        .bind(&agreement.id)
        .execute(&mut **tx)
        .await?;
        self.audit(
            tx,
            &by.actor,
            AuditAction::AgreementReopened,
            &subject(&agreement.case_id),
            json!({"agreement": agreement.id, "version": next,
                   "superseded": agreement.version}),
        )
        .await?;
        Ok(next)
    }

    /// Every frozen version, oldest first.
    pub async fn versions(&self, agreement_id: &AgreementId) -> Result<Vec<AgreementVersion>> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM agreement_versions WHERE agreement_id = $1 \
             ORDER BY version"
        ))
        .bind(agreement_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Frozen version `n`.
    pub async fn version(&self, agreement_id: &AgreementId, n: i64) -> Result<AgreementVersion> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM agreement_versions \
             WHERE agreement_id = $1 AND version = $2"
        ))
        .bind(agreement_id)
        .bind(n)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("no such version"))?;
        version_from_row(&row)
    }

    /// The version that is signed now: the frozen current one while `final` or `in_force`,
    /// none while drafting.
    pub async fn current_final(
        &self,
        agreement_id: &AgreementId,
    ) -> Result<Option<AgreementVersion>> {
        let agreement = self.agreement(agreement_id).await?;
        if agreement.status == AgreementStatus::Drafting {
            return Ok(None);
        }
        self.version(agreement_id, agreement.version)
            .await
            .map(Some)
    }

    /// The agreement, read and locked inside `tx` for a change that depends on its state.
    pub(super) async fn locked_agreement(
        &self,
        tx: &mut Tx,
        id: &AgreementId,
    ) -> Result<Agreement> {
        let row = sqlx::query(&format!(
            "SELECT {AGREEMENT_COLUMNS} FROM agreements WHERE id = $1{}",
            self.backend.lock_row()
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::NotFound("no such agreement"))?;
        agreement_from_row(&row)
    }
}

async fn version_in(tx: &mut Tx, agreement_id: &AgreementId, n: i64) -> Result<AgreementVersion> {
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM agreement_versions WHERE agreement_id = $1 AND version = $2"
    ))
    .bind(agreement_id)
    .bind(n)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| Error::Internal(format!("agreement {agreement_id} lacks its version {n}")))?;
    version_from_row(&row)
}

/// Adds a document to an agreement inside `tx`.
pub(super) async fn insert_doc(
    tx: &mut Tx,
    agreement_id: &AgreementId,
    doc: &str,
    by: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO agreement_docs (agreement_id, doc, shown_to, created_at, created_by) \
         VALUES ($1, $2, NULL, $3, $4)",
    )
    .bind(agreement_id)
    .bind(doc)
    .bind(at)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores one update of a document inside `tx`. A duplicate `seq` fails as a unique
/// violation, which the caller retries with the next number.
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_update(
    tx: &mut Tx,
    agreement_id: &AgreementId,
    doc: &str,
    seq: i64,
    data: &[u8],
    by: &Editor,
    session: Option<&crate::ids::SessionId>,
    clauses: &[String],
    at: i64,
) -> Result<(), sqlx::Error> {
    let clauses = serde_json::to_string(clauses).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO agreement_updates (agreement_id, doc, seq, data, by_identity, by_name, at, \
         session_id, clauses) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(agreement_id)
    .bind(doc)
    .bind(seq)
    .bind(data)
    .bind(&by.identity)
    .bind(&by.name)
    .bind(at)
    .bind(session)
    .bind(clauses)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) fn agreement_from_row(row: &AnyRow) -> Result<Agreement> {
    Ok(Agreement {
        id: row.try_get(0)?,
        case_id: row.try_get(1)?,
        locale: row.try_get(2)?,
        template_id: row.try_get(3)?,
        status: AgreementStatus::parse(&row.try_get::<String, _>(4)?)?,
        version: row.try_get(5)?,
        created_by: row.try_get(6)?,
        created_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
    })
}

fn version_from_row(row: &AnyRow) -> Result<AgreementVersion> {
    Ok(AgreementVersion {
        agreement_id: row.try_get(0)?,
        version: row.try_get(1)?,
        text: row.try_get(2)?,
        text_sha256: row.try_get(3)?,
        finalised_at: row.try_get(4)?,
        finalised_by: row.try_get(5)?,
        finalised_by_name: row.try_get(6)?,
        status: VersionStatus::parse(&row.try_get::<String, _>(7)?)?,
    })
}
