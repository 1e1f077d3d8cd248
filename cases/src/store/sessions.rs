//! Sessions of a case: scheduling them, opening the room, and the invites that let people
//! in.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::cases::{KeyUse, request_sha256, subject};
use super::model::{Actor, CaseStatus, Invite, Session, SessionStatus};
use super::vocabulary::AuditAction;
use super::{Store, new_id, now_ms};
use crate::error::{Error, Result};
use crate::ids::{CaseId, InviteId, PartyId, SessionId};

const SESSION_COLUMNS: &str = "id, case_id, room, scheduled_at, status, created_at";

impl Store {
    /// Schedules a video session for a case; it gets its own media room.
    pub async fn schedule_session(
        &self,
        actor: &Actor,
        case_id: &CaseId,
        scheduled_at: i64,
    ) -> Result<Session> {
        Ok(self
            .schedule_session_once(actor, case_id, scheduled_at, None)
            .await?
            .0)
    }

    /// Schedules a session as [`Store::schedule_session`] does; with an idempotency key, a
    /// retry (same actor and key) returns the session the first attempt made, and the flag
    /// is false.
    pub async fn schedule_session_once(
        &self,
        actor: &Actor,
        case_id: &CaseId,
        scheduled_at: i64,
        idempotency_key: Option<&str>,
    ) -> Result<(Session, bool)> {
        let scope = format!("{}:session.create", actor.label());
        let hash = request_sha256(&(case_id, scheduled_at))?;
        let key_use = KeyUse::of(&scope, idempotency_key, &hash);
        if let Some(existing) = self.earlier(key_use).await? {
            return Ok((self.session(&SessionId::from(existing)).await?, false));
        }
        match self
            .insert_session(actor, case_id, scheduled_at, key_use)
            .await
        {
            Ok(session) => Ok((session, true)),
            Err(Error::Conflict(_)) if key_use.is_some() => {
                let existing = self.race_winner(key_use).await?;
                Ok((self.session(&SessionId::from(existing)).await?, false))
            }
            Err(other) => Err(other),
        }
    }

    async fn insert_session(
        &self,
        actor: &Actor,
        case_id: &CaseId,
        scheduled_at: i64,
        idempotency: Option<KeyUse<'_>>,
    ) -> Result<Session> {
        let id: SessionId = new_id("SE");
        let session = Session {
            room: format!("room-{}", id.as_str().to_lowercase()),
            id,
            case_id: case_id.clone(),
            scheduled_at,
            status: SessionStatus::Scheduled,
            created_at: now_ms(),
        };
        let mut tx = self.begin().await?;
        let status = self.locked_status(&mut tx, case_id).await?;
        if !matches!(
            status,
            CaseStatus::Accepted
                | CaseStatus::Assigned
                | CaseStatus::InMediation
                | CaseStatus::Rejected
        ) {
            return Err(Error::Conflict(format!(
                "no session can be scheduled for a case that is `{}`",
                status.as_str()
            )));
        }
        sqlx::query(&format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&session.id)
        .bind(&session.case_id)
        .bind(&session.room)
        .bind(session.scheduled_at)
        .bind(session.status.as_str())
        .bind(session.created_at)
        .execute(&mut *tx)
        .await?;
        if let Some(idempotency) = idempotency {
            self.remember_key(&mut tx, idempotency, session.id.as_str())
                .await?;
        }
        self.audit(
            &mut tx,
            actor,
            AuditAction::SessionScheduled,
            &subject(case_id),
            json!({"session": session.id, "scheduled_at": session.scheduled_at}),
        )
        .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// A case's sessions, earliest first.
    pub async fn sessions(&self, case_id: &CaseId) -> Result<Vec<Session>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE case_id = $1 ORDER BY scheduled_at, id"
        ))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    /// One session.
    pub async fn session(&self, id: &SessionId) -> Result<Session> {
        let row = self
            .one(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"),
                id.as_str(),
                "no such session",
            )
            .await?;
        session_from_row(&row)
    }

    /// The sessions whose rooms are open now.
    pub async fn live_sessions(&self) -> Result<Vec<Session>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE status = $1"
        ))
        .bind(SessionStatus::Live.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    /// The session whose media room is `room`, if the room belongs to one.
    pub async fn session_by_room(&self, room: &str) -> Result<Option<Session>> {
        sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE room = $1"
        ))
        .bind(room)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }
}

fn session_from_row(row: &AnyRow) -> Result<Session> {
    Ok(Session {
        id: row.try_get(0)?,
        case_id: row.try_get(1)?,
        room: row.try_get(2)?,
        scheduled_at: row.try_get(3)?,
        status: SessionStatus::parse(&row.try_get::<String, _>(4)?)?,
        created_at: row.try_get(5)?,
    })
}

const INVITE_COLUMNS: &str = "id, session_id, case_id, party_id, issued_at, expires_at, \
     revoked_at, created_by, created_at";

