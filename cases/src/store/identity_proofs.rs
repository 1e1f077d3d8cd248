//! Parties' proofs of identity (身份证明) for the confirmation package: the records of files
//! the edge has already sealed and written to the blob store. A proof changes only while the
//! parties still hold the request: once it is submitted, the package the court received is
//! what counts, so adding and removing are refused until the court rejects it.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::cases::subject;
use super::model::{
    Actor, MAX_IDENTITY_PROOFS, NewPartyIdentityProof, PartyIdentityProof, PartyIdentityProofKind,
};
use super::vocabulary::AuditAction;
use super::{Store, StoreKeys, Tx, new_id, now_ms};
use crate::agreements::Rule;
use crate::confirmation::model::RequestStatus;
use crate::error::{Error, Result};
use crate::ids::{CaseId, IdentityProofId};

const COLUMNS: &str =
    "id, case_id, party_id, kind, media_type, size, sha256, sealed_blob, uploaded_by, created_at";

impl Store {
    /// The keys that seal personal data: the edge seals a proof's bytes with them before
    /// they reach the blob store, and opens them for the people who may see them.
    pub fn keys(&self) -> &StoreKeys {
        &self.keys
    }

    /// Records a proof of identity whose sealed blob is stored. Refused when the party is not
    /// of the case, already has [`MAX_IDENTITY_PROOFS`] ([`Rule::TooManyIdentityProofs`]), or
    /// the case's request went to the court ([`Rule::RequestSubmitted`]). Audited
    /// `party.identity_proof_added` with the clear file's hash.
    pub async fn add_identity_proof(
        &self,
        actor: &Actor,
        new: NewPartyIdentityProof,
    ) -> Result<PartyIdentityProof> {
        let mut tx = self.begin().await?;
        self.locked_status(&mut tx, &new.case_id).await?;
        let party = sqlx::query("SELECT 1 FROM parties WHERE id = $1 AND case_id = $2")
            .bind(&new.party_id)
            .bind(&new.case_id)
            .fetch_optional(&mut *tx)
            .await?;
        if party.is_none() {
            return Err(Error::NotFound("no such party in this case"));
        }
        refuse_once_submitted(&mut tx, &new.case_id).await?;
        let held: i64 = sqlx::query(
            "SELECT COUNT(*) FROM identity_proofs WHERE case_id = $1 AND party_id = $2",
        )
        .bind(&new.case_id)
        .bind(&new.party_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if usize::try_from(held).unwrap_or(usize::MAX) >= MAX_IDENTITY_PROOFS {
            return Err(Error::Rule(Rule::TooManyIdentityProofs));
        }
        let proof = PartyIdentityProof {
            id: new_id("IP"),
            case_id: new.case_id,
            party_id: new.party_id,
            kind: new.kind,
            media_type: new.media_type,
            size: new.size,
            sha256: new.sha256,
            sealed_blob: new.sealed_blob,
            uploaded_by: actor.label(),
            created_at: now_ms(),
        };
        sqlx::query(&format!(
            "INSERT INTO identity_proofs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&proof.id)
        .bind(&proof.case_id)
        .bind(&proof.party_id)
        .bind(proof.kind.as_str())
        .bind(&proof.media_type)
        .bind(proof.size)
        .bind(&proof.sha256)
        .bind(&proof.sealed_blob)
        .bind(&proof.uploaded_by)
        .bind(proof.created_at)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::PartyIdentityProofAdded,
            &subject(&proof.case_id),
            json!({
                "party": proof.party_id,
                "proof": proof.id,
                "kind": proof.kind.as_str(),
                "sha256": proof.sha256,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(proof)
    }

    /// A case's proofs of identity, oldest first.
    pub async fn identity_proofs(&self, case_id: &CaseId) -> Result<Vec<PartyIdentityProof>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM identity_proofs WHERE case_id = $1 ORDER BY created_at, id"
        ))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(proof_from_row).collect()
    }

    /// One proof of identity.
    pub async fn identity_proof(&self, id: &IdentityProofId) -> Result<PartyIdentityProof> {
        let row = self
            .one(
                &format!("SELECT {COLUMNS} FROM identity_proofs WHERE id = $1"),
                id.as_str(),
                "no such identity proof",
            )
            .await?;
        proof_from_row(&row)
    }

    /// Removes a proof of identity (a blurred photo, the wrong document) while the parties
    /// still hold the request ([`Rule::RequestSubmitted`] after). The caller deletes the
    /// sealed blob once this returns. Audited `party.identity_proof_removed`: the trail
    /// keeps the hash of what was removed.
    pub async fn remove_identity_proof(
        &self,
        actor: &Actor,
        id: &IdentityProofId,
    ) -> Result<PartyIdentityProof> {
        let proof = self.identity_proof(id).await?;
        let mut tx = self.begin().await?;
        self.locked_status(&mut tx, &proof.case_id).await?;
        refuse_once_submitted(&mut tx, &proof.case_id).await?;
        let deleted = sqlx::query("DELETE FROM identity_proofs WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NotFound("no such identity proof"));
        }
        self.audit(
            &mut tx,
            actor,
            AuditAction::PartyIdentityProofRemoved,
            &subject(&proof.case_id),
            json!({"party": proof.party_id, "proof": proof.id, "sha256": proof.sha256}),
        )
        .await?;
        tx.commit().await?;
        Ok(proof)
    }

    /// Notes that staff or a court user opened a proof of identity, which shows a full ID
    /// number and a face.
    pub async fn record_identity_proof_read(
        &self,
        actor: &Actor,
        proof: &PartyIdentityProof,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::PartyIdentityProofRead,
            &subject(&proof.case_id),
            json!({"party": proof.party_id, "proof": proof.id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Refuses a change once the case's request is with the court
/// ([`RequestStatus::is_with_court`]).
async fn refuse_once_submitted(tx: &mut Tx, case_id: &CaseId) -> Result<()> {
    let with_court: Vec<String> = RequestStatus::ALL
        .iter()
        .filter(|s| s.is_with_court())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    let with_court = sqlx::query(&format!(
        "SELECT 1 FROM confirmation_requests WHERE case_id = $1 AND status IN ({})",
        with_court.join(", ")
    ))
    .bind(case_id)
    .fetch_optional(&mut **tx)
    .await?;
    if with_court.is_some() {
        return Err(Error::Rule(Rule::RequestSubmitted));
    }
    Ok(())
}

fn proof_from_row(row: &AnyRow) -> Result<PartyIdentityProof> {
    Ok(PartyIdentityProof {
        id: row.try_get(0)?,
        case_id: row.try_get(1)?,
        party_id: row.try_get(2)?,
        kind: PartyIdentityProofKind::parse(&row.try_get::<String, _>(3)?)?,
        media_type: row.try_get(4)?,
        size: row.try_get(5)?,
        sha256: row.try_get(6)?,
        sealed_blob: row.try_get(7)?,
        uploaded_by: row.try_get(8)?,
        created_at: row.try_get(9)?,
    })
}
