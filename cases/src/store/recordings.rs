//! A recording's life in the store: started, paused and resumed, checkpointed while it runs,
//! finalised (complete, or interrupted when a restart recovers it) or failed. What happens to
//! it afterwards (review, holds, retention, integrity checks) is in `recording_review.rs`.
//!
//! Each status change and its audit entry are one transaction, on the case's trail, so the
//! case's history says when it was recorded and the manifest's hash enters the chain the
//! moment the recording is finalised.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::cases::subject;
use super::model::{Actor, SessionStatus};
use super::recording_model::{
    IntegrityState, NewRecording, Recording, RecordingFile, RecordingFileKind, RecordingPause,
    RecordingStatus, problems_from_text,
};
use super::vocabulary::AuditAction;
use super::{Store, Tx, new_id, now_ms};
use crate::error::{Error, Result};
use crate::ids::{CaseId, RecordingId};

// The booleans are read as integers: sqlx's `Any` driver cannot decode SQLite's BOOLEAN, and
// the cast reads the same on both databases.
pub(super) const RECORDING_COLUMNS: &str = "id, case_id, session_id, status, started_at, \
     ended_at, started_by, \
     CAST(CASE WHEN private_rooms_recorded THEN 1 ELSE 0 END AS BIGINT) AS private_rooms_recorded, \
     node, manifest_sha256, manifest_blob, chain_head, chain_segments, checkpoint_at, bytes, \
     CAST(CASE WHEN hold THEN 1 ELSE 0 END AS BIGINT) AS hold, hold_reason, delete_after, \
     deleted_at, integrity, integrity_checked_at, integrity_problems";

const FILE_COLUMNS: &str = "name, kind, size, sha256, track_id, participant_id, media_kind, \
     space, start_ms, end_ms";

/// The statuses of a recording the server may still be writing, as SQL.
const UNFINISHED_SQL: &str = "('recording', 'paused', 'finalising')";

/// How a recording ended: what [`Store::finish_recording`] stores.
#[derive(Clone, Debug)]
pub struct FinishedRecording {
    /// [`RecordingStatus::Complete`] after a clean stop, [`RecordingStatus::Interrupted`]
    /// after recovery from a crash.
    pub status: RecordingStatus,
    /// SHA-256 of the signed `manifest.json`, hex.
    pub manifest_sha256: String,
    /// Every file of the folder as stored, the manifest and its signature included.
    pub files: Vec<RecordingFile>,
    /// Unix milliseconds: the stop, or the last media a crash left.
    pub ended_at: i64,
    /// When the retention policy deletes it (see
    /// [`super::recording_model::RecordingPolicy::delete_after`]); `None` keeps it.
    pub delete_after: Option<i64>,
}

impl Store {
    /// Starts recording a live session, as `recording`. A session has one recording running
    /// at a time: a second start while one runs is a conflict, not a second recording.
    pub async fn create_recording(&self, actor: &Actor, new: NewRecording) -> Result<Recording> {
        let mut tx = self.begin().await?;
        // The session's row is locked so two starts cannot both see no running recording.
        let row = sqlx::query(&format!(
            "SELECT case_id, status FROM sessions WHERE id = $1{}",
            self.backend.lock_row()
        ))
        .bind(&new.session_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("no such session"))?;
        let case_id: CaseId = row.try_get(0)?;
        let status = SessionStatus::parse(&row.try_get::<String, _>(1)?)?;
        if status != SessionStatus::Live {
            return Err(Error::Conflict(format!(
                "only a live session can be recorded; this one is `{}`",
                status.as_str()
            )));
        }
        let running = sqlx::query(&format!(
            "SELECT 1 FROM recordings WHERE session_id = $1 AND status IN {UNFINISHED_SQL}"
        ))
        .bind(&new.session_id)
        .fetch_optional(&mut *tx)
        .await?;
        if running.is_some() {
            return Err(Error::Conflict(
                "this session is already being recorded".into(),
            ));
        }
        let id: RecordingId = new_id("RC");
        sqlx::query(
            "INSERT INTO recordings (id, case_id, session_id, status, started_at, started_by, \
             private_rooms_recorded, node, chain_segments, bytes, hold, integrity, \
             integrity_problems) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, $10, '[]')",
        )
        .bind(&id)
        .bind(&case_id)
        .bind(&new.session_id)
        .bind(RecordingStatus::Recording.as_str())
        .bind(now_ms())
        .bind(&new.started_by)
        .bind(new.private_rooms_recorded)
        .bind(&new.node)
        .bind(false)
        .bind(IntegrityState::Unchecked.as_str())
        .execute(&mut *tx)
        .await?;
        self.commit_audited(
            tx,
            actor,
            AuditAction::RecordingStarted,
            &case_id,
            &id,
            json!({"recording": id, "session": new.session_id,
                   "private_rooms_recorded": new.private_rooms_recorded, "node": new.node}),
        )
        .await
    }

