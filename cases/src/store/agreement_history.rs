//! Who changed what in the shared draft, and when each clause was last edited. Both come from
//! what `append_update` stores with each update (editor, time, session, touched clauses), so
//! the history needs no second record that could disagree with the document.

use sqlx::Row;

use super::Store;
use super::agreement_drafts::clauses_from_text;
use crate::agreements::model::{
    ClauseMoment, EDIT_GAP_MS, History, HistoryEdit, MAIN_DOC, VersionSummary,
};
use crate::error::Result;
use crate::ids::AgreementId;

impl Store {
    /// The shared draft's edits (consecutive updates by one editor, each less than
    /// [`EDIT_GAP_MS`] after the one before, form one edit) and the frozen versions.
    pub async fn history(&self, agreement_id: &AgreementId) -> Result<History> {
        // Make sure the agreement exists, so an unknown one is not found rather than empty.
        self.agreement(agreement_id).await?;
        let rows = sqlx::query(
            "SELECT seq, by_identity, by_name, at, clauses FROM agreement_updates \
             WHERE agreement_id = $1 AND doc = $2 ORDER BY seq",
        )
        .bind(agreement_id)
        .bind(MAIN_DOC)
        .fetch_all(&self.pool)
        .await?;
        let mut edits: Vec<HistoryEdit> = Vec::new();
        let mut last_identity = String::new();
        for row in &rows {
            let seq: i64 = row.try_get(0)?;
            let identity: String = row.try_get(1)?;
            let name: String = row.try_get(2)?;
            let at: i64 = row.try_get(3)?;
            let clauses = clauses_from_text(&row.try_get::<String, _>(4)?)?;
            match edits.last_mut() {
                Some(edit) if identity == last_identity && at - edit.last_at < EDIT_GAP_MS => {
                    edit.to_seq = seq;
                    edit.last_at = at;
                    for clause in clauses {
                        if !edit.clauses.contains(&clause) {
                            edit.clauses.push(clause);
                        }
                    }
                }
                _ => {
                    let mut unique = Vec::with_capacity(clauses.len());
                    for clause in clauses {
                        if !unique.contains(&clause) {
                            unique.push(clause);
                        }
                    }
                    edits.push(HistoryEdit {
                        from_seq: seq,
                        to_seq: seq,
                        by_name: name,
                        first_at: at,
                        last_at: at,
                        clauses: unique,
                    });
                    last_identity = identity;
                }
            }
        }
        let versions = self
            .versions(agreement_id)
            .await?
            .into_iter()
            .map(|v| VersionSummary {
                version: v.version,
                text_sha256: v.text_sha256,
                finalised_at: v.finalised_at,
                status: v.status,
            })
            .collect();
        Ok(History { edits, versions })
    }

    /// Each clause's last edit in the shared draft, earliest first. A clause removed since
    /// keeps its moment: the reviewer may want to see when it was last written.
    pub async fn clause_moments(&self, agreement_id: &AgreementId) -> Result<Vec<ClauseMoment>> {
        let rows = sqlx::query(
            "SELECT clause_id, last_edit_at, session_id, by_name FROM agreement_clause_moments \
             WHERE agreement_id = $1 ORDER BY last_edit_at, clause_id",
        )
        .bind(agreement_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ClauseMoment {
                    clause_id: row.try_get(0)?,
                    last_edit_at: row.try_get(1)?,
                    session_id: row.try_get(2)?,
                    by_name: row.try_get(3)?,
                })
            })
            .collect()
    }
}
