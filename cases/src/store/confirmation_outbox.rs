//! Delivery of submitted packages to courts' systems, from the transactional outbox that the
//! submission writes; the courts' status callbacks, remembered so a repeat is a no-op; and the
//! warnings before a party's application window closes, remembered so each is sent once.
//!
//! Several nodes may run the connector. A row is claimed with one conditional UPDATE that
//! succeeds only while the row is undelivered, not given up and its lease free, so exactly one
//! node holds it; a node that dies mid-delivery loses the lease when it expires and another
//! node takes the row over. The result of an attempt is stored only by the lease's holder.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use super::cases::subject;
use super::model::Actor;
use super::vocabulary::AuditAction;
use crate::agreements::model::Agreement;
use crate::confirmation::model::{OutboxItem, RequestStatus};
use crate::confirmation::window::{WINDOW_DAYS, WarningLevel, window};
use crate::error::{Error, Result};
use crate::ids::{AgreementId, CaseId, ConfirmationRequestId, PartyId};

const OUTBOX_COLUMNS: &str = "id, request_id, court, endpoint, idempotency_key, package_sha256, \
     attempts, next_attempt_at, lease_owner, lease_until, delivered_at, given_up_at, \
     last_error, last_status, created_at";

/// Rows looked at per claim: more than one, so a row another node just took does not stop
/// this one from taking the next.
const CLAIM_CANDIDATES: i64 = 8;

/// The longest error kept for the case page.
const MAX_ERROR_CHARS: usize = 500;