    /// Pauses (`paused`), resumes (`recording`) or stops (`finalising`) a running recording,
    /// keeping its pauses: a pause opens one, resuming or stopping closes it. Asking for the
    /// status it already has changes nothing; anything else a running recording cannot do
    /// (or a finished one doing anything) is a conflict.
    pub async fn set_recording_status(
        &self,
        actor: &Actor,
        id: &RecordingId,
        to: RecordingStatus,
    ) -> Result<Recording> {
        let mut tx = self.begin().await?;
        let before = self.locked_recording(&mut tx, id).await?;
        let from = before.status;
        if from == to {
            return Ok(before);
        }
        let action = match (from, to) {
            (RecordingStatus::Recording, RecordingStatus::Paused) => AuditAction::RecordingPaused,
            (RecordingStatus::Paused, RecordingStatus::Recording) => AuditAction::RecordingResumed,
            (RecordingStatus::Recording | RecordingStatus::Paused, RecordingStatus::Finalising) => {
                AuditAction::RecordingStopped
            }
            _ => {
                return Err(Error::Conflict(format!(
                    "a recording that is `{}` cannot become `{}`",
                    from.as_str(),
                    to.as_str()
                )));
            }
        };
        let now = now_ms();
        if to == RecordingStatus::Paused {
            sqlx::query("INSERT INTO recording_pauses (recording_id, paused_at) VALUES ($1, $2)")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        } else {
            close_pause(&mut tx, id, now).await?;
        }
        let case_id = update_status(&mut tx, id, to, None).await?;
        self.commit_audited(tx, actor, action, &case_id, id, json!({"recording": id}))
            .await
    }

    /// Stores the newest head of a running recording's segment chain, the segments chained
    /// and the bytes written, so an interrupted recording's prefix can be checked against
    /// what the database saw. Not audited: it comes every few seconds, and the chain's final
    /// head enters the audit trail through the manifest when the recording is finalised.
    pub async fn checkpoint_recording(
        &self,
        id: &RecordingId,
        head: &str,
        segments: i64,
        bytes: i64,
        at: i64,
    ) -> Result<()> {
        let changed = sqlx::query(&format!(
            "UPDATE recordings SET chain_head = $1, chain_segments = $2, bytes = $3, \
             checkpoint_at = $4 WHERE id = $5 AND status IN {UNFINISHED_SQL}"
        ))
        .bind(head)
        .bind(segments)
        .bind(bytes)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if changed == 0 {
            // Missing, or already finished: say which.
            let recording = self.recording(id).await?;
            return Err(Error::Conflict(format!(
                "a recording that is `{}` takes no more checkpoints",
                recording.status.as_str()
            )));
        }
        Ok(())
    }

