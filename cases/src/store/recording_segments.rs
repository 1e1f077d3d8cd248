//! What several nodes need of a running recording: which node writes it, the pieces of its
//! files that reached the blob store while it ran (so another node can finalise it when that
//! node dies), and taking a dead node's recording over.
//!
//! Pieces are not audited: they come every few seconds, they are a copy of what the folder
//! holds, and what is finally stored is audited through the manifest's hash as always.

use sqlx::Row;

use super::recording_model::RecordingSegment;
use super::{Store, now_ms};
use crate::error::Result;
use crate::ids::RecordingId;

/// The statuses of a recording a node may still be writing, as SQL.
const UNFINISHED_SQL: &str = "('recording', 'paused', 'finalising')";

impl Store {
    /// Lists a piece of a running recording's file, stored as a blob. `false`, and nothing
    /// listed, when the recording is no longer running (finalised meanwhile: its own files
    /// are stored, the piece is not needed) or the piece was listed already.
    pub async fn add_recording_segment(
        &self,
        id: &RecordingId,
        segment: &RecordingSegment,
    ) -> Result<bool> {
        let added = sqlx::query(&format!(
            "INSERT INTO recording_segments \
             (recording_id, file, start_byte, size, sha256, stored_at) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS \
             (SELECT 1 FROM recordings WHERE id = $1 AND status IN {UNFINISHED_SQL}) \
             ON CONFLICT DO NOTHING"
        ))
        .bind(id)
        .bind(&segment.file)
        .bind(segment.start)
        .bind(segment.size)
        .bind(&segment.sha256)
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(added > 0)
    }

    /// The stored pieces of a recording's files, by file and position.
    pub async fn recording_segments(&self, id: &RecordingId) -> Result<Vec<RecordingSegment>> {
        let rows = sqlx::query(
            "SELECT file, start_byte, size, sha256 FROM recording_segments \
             WHERE recording_id = $1 ORDER BY file, start_byte",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RecordingSegment {
                    file: row.try_get(0)?,
                    start: row.try_get(1)?,
                    size: row.try_get(2)?,
                    sha256: row.try_get(3)?,
                })
            })
            .collect()
    }

    /// Forgets a recording's pieces once its own files are stored; returns the blobs they
    /// were, for the caller to delete those [`Store::blob_in_use`] no longer finds.
    pub async fn remove_recording_segments(&self, id: &RecordingId) -> Result<Vec<String>> {
        let rows =
            sqlx::query("DELETE FROM recording_segments WHERE recording_id = $1 RETURNING sha256")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        let mut blobs: Vec<String> = rows
            .iter()
            .map(|row| row.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        blobs.sort();
        blobs.dedup();
        Ok(blobs)
    }

    /// Makes node `to` the one finishing an unfinished recording `from` was writing (`from`
    /// is gone). `false` when it was not `from`'s any more, or not unfinished: another node
    /// took it first, or it ended. Two nodes that find the same dead node's recording thus
    /// never both finalise it.
    pub async fn take_over_recording(
        &self,
        id: &RecordingId,
        from: &str,
        to: &str,
    ) -> Result<bool> {
        let changed = sqlx::query(&format!(
            "UPDATE recordings SET node = $1 \
             WHERE id = $2 AND node = $3 AND status IN {UNFINISHED_SQL}"
        ))
        .bind(to)
        .bind(id)
        .bind(from)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }
}
