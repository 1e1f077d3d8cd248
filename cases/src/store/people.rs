//! Organisations and staff accounts.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::model::{Actor, Channel, NewOrganisation, NewStaff, Organisation, Staff, StaffRole};
use super::recording_model::DEFAULT_RETENTION_DAYS;
use super::vocabulary::AuditAction;
use super::{Store, Tx, new_id, now_ms};
use crate::error::{Error, Result};
use crate::ids::{OrganisationId, StaffId};

const ORGANISATION_COLUMNS: &str = "id, name, short_name, region, channel, court, created_at, \
     record_private_rooms, recording_retention_days";
/// [`ORGANISATION_COLUMNS`] as read: the boolean as an integer, because sqlx's `Any` driver
/// cannot decode SQLite's BOOLEAN and the cast reads the same on both databases.
const ORGANISATION_READ: &str = "id, name, short_name, region, channel, court, created_at, \
     CAST(CASE WHEN record_private_rooms THEN 1 ELSE 0 END AS BIGINT), recording_retention_days";
const STAFF_COLUMNS: &str = "id, organisation_id, username, display_name, role, court, password_hash, disabled_at, created_at, tokens_valid_from";

impl Store {
    /// Registers a mediation organisation.
    pub async fn create_organisation(
        &self,
        actor: &Actor,
        new: NewOrganisation,
    ) -> Result<Organisation> {
        let org = Organisation {
            id: new_id("OR"),
            name: new.name,
            short_name: new.short_name,
            region: new.region,
            channel: new.channel,
            court: new.court,
            created_at: now_ms(),
            // Caucus rooms are where a side speaks freely to the mediator: recording them is
            // a choice an administrator makes, never a default.
            record_private_rooms: false,
            recording_retention_days: Some(DEFAULT_RETENTION_DAYS),
        };
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO organisations ({ORGANISATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&org.id)
        .bind(&org.name)
        .bind(&org.short_name)
        .bind(&org.region)
        .bind(org.channel.as_str())
        .bind(&org.court)
        .bind(org.created_at)
        .bind(org.record_private_rooms)
        .bind(org.recording_retention_days.map(i64::from))
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::OrganisationCreated,
            &format!("organisation:{}", org.id),
            json!({"name": org.name, "region": org.region, "channel": org.channel}),
        )
        .await?;
        tx.commit().await?;
        Ok(org)
    }

    /// One organisation.
    pub async fn organisation(&self, id: &OrganisationId) -> Result<Organisation> {
        let row = self
            .one(
                &format!("SELECT {ORGANISATION_READ} FROM organisations WHERE id = $1"),
                id.as_str(),
                "no such organisation",
            )
            .await?;
        organisation_from_row(&row)
    }

