//! Evidence records of a case; the files themselves are in the blob store.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::cases::subject;
use super::model::{Actor, Evidence};
use super::vocabulary::AuditAction;
use super::{Store, Tx};
use crate::error::Result;
use crate::ids::CaseId;

const EVIDENCE_COLUMNS: &str =
    "id, case_id, party_id, sha256, media_type, size, file_name, uploaded_by, created_at";

impl Store {
    /// Records an evidence file whose bytes are already in the blob store.
    pub async fn add_evidence(&self, actor: &Actor, evidence: Evidence) -> Result<Evidence> {
        let mut tx = self.begin().await?;
        self.locked_status(&mut tx, &evidence.case_id).await?;
        self.insert_evidence_in(&mut tx, actor, &evidence).await?;
        tx.commit().await?;
        Ok(evidence)
    }

    /// Inserts an evidence record inside `tx`, with its audit entry.
    pub(super) async fn insert_evidence_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        evidence: &Evidence,
    ) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO evidence ({EVIDENCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&evidence.id)
        .bind(&evidence.case_id)
        .bind(&evidence.party_id)
        .bind(&evidence.sha256)
        .bind(&evidence.media_type)
        .bind(evidence.size)
        .bind(&evidence.file_name)
        .bind(&evidence.uploaded_by)
        .bind(evidence.created_at)
        .execute(&mut **tx)
        .await?;
        self.audit(
            tx,
            actor,
            AuditAction::EvidenceAdded,
            &subject(&evidence.case_id),
            json!({"evidence": evidence.id, "sha256": evidence.sha256, "size": evidence.size, "media_type": evidence.media_type}),
        )
        .await?;
        Ok(())
    }

    /// A case's evidence, oldest first.
    pub async fn evidence(&self, case_id: &CaseId) -> Result<Vec<Evidence>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE case_id = $1 ORDER BY created_at, id"
        ))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(evidence_from_row).collect()
    }
}

fn evidence_from_row(row: &AnyRow) -> Result<Evidence> {
    Ok(Evidence {
        id: row.try_get(0)?,
        case_id: row.try_get(1)?,
        party_id: row.try_get(2)?,
        sha256: row.try_get(3)?,
        media_type: row.try_get(4)?,
        size: row.try_get(5)?,
        file_name: row.try_get(6)?,
        uploaded_by: row.try_get(7)?,
        created_at: row.try_get(8)?,
    })
}