    /// Finalises a recording with its signed manifest and the files it is stored as, as
    /// `complete` or `interrupted`. The manifest's hash is written to the case's audit
    /// trail in the same transaction, which is what makes later tampering with the
    /// manifest show.
    pub async fn finish_recording(
        &self,
        actor: &Actor,
        id: &RecordingId,
        finished: &FinishedRecording,
    ) -> Result<Recording> {
        let action = match finished.status {
            RecordingStatus::Complete => AuditAction::RecordingFinalised,
            RecordingStatus::Interrupted => AuditAction::RecordingInterrupted,
            other => {
                return Err(Error::Internal(format!(
                    "a recording is finished as complete or interrupted, not `{}`",
                    other.as_str()
                )));
            }
        };
        let mut tx = self.begin().await?;
        let from = self.locked_recording(&mut tx, id).await?.status;
        if !from.is_unfinished() {
            return Err(Error::Conflict(format!(
                "the recording is already `{}`",
                from.as_str()
            )));
        }
        close_pause(&mut tx, id, finished.ended_at).await?;
        for file in &finished.files {
            insert_file(&mut tx, id, file).await?;
        }
        let bytes: i64 = finished.files.iter().map(|f| f.size).sum();
        let manifest_blob = finished
            .files
            .iter()
            .find(|f| f.kind == RecordingFileKind::Manifest)
            .map(|f| f.sha256.clone());
        sqlx::query(
            "UPDATE recordings SET manifest_sha256 = $1, manifest_blob = $2, bytes = $3, \
             ended_at = $4, delete_after = $5 WHERE id = $6",
        )
        .bind(&finished.manifest_sha256)
        .bind(&manifest_blob)
        .bind(bytes)
        .bind(finished.ended_at)
        .bind(finished.delete_after)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let case_id = update_status(&mut tx, id, finished.status, None).await?;
        self.commit_audited(
            tx,
            actor,
            action,
            &case_id,
            id,
            json!({"recording": id, "manifest_sha256": finished.manifest_sha256,
                   "files": finished.files.len(), "bytes": bytes,
                   "delete_after": finished.delete_after}),
        )
        .await
    }

    /// Marks a recording that nothing usable could be made of as `failed`, saying why.
    pub async fn mark_recording_failed(
        &self,
        actor: &Actor,
        id: &RecordingId,
        reason: &str,
    ) -> Result<Recording> {
        let mut tx = self.begin().await?;
        let from = self.locked_recording(&mut tx, id).await?.status;
        if !from.is_unfinished() {
            return Err(Error::Conflict(format!(
                "the recording is already `{}`",
                from.as_str()
            )));
        }
        let now = now_ms();
        close_pause(&mut tx, id, now).await?;
        let case_id = update_status(&mut tx, id, RecordingStatus::Failed, Some(now)).await?;
        self.commit_audited(
            tx,
            actor,
            AuditAction::RecordingFailed,
            &case_id,
            id,
            json!({"recording": id, "reason": reason}),
        )
        .await
    }

    /// One recording.
    pub async fn recording(&self, id: &RecordingId) -> Result<Recording> {
        let row = self
            .one(
                &format!("SELECT {RECORDING_COLUMNS} FROM recordings WHERE id = $1"),
                id.as_str(),
                "no such recording",
            )
            .await?;
        recording_from_row(&row)
    }

    /// A case's recordings, earliest first.
    pub async fn recordings_of_case(&self, case_id: &CaseId) -> Result<Vec<Recording>> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE case_id = $1 \
             ORDER BY started_at, id"
        ))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_from_row).collect()
    }

    /// The recordings a restart must recover: those still recording, paused or finalising
    /// when the server stopped, oldest first.
    pub async fn unfinished_recordings(&self) -> Result<Vec<Recording>> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE status IN {UNFINISHED_SQL} \
             ORDER BY started_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_from_row).collect()
    }

    /// A finalised recording's files, by name.
    pub async fn recording_files(&self, id: &RecordingId) -> Result<Vec<RecordingFile>> {
        let rows = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM recording_files WHERE recording_id = $1 ORDER BY name"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(file_from_row).collect()
    }

    /// A recording's pauses, in order.
    pub async fn recording_pauses(&self, id: &RecordingId) -> Result<Vec<RecordingPause>> {
        let rows = sqlx::query(
            "SELECT paused_at, resumed_at FROM recording_pauses WHERE recording_id = $1 \
             ORDER BY paused_at",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RecordingPause {
                    paused_at: row.try_get(0)?,
                    resumed_at: row.try_get(1)?,
                })
            })
            .collect()
    }

    /// Writes a change's audit entry on its case's trail inside `tx`, commits the two
    /// together, and reads the recording back as the change left it.
    pub(super) async fn commit_audited(
        &self,
        mut tx: Tx,
        actor: &Actor,
        action: AuditAction,
        case_id: &CaseId,
        id: &RecordingId,
        detail: serde_json::Value,
    ) -> Result<Recording> {
        self.audit(&mut tx, actor, action, &subject(case_id), detail)
            .await?;
        tx.commit().await?;
        self.recording(id).await
    }

    /// The recording `id`, read and locked inside `tx` for a change that depends on it.
    pub(super) async fn locked_recording(
        &self,
        tx: &mut Tx,
        id: &RecordingId,
    ) -> Result<Recording> {
        let row = sqlx::query(&format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE id = $1{}",
            self.backend.lock_row()
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::NotFound("no such recording"))?;
        recording_from_row(&row)
    }
}