    /// Every organisation, by name.
    pub async fn organisations(&self) -> Result<Vec<Organisation>> {
        let rows = sqlx::query(&format!(
            "SELECT {ORGANISATION_READ} FROM organisations ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(organisation_from_row).collect()
    }

    /// The organisation serving `region` (an online intake goes there), preferring people's
    /// mediation when several channels serve it.
    pub async fn organisation_for_region(&self, region: &str) -> Result<Option<Organisation>> {
        let all = self.organisations().await?;
        let mut serving: Vec<Organisation> =
            all.into_iter().filter(|o| o.region == region).collect();
        serving.sort_by_key(|o| o.channel != Channel::Peoples);
        Ok(serving.into_iter().next())
    }

    /// Creates a staff account; the username must be free.
    pub async fn create_staff(&self, actor: &Actor, new: NewStaff) -> Result<Staff> {
        let mut tx = self.begin().await?;
        let staff = self.insert_staff(&mut tx, actor, new).await?;
        tx.commit().await?;
        Ok(staff)
    }

    /// Inserts a staff account and its audit entry inside `tx`, for callers that make it
    /// part of a larger change (first-run setup).
    pub(super) async fn insert_staff(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        new: NewStaff,
    ) -> Result<Staff> {
        let staff = Staff {
            id: new_id("ST"),
            organisation_id: new.organisation_id,
            username: new.username,
            display_name: new.display_name,
            role: new.role,
            court: new.court,
            password_hash: new.password_hash,
            disabled_at: None,
            created_at: now_ms(),
            tokens_valid_from: 0,
        };
        let taken = sqlx::query("SELECT 1 FROM staff WHERE username = $1")
            .bind(&staff.username)
            .fetch_optional(&mut **tx)
            .await?;
        if taken.is_some() {
            return Err(Error::Conflict(format!(
                "the username `{}` is taken",
                staff.username
            )));
        }
        sqlx::query(&format!(
            "INSERT INTO staff ({STAFF_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&staff.id)
        .bind(&staff.organisation_id)
        .bind(&staff.username)
        .bind(&staff.display_name)
        .bind(staff.role.as_str())
        .bind(&staff.court)
        .bind(&staff.password_hash)
        .bind(staff.disabled_at)
        .bind(staff.created_at)
        .bind(staff.tokens_valid_from)
        .execute(&mut **tx)
        .await?;
        self.audit(
            tx,
            actor,
            AuditAction::StaffCreated,
            &format!("staff:{}", staff.id),
            json!({"username": staff.username, "role": staff.role, "organisation": staff.organisation_id}),
        )
        .await?;
        Ok(staff)
    }

    /// How many staff accounts exist (none: first-run setup is open).
    pub async fn staff_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM staff")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// A staff account by id.
    pub async fn staff(&self, id: &StaffId) -> Result<Staff> {
        let row = self
            .one(
                &format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1"),
                id.as_str(),
                "no such staff account",
            )
            .await?;
        staff_from_row(&row)
    }

    /// A staff account by login name.
    pub async fn staff_by_username(&self, username: &str) -> Result<Option<Staff>> {
        let row = sqlx::query(&format!(
            "SELECT {STAFF_COLUMNS} FROM staff WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(staff_from_row).transpose()
    }

    /// Staff accounts, of one organisation or all, by display name.
    pub async fn staff_list(&self, organisation_id: Option<&OrganisationId>) -> Result<Vec<Staff>> {
        let rows = match organisation_id {
            Some(org) => {
                sqlx::query(&format!(
                    "SELECT {STAFF_COLUMNS} FROM staff WHERE organisation_id = $1 \
                     ORDER BY display_name, id"
                ))
                .bind(org)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {STAFF_COLUMNS} FROM staff ORDER BY display_name, id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(staff_from_row).collect()
    }

    /// Switches an account off: it can no longer sign in, and its refresh tokens stop
    /// working. Disabling twice keeps the first time.
    pub async fn disable_staff(&self, actor: &Actor, id: &StaffId) -> Result<Staff> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let changed =
            sqlx::query("UPDATE staff SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed == 1 {
            super::staff_auth::revoke_all(&mut tx, id, now).await?;
            self.audit(
                &mut tx,
                actor,
                AuditAction::StaffDisabled,
                &format!("staff:{id}"),
                json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        self.staff(id).await
    }

    /// Replaces a password hash.
    pub async fn set_password_hash(&self, actor: &Actor, id: &StaffId, hash: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE staff SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if changed.rows_affected() == 0 {
            return Err(Error::NotFound("no such staff account"));
        }
        self.audit(
            &mut tx,
            actor,
            AuditAction::StaffPasswordChanged,
            &format!("staff:{id}"),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn organisation_from_row(row: &AnyRow) -> Result<Organisation> {
    Ok(Organisation {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        short_name: row.try_get(2)?,
        region: row.try_get(3)?,
        channel: Channel::parse(&row.try_get::<String, _>(4)?)?,
        court: row.try_get(5)?,
        created_at: row.try_get(6)?,
        record_private_rooms: row.try_get::<i64, _>(7)? != 0,
        recording_retention_days: row
            .try_get::<Option<i64>, _>(8)?
            .map(|days| {
                u32::try_from(days).map_err(|_| {
                    Error::Internal(format!("retention of {days} days in the database"))
                })
            })
            .transpose()?,
    })
}

fn staff_from_row(row: &AnyRow) -> Result<Staff> {
    Ok(Staff {
        id: row.try_get(0)?,
        organisation_id: row.try_get(1)?,
        username: row.try_get(2)?,
        display_name: row.try_get(3)?,
        role: StaffRole::parse(&row.try_get::<String, _>(4)?)?,
        court: row.try_get(5)?,
        password_hash: row.try_get(6)?,
        disabled_at: row.try_get(7)?,
        created_at: row.try_get(8)?,
        tokens_valid_from: row.try_get(9)?,
    })
}
