//! The session record (笔录): what happened in a session's room, in order; the parties'
//! consent to online mediation; and ending a session.

use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::cases::subject;
use super::model::{Actor, Consent, SessionEvent, SessionStatus};
use super::vocabulary::{AuditAction, SessionEventKind};
use super::{Store, new_id, now_ms};
use crate::error::{Error, Result};
use crate::ids::{CaseId, PartyId, SessionId};

/// The text version a consent refers to; a new wording gets a new version.
pub const CONSENT_VERSION: &str = "online-mediation-and-recording/2026-1";

/// Orders entries across the store and across nodes: a hybrid clock, the wall clock in
/// microseconds unless the last number handed out (or the newest the database holds, see
/// [`Store::seed_record_seq`]) is already past it, then one more. A number that counted on
/// from the process's start time, as this once did, let a node started earlier write entries
/// after a failover that sorted before the dead node's; with the wall clock, entries written
/// later sort later as long as the nodes' clocks differ by less than the gap between the
/// dead node's last entry and the next one (a lease, 10 s by default). Entries written late
/// (a full writer queue) still keep the place they were numbered in.
static NEXT_SEQ: AtomicI64 = AtomicI64::new(0);

/// The next position in the record: `max(now_µs, last + 1)`.
pub fn next_seq() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 2))
        .unwrap_or(1);
    let mut last = NEXT_SEQ.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match NEXT_SEQ.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// Makes every later [`next_seq`] greater than `seq`.
fn seq_floor(seq: i64) {
    NEXT_SEQ.fetch_max(seq, Ordering::Relaxed);
}

const EVENT_COLUMNS: &str = "id, seq, session_id, case_id, at, kind, actor_identity, actor_name, \
     actor_role, subject_identity, subject_name, space, detail";

impl SessionEvent {
    /// An entry the server itself makes (a recording cut short, a session moved to another
    /// node): nobody acted, it happened in no particular space, and it comes next in the
    /// record.
    pub fn by_the_server(
        session_id: SessionId,
        case_id: CaseId,
        at: i64,
        kind: SessionEventKind,
        detail: String,
    ) -> Self {
        Self {
            id: new_id("SV"),
            seq: next_seq(),
            session_id,
            case_id,
            at,
            kind,
            actor_identity: None,
            actor_name: None,
            actor_role: None,
            subject_identity: None,
            subject_name: None,
            space: None,
            detail: Some(detail),
        }
    }
}

impl Store {
    /// Appends an entry to a session's record.
    pub async fn append_session_event(&self, event: &SessionEvent) -> Result<()> {
        insert_event(self.pool(), event).await
    }

    /// Makes this node's next record entries sort after every entry the database holds,
    /// whichever node wrote them and however far its clock ran ahead. Called when the store
    /// opens, and when a node takes over a dead node's work (its recordings).
    pub async fn seed_record_seq(&self) -> Result<()> {
        let row = sqlx::query("SELECT MAX(seq) FROM session_events")
            .fetch_one(self.pool())
            .await?;
        if let Some(max) = row.try_get::<Option<i64>, _>(0)? {
            seq_floor(max);
        }
        Ok(())
    }

