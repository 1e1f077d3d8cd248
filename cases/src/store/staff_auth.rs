//! What staff sign-in keeps: access-token signing keys (sealed at rest, by key id so they
//! can rotate), refresh tokens (only their SHA-256 is stored, so a database dump cannot be
//! replayed), and first-run setup.

use serde_json::json;
use sqlx::Row;

use super::model::{Actor, NewStaff, Staff, StaffRole};
use super::vocabulary::AuditAction;
use super::{Store, new_id, now_ms};
use crate::error::{Error, Result};
use crate::ids::StaffId;

/// A key that signs staff access tokens.
#[derive(Clone)]
pub struct SigningKey {
    /// Named in each token's `kid` header.
    pub kid: String,
    /// The HMAC secret.
    pub secret: Vec<u8>,
    /// Unix milliseconds; the newest unretired key signs.
    pub created_at: i64,
    /// Set when tokens signed by it are no longer accepted.
    pub retired_at: Option<i64>,
}

impl std::fmt::Debug for SigningKey {
    // The secret stays out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// What a refresh does with a presented refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// It was live: it is now revoked and the new one (hash stored) replaces it.
    Rotated {
        /// Whose token it was.
        staff_id: StaffId,
    },
    /// It had already been revoked: someone replays a stolen token, so every refresh token
    /// of that staff member is now revoked.
    Reused {
        /// Whose token it was.
        staff_id: StaffId,
    },
    /// Unknown or expired.
    Refused,
}

impl Store {
    /// Stores a new signing key; being the newest, it signs from now on.
    pub async fn add_signing_key(&self, secret: &[u8]) -> Result<SigningKey> {
        // "Newest" must mean the one added last even when two land in one millisecond.
        let newest: Option<i64> = sqlx::query("SELECT MAX(created_at) FROM signing_keys")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let key = SigningKey {
            kid: new_id("K"),
            secret: secret.to_vec(),
            created_at: now_ms().max(newest.map_or(0, |t| t + 1)),
            retired_at: None,
        };
        sqlx::query("INSERT INTO signing_keys (kid, secret, created_at) VALUES ($1, $2, $3)")
            .bind(&key.kid)
            .bind(self.keys.seal(&hex::encode(secret))?)
            .bind(key.created_at)
            .execute(&self.pool)
            .await?;
        Ok(key)
    }