impl Store {
    /// Invites `party_id` to `session_id` for `ttl_seconds`. The party must belong to the
    /// session's case, and the session must not be over.
    pub async fn create_invite(
        &self,
        actor: &Actor,
        session_id: &SessionId,
        party_id: &PartyId,
        ttl_seconds: i64,
    ) -> Result<Invite> {
        let session = self.session(session_id).await?;
        if matches!(
            session.status,
            SessionStatus::Ended | SessionStatus::Cancelled
        ) {
            return Err(Error::Conflict(format!(
                "the session is `{}`; schedule a new one",
                session.status.as_str()
            )));
        }
        let party = self.party(party_id).await?;
        if party.case_id != session.case_id {
            return Err(Error::NotFound("the person is not a party of this case"));
        }
        let now = now_ms();
        let issued_at = now / 1000;
        let invite = Invite {
            id: new_id("IN"),
            session_id: session.id,
            case_id: session.case_id,
            party_id: party.id,
            issued_at,
            expires_at: issued_at + ttl_seconds,
            revoked_at: None,
            created_by: actor.label(),
            created_at: now,
        };
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO invites ({INVITE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&invite.id)
        .bind(&invite.session_id)
        .bind(&invite.case_id)
        .bind(&invite.party_id)
        .bind(invite.issued_at)
        .bind(invite.expires_at)
        .bind(invite.revoked_at)
        .bind(&invite.created_by)
        .bind(invite.created_at)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::InviteCreated,
            &subject(&invite.case_id),
            json!({"invite": invite.id, "session": invite.session_id,
                   "party": invite.party_id, "expires_at": invite.expires_at}),
        )
        .await?;
        tx.commit().await?;
        Ok(invite)
    }

    /// One invite.
    pub async fn invite(&self, id: &InviteId) -> Result<Invite> {
        let row = self
            .one(
                &format!("SELECT {INVITE_COLUMNS} FROM invites WHERE id = $1"),
                id.as_str(),
                "no such invite",
            )
            .await?;
        invite_from_row(&row)
    }

    /// A session's invites, oldest first.
    pub async fn invites_of_session(&self, session_id: &SessionId) -> Result<Vec<Invite>> {
        let rows = sqlx::query(&format!(
            "SELECT {INVITE_COLUMNS} FROM invites WHERE session_id = $1 ORDER BY created_at, id"
        ))
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(invite_from_row).collect()
    }

    /// Stops an invite's link from admitting. Revoking twice keeps the first time.
    pub async fn revoke_invite(&self, actor: &Actor, id: &InviteId) -> Result<Invite> {
        let invite = self.invite(id).await?;
        if invite.revoked_at.is_some() {
            return Ok(invite);
        }
        let mut tx = self.begin().await?;
        let changed =
            sqlx::query("UPDATE invites SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed == 1 {
            self.audit(
                &mut tx,
                actor,
                AuditAction::InviteRevoked,
                &subject(&invite.case_id),
                json!({"invite": invite.id, "party": invite.party_id}),
            )
            .await?;
        }
        tx.commit().await?;
        self.invite(id).await
    }

    /// Records that an invite's message went out through `channel` (never to whom: the
    /// phone number is on the party's record).
    pub async fn record_invite_sent(
        &self,
        actor: &Actor,
        invite: &Invite,
        channel: &str,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::InviteSent,
            &subject(&invite.case_id),
            json!({"invite": invite.id, "party": invite.party_id, "channel": channel}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a scheduled session live when its mediator opens the room. Opening a live
    /// session again (a second device, a reload) changes nothing.
    pub async fn start_session(&self, actor: &Actor, id: &SessionId) -> Result<Session> {
        let session = self.session(id).await?;
        match session.status {
            SessionStatus::Live => return Ok(session),
            SessionStatus::Scheduled => {}
            SessionStatus::Ended | SessionStatus::Cancelled => {
                return Err(Error::Conflict(format!(
                    "the session is `{}`; schedule a new one",
                    session.status.as_str()
                )));
            }
        }
        self.change_session_status(
            actor,
            &session,
            SessionStatus::Live,
            AuditAction::SessionStarted,
        )
        .await?;
        self.session(id).await
    }

    /// Moves a session from the status it was read with to `to`, with its audit entry; a
    /// concurrent change that got there first leaves it as that change made it.
    pub(super) async fn change_session_status(
        &self,
        actor: &Actor,
        session: &Session,
        to: SessionStatus,
        action: AuditAction,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE sessions SET status = $1 WHERE id = $2 AND status = $3")
            .bind(to.as_str())
            .bind(&session.id)
            .bind(session.status.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 1 {
            self.audit(
                &mut tx,
                actor,
                action,
                &subject(&session.case_id),
                json!({"session": session.id}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn invite_from_row(row: &AnyRow) -> Result<Invite> {
    Ok(Invite {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        case_id: row.try_get("case_id")?,
        party_id: row.try_get("party_id")?,
        issued_at: row.try_get("issued_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}