    /// Records that the node running a session's room stopped and `to_node` took the session
    /// over: an entry in the session record and one in the case's audit trail, in one
    /// transaction, numbered after everything the database holds (the dead node's clock may
    /// have run ahead). Once per takeover: false when it was recorded already.
    pub async fn record_failover(
        &self,
        case_id: &CaseId,
        session_id: &SessionId,
        from_node: &str,
        to_node: &str,
    ) -> Result<bool> {
        self.seed_record_seq().await?;
        let detail = format!("{from_node} → {to_node}");
        let mut tx = self.begin().await?;
        // Placement hands a session over from a node once; this only guards a join that
        // learnt of the same takeover twice.
        let seen = sqlx::query(
            "SELECT COUNT(*) AS n FROM session_events \
             WHERE session_id = $1 AND kind = $2 AND detail = $3",
        )
        .bind(session_id)
        .bind(SessionEventKind::NodeFailover.as_str())
        .bind(&detail)
        .fetch_one(&mut *tx)
        .await?;
        if seen.try_get::<i64, _>("n")? > 0 {
            return Ok(false);
        }
        let event = SessionEvent::by_the_server(
            session_id.clone(),
            case_id.clone(),
            now_ms(),
            SessionEventKind::NodeFailover,
            detail,
        );
        insert_event(&mut *tx, &event).await?;
        self.audit(
            &mut tx,
            &Actor::System,
            AuditAction::SessionFailedOver,
            &subject(case_id),
            json!({"session": session_id, "from_node": from_node, "to_node": to_node}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A session's record, in order.
    pub async fn session_events(&self, session_id: &SessionId) -> Result<Vec<SessionEvent>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM session_events WHERE session_id = $1 ORDER BY seq"
        ))
        .bind(session_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Files shared in a session's room, and their bytes, from its record: what a node counts
    /// a session's evidence share from after a restart.
    pub async fn evidence_shared_in_session(&self, session_id: &SessionId) -> Result<(u32, u64)> {
        // An `evidence_shared` entry's detail starts with the evidence id and a space.
        let row = sqlx::query(
            "SELECT COUNT(*) AS files, CAST(COALESCE(SUM(e.size), 0) AS BIGINT) AS bytes \
             FROM session_events s JOIN evidence e \
               ON e.case_id = s.case_id AND s.detail LIKE e.id || ' %' \
             WHERE s.session_id = $1 AND s.kind = $2",
        )
        .bind(session_id)
        .bind(SessionEventKind::EvidenceShared.as_str())
        .fetch_one(self.pool())
        .await?;
        let files: i64 = row.try_get("files")?;
        let bytes: i64 = row.try_get("bytes")?;
        Ok((
            u32::try_from(files).unwrap_or(u32::MAX),
            u64::try_from(bytes).unwrap_or(0),
        ))
    }

    /// Whether a moderator removed this identity from the session.
    pub async fn removed_from_session(
        &self,
        session_id: &SessionId,
        identity: &str,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM session_events \
             WHERE session_id = $1 AND kind = $2 AND subject_identity = $3",
        )
        .bind(session_id)
        .bind(SessionEventKind::Removed.as_str())
        .bind(identity)
        .fetch_one(self.pool())
        .await?;
        let n: i64 = row.try_get("n")?;
        Ok(n > 0)
    }

    /// Ends a live (or scheduled) session. Ending an ended session changes nothing.
    pub async fn end_session(&self, actor: &Actor, id: &SessionId) -> Result<()> {
        let session = self.session(id).await?;
        if matches!(
            session.status,
            SessionStatus::Ended | SessionStatus::Cancelled
        ) {
            return Ok(());
        }
        self.change_session_status(
            actor,
            &session,
            SessionStatus::Ended,
            AuditAction::SessionEnded,
        )
        .await
    }

    /// A party's consent to this case's online mediation, if given.
    pub async fn consent(&self, case_id: &CaseId, party_id: &PartyId) -> Result<Option<Consent>> {
        let row = sqlx::query(
            "SELECT id, case_id, party_id, session_id, version, created_at FROM consents \
             WHERE case_id = $1 AND party_id = $2",
        )
        .bind(case_id)
        .bind(party_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(consent_from_row).transpose()
    }

    /// Records a party's consent (once; giving it again returns the first).
    pub async fn give_consent(
        &self,
        case_id: &CaseId,
        party_id: &PartyId,
        session_id: Option<&SessionId>,
        client_address: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Consent> {
        let party = self.party(party_id).await?;
        if party.case_id != *case_id {
            return Err(Error::NotFound("no such party in this case"));
        }
        if let Some(existing) = self.consent(case_id, party_id).await? {
            return Ok(existing);
        }
        let consent = Consent {
            id: new_id("CO"),
            case_id: case_id.clone(),
            party_id: party_id.clone(),
            session_id: session_id.cloned(),
            version: CONSENT_VERSION.to_owned(),
            created_at: now_ms(),
        };
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO consents (id, case_id, party_id, session_id, version, client_address, \
             user_agent, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (case_id, party_id) DO NOTHING",
        )
        .bind(&consent.id)
        .bind(case_id)
        .bind(party_id)
        .bind(session_id)
        .bind(CONSENT_VERSION)
        .bind(client_address.map(|a| a.chars().take(64).collect::<String>()))
        .bind(user_agent.map(|a| a.chars().take(300).collect::<String>()))
        .bind(consent.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            self.audit(
                &mut tx,
                &Actor::Party(party_id.clone()),
                AuditAction::ConsentGiven,
                &subject(case_id),
                json!({"party": party_id, "version": CONSENT_VERSION, "session": session_id}),
            )
            .await?;
        }
        tx.commit().await?;
        // A concurrent first consent won the race: that one stands.
        self.consent(case_id, party_id)
            .await?
            .ok_or_else(|| Error::Internal("a consent vanished after being written".into()))
    }
}

async fn insert_event<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    event: &SessionEvent,
) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO session_events ({EVENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&event.id)
    .bind(event.seq)
    .bind(&event.session_id)
    .bind(&event.case_id)
    .bind(event.at)
    .bind(event.kind.as_str())
    .bind(&event.actor_identity)
    .bind(&event.actor_name)
    .bind(&event.actor_role)
    .bind(&event.subject_identity)
    .bind(&event.subject_name)
    .bind(&event.space)
    .bind(&event.detail)
    .execute(executor)
    .await?;
    Ok(())
}

fn event_from_row(row: &AnyRow) -> Result<SessionEvent> {
    Ok(SessionEvent {
        id: row.try_get("id")?,
        seq: row.try_get("seq")?,
        session_id: row.try_get("session_id")?,
        case_id: row.try_get("case_id")?,
        at: row.try_get("at")?,
        kind: SessionEventKind::parse(&row.try_get::<String, _>("kind")?)?,
        actor_identity: row.try_get("actor_identity")?,
        actor_name: row.try_get("actor_name")?,
        actor_role: row.try_get("actor_role")?,
        subject_identity: row.try_get("subject_identity")?,
        subject_name: row.try_get("subject_name")?,
        space: row.try_get("space")?,
        detail: row.try_get("detail")?,
    })
}

fn consent_from_row(row: &AnyRow) -> Result<Consent> {
    Ok(Consent {
        id: row.try_get("id")?,
        case_id: row.try_get("case_id")?,
        party_id: row.try_get("party_id")?,
        session_id: row.try_get("session_id")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::next_seq;

    #[test]
    fn numbers_follow_the_wall_clock_and_never_repeat() {
        let first = next_seq();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = next_seq();
        // A counter from the start time would be one further; the clock moved 5 ms.
        assert!(second - first >= 4_000, "{first} then {second}");
        let burst: Vec<i64> = (0..1000).map(|_| next_seq()).collect();
        assert!(burst.windows(2).all(|w| w[0] < w[1]));
    }
}