    /// Stops accepting tokens signed by `kid`.
    pub async fn retire_signing_key(&self, kid: &str) -> Result<()> {
        let changed = sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
        )
        .bind(now_ms())
        .bind(kid)
        .execute(&self.pool)
        .await?;
        if changed.rows_affected() == 0 {
            return Err(Error::NotFound("no such active signing key"));
        }
        Ok(())
    }

    /// The newest key not retired, if any.
    pub async fn current_signing_key(&self) -> Result<Option<SigningKey>> {
        let row = sqlx::query(
            "SELECT kid, secret, created_at, retired_at FROM signing_keys \
             WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.signing_key_from_row(&row)).transpose()
    }

    /// A key by id, retired or not.
    pub async fn signing_key(&self, kid: &str) -> Result<Option<SigningKey>> {
        let row = sqlx::query(
            "SELECT kid, secret, created_at, retired_at FROM signing_keys WHERE kid = $1",
        )
        .bind(kid)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.signing_key_from_row(&row)).transpose()
    }

    fn signing_key_from_row(&self, row: &sqlx::any::AnyRow) -> Result<SigningKey> {
        let sealed: Vec<u8> = row.try_get(1)?;
        let secret = hex::decode(self.keys.open(&sealed)?)
            .map_err(|_| Error::Internal("a signing key is not hex".into()))?;
        Ok(SigningKey {
            kid: row.try_get(0)?,
            secret,
            created_at: row.try_get(2)?,
            retired_at: row.try_get(3)?,
        })
    }

    /// Records a sign-in: stores the refresh token's hash and audits the login.
    pub async fn record_login(
        &self,
        staff_id: &StaffId,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_refresh_token(&mut tx, staff_id, token_hash, expires_at).await?;
        self.audit(
            &mut tx,
            &Actor::Staff(staff_id.clone()),
            AuditAction::StaffLogin,
            &format!("staff:{staff_id}"),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Exchanges the refresh token hashed `old_hash` for the one hashed `new_hash`, once.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        expires_at: i64,
    ) -> Result<Refreshed> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT id, staff_id, expires_at, revoked_at FROM refresh_tokens \
             WHERE token_hash = $1{}",
            self.backend.lock_row()
        ))
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Refreshed::Refused);
        };
        let (id, staff_id): (String, StaffId) = (row.try_get(0)?, row.try_get(1)?);
        let (expires, revoked): (i64, Option<i64>) = (row.try_get(2)?, row.try_get(3)?);
        if revoked.is_some() {
            revoke_all(&mut tx, &staff_id, now).await?;
            self.audit(
                &mut tx,
                &Actor::System,
                AuditAction::StaffRefreshTokenReused,
                &format!("staff:{staff_id}"),
                json!({"revoked": "all refresh tokens"}),
            )
            .await?;
            tx.commit().await?;
            return Ok(Refreshed::Reused { staff_id });
        }
        if expires <= now {
            return Ok(Refreshed::Refused);
        }
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        insert_refresh_token(&mut tx, &staff_id, new_hash, expires_at).await?;
        tx.commit().await?;
        Ok(Refreshed::Rotated { staff_id })
    }

    /// Revokes one refresh token (logout); returns whose it was, if it was live.
    pub async fn revoke_refresh_token(&self, token_hash: &str) -> Result<Option<StaffId>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 \
             WHERE token_hash = $2 AND revoked_at IS NULL RETURNING staff_id",
        )
        .bind(now_ms())
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let staff_id: StaffId = row.try_get(0)?;
        self.audit(
            &mut tx,
            &Actor::Staff(staff_id.clone()),
            AuditAction::StaffLogout,
            &format!("staff:{staff_id}"),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(staff_id))
    }

    /// Revokes every refresh token of a staff member, and the join tokens issued to them so far
    /// (after a password change).
    pub async fn revoke_refresh_tokens_of(&self, staff_id: &StaffId) -> Result<()> {
        let mut tx = self.begin().await?;
        revoke_all(&mut tx, staff_id, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates the first administrator, only while there is no staff account at all.
    /// `first_run_setup` holds at most one row, so of two setups racing on PostgreSQL the
    /// second blocks on that insert and then fails; SQLite's one connection serialises them.
    pub async fn complete_setup(
        &self,
        username: String,
        display_name: String,
        password_hash: String,
    ) -> Result<Staff> {
        let already = || Error::Conflict("setup has already been completed".into());
        let mut tx = self.begin().await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM staff")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if count > 0 {
            return Err(already());
        }
        let new = NewStaff {
            organisation_id: None,
            username,
            display_name,
            role: StaffRole::Administrator,
            court: None,
            password_hash,
        };
        let staff = self.insert_staff(&mut tx, &Actor::System, new).await?;
        let marked =
            sqlx::query("INSERT INTO first_run_setup (id, staff_id, at) VALUES (1, $1, $2)")
                .bind(&staff.id)
                .bind(now_ms())
                .execute(&mut *tx)
                .await;
        match marked {
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Err(already()),
            other => other?,
        };
        self.audit(
            &mut tx,
            &Actor::Staff(staff.id.clone()),
            AuditAction::SetupCompleted,
            &format!("staff:{}", staff.id),
            json!({"username": staff.username}),
        )
        .await?;
        tx.commit().await?;
        Ok(staff)
    }
}

async fn insert_refresh_token(
    tx: &mut super::Tx,
    staff_id: &StaffId,
    token_hash: &str,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, staff_id, token_hash, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new_id::<String>("RT"))
    .bind(staff_id)
    .bind(token_hash)
    .bind(expires_at)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Ends every sign-in of a staff member: their refresh tokens, and the join tokens they were
/// given until now.
pub(super) async fn revoke_all(tx: &mut super::Tx, staff_id: &StaffId, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE staff_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(staff_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE staff SET tokens_valid_from = $1 WHERE id = $2")
        .bind(now)
        .bind(staff_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