impl Store {
    /// Takes the next due delivery for `owner` until `now_ms + lease_ms`, counting the
    /// attempt; `None` when nothing is due. Safe with any number of nodes: of two claims of
    /// one row only one succeeds.
    pub async fn claim_outbox(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<OutboxItem>> {
        let candidates: Vec<String> = sqlx::query(
            "SELECT id FROM confirmation_outbox WHERE delivered_at IS NULL \
             AND given_up_at IS NULL AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) \
             ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(now_ms)
        .bind(CLAIM_CANDIDATES)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
        for id in candidates {
            let claimed = sqlx::query(
                "UPDATE confirmation_outbox SET lease_owner = $1, lease_until = $2, \
                 attempts = attempts + 1 WHERE id = $3 AND delivered_at IS NULL \
                 AND given_up_at IS NULL AND (lease_until IS NULL OR lease_until < $4)",
            )
            .bind(owner)
            .bind(now_ms.saturating_add(lease_ms))
            .bind(&id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
            if claimed.rows_affected() == 1 {
                return self.outbox_item(&id).await.map(Some);
            }
        }
        Ok(None)
    }

    /// The court's system took the package (`status`: 2xx, or 409 for one it had): the row
    /// is delivered and a submitted request `received`. Only the lease's holder may say so;
    /// anyone else gets [`Error::Conflict`] and nothing changes. Audited
    /// `confirmation.delivered` (and `confirmation.received`).
    pub async fn outbox_delivered(
        &self,
        id: &str,
        owner: &str,
        status: u16,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE confirmation_outbox SET delivered_at = $1, last_status = $2, \
             last_error = NULL, lease_owner = NULL, lease_until = NULL \
             WHERE id = $3 AND lease_owner = $4 AND delivered_at IS NULL AND given_up_at IS NULL",
        )
        .bind(now_ms)
        .bind(i64::from(status))
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(lease_lost());
        }
        let row = sqlx::query("SELECT request_id, attempts FROM confirmation_outbox WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let request_id: ConfirmationRequestId = row.try_get(0)?;
        let attempts: i64 = row.try_get(1)?;
        let request = self.locked_request(&mut tx, &request_id).await?;
        self.audit(
            &mut tx,
            &Actor::System,
            AuditAction::ConfirmationDelivered,
            &subject(&request.case_id),
            json!({"request": request_id, "outbox": id, "court": request.court,
                   "status": status, "attempts": attempts}),
        )
        .await?;
        if request.status == RequestStatus::Submitted {
            self.receive_in(&mut tx, &Actor::System, &request, now_ms)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An attempt failed (`status` when the court's system answered, `error` in words, no
    /// secrets): try again at `next_attempt_at`, or give up for good with `None`. Only the
    /// lease's holder may say so ([`Error::Conflict`] otherwise).
    pub async fn outbox_failed(
        &self,
        id: &str,
        owner: &str,
        status: Option<u16>,
        error: &str,
        next_attempt_at: Option<i64>,
        now_ms: i64,
    ) -> Result<()> {
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        let given_up_at = next_attempt_at.is_none().then_some(now_ms);
        let done = sqlx::query(
            "UPDATE confirmation_outbox SET last_status = $1, last_error = $2, \
             next_attempt_at = $3, given_up_at = $4, lease_owner = NULL, lease_until = NULL \
             WHERE id = $5 AND lease_owner = $6 AND delivered_at IS NULL AND given_up_at IS NULL",
        )
        .bind(status.map(i64::from))
        .bind(&error)
        .bind(next_attempt_at.unwrap_or(now_ms))
        .bind(given_up_at)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() != 1 {
            return Err(lease_lost());
        }
        Ok(())
    }

    /// The newest delivery of a request, if its court has a system.
    pub async fn outbox_of_request(
        &self,
        id: &ConfirmationRequestId,
    ) -> Result<Option<OutboxItem>> {
        sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM confirmation_outbox WHERE request_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(outbox_from_row)
        .transpose()
    }

    /// Deliveries not yet made nor given up, for the connector's gauge.
    pub async fn outbox_pending(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM confirmation_outbox \
             WHERE delivered_at IS NULL AND given_up_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn outbox_item(&self, id: &str) -> Result<OutboxItem> {
        let row = self
            .one(
                &format!("SELECT {OUTBOX_COLUMNS} FROM confirmation_outbox WHERE id = $1"),
                id,
                "no such delivery",
            )
            .await?;
        outbox_from_row(&row)
    }

    /// Remembers a court system's callback `event` for `request` (`at`: when the court says
    /// it happened; `body_sha256`: what it sent). True the first time; a repeat is false and
    /// the caller answers it without applying it again.
    pub async fn record_callback(
        &self,
        request: &ConfirmationRequestId,
        event: &str,
        at: i64,
        body_sha256: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO confirmation_callbacks (request_id, event, at, received_at, body_sha256) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id, event) DO NOTHING",
        )
        .bind(request)
        .bind(event)
        .bind(at)
        .bind(now_ms)
        .bind(body_sha256)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Records on the audit trail that a court system's callback was refused (bad or missing
    /// signature, stale timestamp, no key configured, …), and changes nothing else. The entry
    /// goes on the request's case when the request is known, else under `court-system`.
    /// `reason` is the edge's short code or sentence: never a signature, a secret or a body.
    pub async fn confirmation_callback_refused(
        &self,
        request: Option<&ConfirmationRequestId>,
        court: Option<&str>,
        reason: &str,
        now_ms: i64,
    ) -> Result<()> {
        let case = match request {
            Some(id) => sqlx::query("SELECT case_id FROM confirmation_requests WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.try_get::<CaseId, _>(0))
                .transpose()?,
            None => None,
        };
        let subject_text = case
            .as_ref()
            .map_or_else(|| "court-system".to_owned(), subject);
        let reason: String = reason.chars().take(MAX_ERROR_CHARS).collect();
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            &Actor::System,
            AuditAction::ConfirmationCallbackRefused,
            &subject_text,
            json!({"request": request, "court": court, "reason": reason, "at": now_ms}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that `actor` downloaded a request's package (the court's copy, or the
    /// mediator's): it holds the parties' full ID numbers and phones.
    pub async fn record_package_download(
        &self,
        actor: &Actor,
        request: &ConfirmationRequestId,
        now_ms: i64,
    ) -> Result<()> {
        let found = self.confirmation_request(request).await?;
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::ConfirmationPackageDownloaded,
            &subject(&found.case_id),
            json!({"request": request, "package_sha256": found.package_sha256, "at": now_ms}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Agreements whose parties may still apply at `now_ms`, with when each took effect: in
    /// force, not about personal status, no request submitted for the sealed version, and
    /// the window open.
    pub async fn agreements_in_window(&self, now_ms: i64) -> Result<Vec<(Agreement, i64)>> {
        // A day more than the window, so no time zone edge drops an open one; the exact
        // check is `window` below.
        let since = now_ms - (WINDOW_DAYS + 2) * 86_400_000;
        let rows = sqlx::query(
            "SELECT a.id, s.sealed_at FROM agreements a \
             JOIN agreement_seals s ON s.agreement_id = a.id AND s.version = a.version \
             JOIN cases c ON c.id = a.case_id \
             WHERE a.status = 'in_force' AND NOT c.personal_status AND s.sealed_at >= $1 \
             AND NOT EXISTS (SELECT 1 FROM confirmation_requests r \
                 WHERE r.agreement_id = a.id AND r.version = a.version AND r.status <> $2) \
             ORDER BY s.sealed_at, a.id",
        )
        .bind(since)
        .bind(RequestStatus::Applying.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut open = Vec::new();
        for row in rows {
            let id: AgreementId = row.try_get(0)?;
            let effective_at: i64 = row.try_get(1)?;
            if !window(effective_at, now_ms).closed {
                open.push((self.agreement(&id).await?, effective_at));
            }
        }
        Ok(open)
    }

    /// Whether `party` was warned at `level` about `agreement`'s window.
    pub async fn window_warning_sent(
        &self,
        agreement: &AgreementId,
        party: &PartyId,
        level: WarningLevel,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM confirmation_window_warnings \
             WHERE agreement_id = $1 AND party_id = $2 AND level = $3",
        )
        .bind(agreement)
        .bind(party)
        .bind(level.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Remembers that `party` was warned at `level`; true when this call marked it (send
    /// then), false when it was marked before (by this node or another).
    pub async fn mark_window_warning(
        &self,
        agreement: &AgreementId,
        party: &PartyId,
        level: WarningLevel,
        now_ms: i64,
    ) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO confirmation_window_warnings (agreement_id, party_id, level, sent_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (agreement_id, party_id, level) DO NOTHING",
        )
        .bind(agreement)
        .bind(party)
        .bind(level.as_str())
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Forgets a warning marked by [`Store::mark_window_warning`] whose message did not go
    /// out, so the next sweep (on any node) tries again.
    pub async fn unmark_window_warning(
        &self,
        agreement: &AgreementId,
        party: &PartyId,
        level: WarningLevel,
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM confirmation_window_warnings \
             WHERE agreement_id = $1 AND party_id = $2 AND level = $3",
        )
        .bind(agreement)
        .bind(party)
        .bind(level.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn lease_lost() -> Error {
    Error::Conflict("this delivery is no longer held by this node".into())
}

fn outbox_from_row(row: &AnyRow) -> Result<OutboxItem> {
    Ok(OutboxItem {
        id: row.try_get(0)?,
        request_id: row.try_get(1)?,
        court: row.try_get(2)?,
        endpoint: row.try_get(3)?,
        idempotency_key: row.try_get(4)?,
        package_sha256: row.try_get(5)?,
        attempts: row.try_get(6)?,
        next_attempt_at: row.try_get(7)?,
        lease_owner: row.try_get(8)?,
        lease_until: row.try_get(9)?,
        delivered_at: row.try_get(10)?,
        given_up_at: row.try_get(11)?,
        last_error: row.try_get(12)?,
        last_status: row.try_get(13)?,
        created_at: row.try_get(14)?,
    })
}