/// Sets a locked recording's status (and `ended_at`, when given and not yet set); returns
/// its case, for the audit entry.
pub(super) async fn update_status(
    tx: &mut Tx,
    id: &RecordingId,
    to: RecordingStatus,
    ended_at: Option<i64>,
) -> Result<CaseId> {
    let row = sqlx::query(
        "UPDATE recordings SET status = $1, ended_at = COALESCE(ended_at, $2) WHERE id = $3 \
         RETURNING case_id",
    )
    .bind(to.as_str())
    .bind(ended_at)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// Ends the open pause, if any, at `at`: a recording stopped or finalised while paused was
/// paused until then.
async fn close_pause(tx: &mut Tx, id: &RecordingId, at: i64) -> Result<()> {
    sqlx::query(
        "UPDATE recording_pauses SET resumed_at = $1 \
         WHERE recording_id = $2 AND resumed_at IS NULL",
    )
    .bind(at)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_file(tx: &mut Tx, id: &RecordingId, file: &RecordingFile) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO recording_files (recording_id, {FILE_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(id)
    .bind(&file.name)
    .bind(file.kind.as_str())
    .bind(file.size)
    .bind(&file.sha256)
    .bind(&file.track_id)
    .bind(&file.participant_id)
    .bind(&file.media_kind)
    .bind(&file.space)
    .bind(file.start_ms)
    .bind(file.end_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) fn recording_from_row(row: &AnyRow) -> Result<Recording> {
    Ok(Recording {
        id: row.try_get("id")?,
        case_id: row.try_get("case_id")?,
        session_id: row.try_get("session_id")?,
        status: RecordingStatus::parse(&row.try_get::<String, _>("status")?)?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        started_by: row.try_get("started_by")?,
        private_rooms_recorded: row.try_get::<i64, _>("private_rooms_recorded")? != 0,
        node: row.try_get("node")?,
        manifest_sha256: row.try_get("manifest_sha256")?,
        manifest_blob: row.try_get("manifest_blob")?,
        chain_head: row.try_get("chain_head")?,
        chain_segments: row.try_get("chain_segments")?,
        checkpoint_at: row.try_get("checkpoint_at")?,
        bytes: row.try_get("bytes")?,
        hold: row.try_get::<i64, _>("hold")? != 0,
        hold_reason: row.try_get("hold_reason")?,
        delete_after: row.try_get("delete_after")?,
        deleted_at: row.try_get("deleted_at")?,
        integrity: IntegrityState::parse(&row.try_get::<String, _>("integrity")?)?,
        integrity_checked_at: row.try_get("integrity_checked_at")?,
        integrity_problems: problems_from_text(&row.try_get::<String, _>("integrity_problems")?)?,
    })
}

fn file_from_row(row: &AnyRow) -> Result<RecordingFile> {
    Ok(RecordingFile {
        name: row.try_get(0)?,
        kind: RecordingFileKind::parse(&row.try_get::<String, _>(1)?)?,
        size: row.try_get(2)?,
        sha256: row.try_get(3)?,
        track_id: row.try_get(4)?,
        participant_id: row.try_get(5)?,
        media_kind: row.try_get(6)?,
        space: row.try_get(7)?,
        start_ms: row.try_get(8)?,
        end_ms: row.try_get(9)?,
    })
}
