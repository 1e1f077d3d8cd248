//! The append-only, hash-chained audit trail. Each entry's hash covers its fields and the
//! previous entry's hash, so changing or removing any entry breaks every hash after it; the
//! newest (seq, hash) is kept in `audit_head` with a MAC under a key that is not in the
//! database, so cutting entries off the end shows too.

use serde::Serialize;
use sqlx::Row;

use super::model::{Actor, AuditAction, AuditEntry};
use super::{Store, Tx, now_ms};
use crate::error::Result;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What [`Store::verify_audit`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: i64,
    /// Every inconsistency, in order; empty when the trail is intact.
    pub problems: Vec<String>,
}

impl AuditReport {
    /// Whether the trail is intact.
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

fn entry_hash(
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
    prev: &str,
) -> String {
    use sha2::Digest;
    // A JSON array is an unambiguous encoding of the fields, whatever characters they hold.
    let canonical = serde_json::json!([seq, at, actor, action, subject, detail, prev]).to_string();
    hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
}

fn head_message(seq: i64, hash: &str) -> String {
    format!("accord-audit-head:{seq}:{hash}")
}

impl Store {
    /// Appends an entry inside `tx`, the transaction that makes the change it records: the
    /// change and its entry are stored together or not at all.
    pub(super) async fn audit(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        action: AuditAction,
        subject: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        let head = sqlx::query(&format!(
            "SELECT seq, hash FROM audit_head WHERE id = 1{}",
            self.backend.lock_row()
        ))
        .fetch_one(&mut **tx)
        .await?;
        let (prev_seq, prev_hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
        let seq = prev_seq + 1;
        let at = now_ms();
        let (actor, detail) = (actor.label(), detail.to_string());
        let hash = entry_hash(
            seq,
            at,
            &actor,
            action.as_str(),
            subject,
            &detail,
            &prev_hash,
        );
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(at)
        .bind(&actor)
        .bind(action.as_str())
        .bind(subject)
        .bind(&detail)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1")
            .bind(seq)
            .bind(&hash)
            .bind(self.keys.audit_mac(&head_message(seq, &hash)))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The entries about `subject` (e.g. `case:CA_…`), oldest first.
    pub async fn audit_of(&self, subject: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log \
             WHERE subject = $1 ORDER BY seq",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Walks the whole trail and reports every entry whose hash, sequence or link is wrong,
    /// and a head that does not match the last entry or its MAC.
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        let mut problems = Vec::new();
        let mut expected_prev = GENESIS.to_owned();
        let mut expected_seq = 1i64;
        let mut entries = 0i64;
        let mut last_after = 0i64;
        // In pages, so a long trail is not held in memory at once.
        loop {
            let rows = sqlx::query(
                "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log \
                 WHERE seq > $1 ORDER BY seq LIMIT 1000",
            )
            .bind(last_after)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let e = entry_from_row(row)?;
                entries += 1;
                if e.seq != expected_seq {
                    problems.push(format!(
                        "entry {} follows {}: entries are missing",
                        e.seq,
                        expected_seq - 1
                    ));
                }
                if e.prev_hash != expected_prev {
                    problems.push(format!(
                        "entry {} does not link to the entry before it",
                        e.seq
                    ));
                }
                let recomputed = entry_hash(
                    e.seq,
                    e.at,
                    &e.actor,
                    &e.action,
                    &e.subject,
                    &e.detail,
                    &e.prev_hash,
                );
                if recomputed != e.hash {
                    problems.push(format!(
                        "entry {} was altered: its content does not match its hash",
                        e.seq
                    ));
                }
                expected_prev = e.hash;
                expected_seq = e.seq + 1;
                last_after = e.seq;
            }
        }
        let head = sqlx::query("SELECT seq, hash, mac FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        match head {
            None => problems.push("the audit head is missing".into()),
            Some(head) => {
                let (seq, hash, mac): (i64, String, String) =
                    (head.try_get(0)?, head.try_get(1)?, head.try_get(2)?);
                if seq == 0 {
                    if entries > 0 {
                        problems.push("the audit head was reset while entries exist".into());
                    }
                } else {
                    if mac != self.keys.audit_mac(&head_message(seq, &hash)) {
                        problems.push("the audit head's MAC is wrong: it was rewritten".into());
                    }
                    if seq != expected_seq - 1 || hash != expected_prev {
                        problems.push(format!(
                            "the audit head names entry {seq}, but the trail ends at entry {}: \
                             entries were removed or added outside the store",
                            expected_seq - 1
                        ));
                    }
                }
            }
        }
        Ok(AuditReport { entries, problems })
    }
}

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.try_get(0)?,
        at: row.try_get(1)?,
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        subject: row.try_get(4)?,
        detail: row.try_get(5)?,
        prev_hash: row.try_get(6)?,
        hash: row.try_get(7)?,
    })
}
