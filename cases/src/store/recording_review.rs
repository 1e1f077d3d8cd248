//! What happens to a finalised recording: people review and download it, a hold keeps it,
//! the retention policy deletes it when nothing keeps it, integrity checks are recorded; and
//! the organisation's recording policy and the signing key's rotation, which the audit
//! trail must also show.

use serde_json::json;
use sqlx::Row;

use super::cases::subject;
use super::model::{Actor, CaseStatus, Organisation};
use super::recording_model::{
    IntegrityProblem, IntegrityState, Recording, RecordingPolicy, RecordingStatus, problems_to_text,
};
use super::recordings::{RECORDING_COLUMNS, recording_from_row, update_status};
use super::vocabulary::AuditAction;
use super::{Store, now_ms};
use crate::error::{Error, Result};
use crate::ids::{OrganisationId, RecordingId};

impl Store {
    /// Puts a hold on a recording (`hold`, with its reason) or lifts it. A held recording
    /// outlives its retention date until the hold is lifted. Setting what is already set
    /// changes nothing.
    pub async fn set_recording_hold(
        &self,
        actor: &Actor,
        id: &RecordingId,
        hold: bool,
        reason: Option<&str>,
    ) -> Result<Recording> {
        let mut tx = self.begin().await?;
        let before = self.locked_recording(&mut tx, id).await?;
        if before.status == RecordingStatus::Deleted {
            return Err(Error::Conflict(
                "the recording's files were deleted; there is nothing to hold".into(),
            ));
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        let kept_reason = if hold { reason } else { None };
        if before.hold == hold && before.hold_reason.as_deref() == kept_reason {
            return Ok(before);
        }
        sqlx::query("UPDATE recordings SET hold = $1, hold_reason = $2 WHERE id = $3")
            .bind(hold)
            .bind(kept_reason)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let action = if hold {
            AuditAction::RecordingHeld
        } else {
            AuditAction::RecordingReleased
        };
        self.commit_audited(
            tx,
            actor,
            action,
            &before.case_id,
            id,
            json!({"recording": id, "reason": reason}),
        )
        .await
    }

    /// The finalised recordings whose retention date is at or before `now` (Unix ms) and
    /// that nothing keeps: no hold, and no confirmation request ever made on the case (a
    /// case that was sent to a court names that court; the court's file refers to the
    /// recordings, whatever the case's status became since).
    pub async fn recordings_due_for_deletion(&self, now: i64) -> Result<Vec<Recording>> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE id IN (\
               SELECT r.id FROM recordings r JOIN cases c ON c.id = r.case_id \
               WHERE r.status IN ($1, $2) AND r.hold = $3 \
               AND r.delete_after IS NOT NULL AND r.delete_after <= $4 \
               AND c.court IS NULL AND c.status NOT IN ($5, $6)) \
             ORDER BY delete_after, id"
        ))
        .bind(RecordingStatus::Complete.as_str())
        .bind(RecordingStatus::Interrupted.as_str())
        .bind(false)
        .bind(now)
        .bind(CaseStatus::ConfirmationRequested.as_str())
        .bind(CaseStatus::Confirmed.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_from_row).collect()
    }

    /// Records that a recording's files were deleted (the caller deletes the blobs): the
    /// recording stays, as `deleted`, with what it was. A held recording is refused, so a
    /// hold put on between listing and deleting still keeps it.
    pub async fn mark_recording_deleted(
        &self,
        actor: &Actor,
        id: &RecordingId,
    ) -> Result<Recording> {
        let mut tx = self.begin().await?;
        let before = self.locked_recording(&mut tx, id).await?;
        if before.hold {
            return Err(Error::Conflict(
                "the recording is on hold; lift the hold before deleting it".into(),
            ));
        }
        if before.status == RecordingStatus::Deleted {
            return Ok(before);
        }
        if before.status.is_unfinished() {
            return Err(Error::Conflict(format!(
                "the recording is still `{}`",
                before.status.as_str()
            )));
        }
        sqlx::query("UPDATE recordings SET deleted_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        update_status(&mut tx, id, RecordingStatus::Deleted, None).await?;
        self.commit_audited(
            tx,
            actor,
            AuditAction::RecordingDeleted,
            &before.case_id,
            id,
            json!({"recording": id, "delete_after": before.delete_after,
                   "bytes": before.bytes, "was": before.status}),
        )
        .await
    }

    /// Whether a blob is still someone's: evidence, a file of a recording not deleted, or a
    /// piece of a running recording (see `recording_segments.rs`).
    /// Blobs are kept by content, so two records can share one; retention deletes a blob only
    /// when this says no.
    pub async fn blob_in_use(&self, sha256: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM evidence WHERE sha256 = $1) + \
             (SELECT COUNT(*) FROM recording_files f JOIN recordings r ON r.id = f.recording_id \
              WHERE f.sha256 = $1 AND r.status <> $2) + \
             (SELECT COUNT(*) FROM recording_segments WHERE sha256 = $1)",
        )
        .bind(sha256)
        .bind(RecordingStatus::Deleted.as_str())
        .fetch_one(&self.pool)
        .await?;
        let count: i64 = sqlx::Row::try_get(&row, 0)?;
        Ok(count > 0)
    }

    /// Stores the result of checking a recording's files against its signed manifest.
    pub async fn set_recording_integrity(
        &self,
        actor: &Actor,
        id: &RecordingId,
        state: IntegrityState,
        problems: &[IntegrityProblem],
    ) -> Result<Recording> {
        let mut tx = self.begin().await?;
        let before = self.locked_recording(&mut tx, id).await?;
        if !before.status.has_files() {
            return Err(Error::Conflict(format!(
                "a recording that is `{}` has no files to check",
                before.status.as_str()
            )));
        }
        sqlx::query(
            "UPDATE recordings SET integrity = $1, integrity_checked_at = $2, \
             integrity_problems = $3 WHERE id = $4",
        )
        .bind(state.as_str())
        .bind(now_ms())
        .bind(problems_to_text(problems)?)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        self.commit_audited(
            tx,
            actor,
            AuditAction::RecordingIntegrityChecked,
            &before.case_id,
            id,
            json!({"recording": id, "integrity": state, "problems": problems}),
        )
        .await
    }

    /// Writes to the case's trail that `actor` opened the recording's review page.
    pub async fn recording_viewed(&self, actor: &Actor, recording: &Recording) -> Result<()> {
        self.note_recording_access(actor, recording, AuditAction::RecordingViewed, None)
            .await
    }

    /// Writes to the case's trail that `actor` downloaded `file` of the recording (a file's
    /// name, or the archive's).
    pub async fn recording_downloaded(
        &self,
        actor: &Actor,
        recording: &Recording,
        file: &str,
    ) -> Result<()> {
        self.note_recording_access(
            actor,
            recording,
            AuditAction::RecordingDownloaded,
            Some(file),
        )
        .await
    }

    async fn note_recording_access(
        &self,
        actor: &Actor,
        recording: &Recording,
        action: AuditAction,
        file: Option<&str>,
    ) -> Result<()> {
        let mut detail = json!({"recording": recording.id});
        if let Some(file) = file {
            detail["file"] = json!(file);
        }
        let mut tx = self.begin().await?;
        self.audit(&mut tx, actor, action, &subject(&recording.case_id), detail)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes whether an organisation records its private rooms and how long it keeps
    /// recordings, auditing what changed. Recordings already made keep the policy they were
    /// made under; the new one applies from the next recording.
    pub async fn set_recording_policy(
        &self,
        actor: &Actor,
        id: &OrganisationId,
        policy: RecordingPolicy,
    ) -> Result<Organisation> {
        let mut tx = self.begin().await?;
        // Read under the row's lock, so the audit entry's "from" is what this change replaced
        // even when two administrators change the policy at once.
        let row = sqlx::query(&format!(
            "SELECT CAST(CASE WHEN record_private_rooms THEN 1 ELSE 0 END AS BIGINT), \
             recording_retention_days FROM organisations WHERE id = $1{}",
            self.backend.lock_row()
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("no such organisation"))?;
        let was = RecordingPolicy {
            record_private_rooms: row.try_get::<i64, _>(0)? != 0,
            recording_retention_days: row
                .try_get::<Option<i64>, _>(1)?
                .and_then(|days| u32::try_from(days).ok()),
        };
        if was == policy {
            drop(tx);
            return self.organisation(id).await;
        }
        sqlx::query(
            "UPDATE organisations SET record_private_rooms = $1, recording_retention_days = $2 \
             WHERE id = $3",
        )
        .bind(policy.record_private_rooms)
        .bind(policy.recording_retention_days.map(i64::from))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::OrganisationRecordingPolicyChanged,
            &format!("organisation:{id}"),
            json!({
                "record_private_rooms": {"from": was.record_private_rooms, "to": policy.record_private_rooms},
                "recording_retention_days": {"from": was.recording_retention_days, "to": policy.recording_retention_days},
            }),
        )
        .await?;
        tx.commit().await?;
        self.organisation(id).await
    }

    /// Writes to the audit trail that the manifest-signing key is now `key_id` (the key
    /// itself is kept with the platform's other keys, not here).
    pub async fn record_signing_key_rotated(
        &self,
        actor: &Actor,
        key_id: &str,
        previous_key_id: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::SigningKeyRotated,
            &format!("signing_key:{key_id}"),
            json!({"previous_key_id": previous_key_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
