//! Cases: numbering, registering, listing, their life cycle and assignment, and the
//! idempotency keys that make retried creates safe.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::model::{
    Actor, Case, CaseFilter, CaseStatus, Category, Channel, NewCase, NewParty, Organisation, Page,
    Risk,
};
use super::vocabulary::AuditAction;
use super::{Store, Tx, new_id, now_ms};
use crate::error::{Error, Result};
use crate::ids::{CaseId, StaffId};

/// An idempotency key as one create uses it: its scope (whose creates of what), the key, and
/// the SHA-256 of what the create asked for, which the key is bound to.
#[derive(Clone, Copy, Debug)]
pub(super) struct KeyUse<'a> {
    pub(super) scope: &'a str,
    pub(super) key: &'a str,
    pub(super) request_sha256: &'a str,
}

impl<'a> KeyUse<'a> {
    /// The use of `key`, if the client sent one.
    pub(super) fn of(
        scope: &'a str,
        key: Option<&'a str>,
        request_sha256: &'a str,
    ) -> Option<Self> {
        key.map(|key| Self {
            scope,
            key,
            request_sha256,
        })
    }
}

/// The SHA-256 (hex) of a create's request as the store received it (its fields, and files by
/// their hashes), so that a retry matches however the client encoded it.
pub(super) fn request_sha256(request: &impl serde::Serialize) -> Result<String> {
    use sha2::Digest;
    let bytes = serde_json::to_vec(request)
        .map_err(|e| Error::Internal(format!("hashing a request: {e}")))?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

const CASE_COLUMNS: &str = "id, number, organisation_id, mediator_id, category, channel, region, \
     risk, status, title, facts, claims, tracking_code, court, created_at, updated_at";

/// China Standard Time: case numbers carry the year as the mediation centre sees it.
const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;

/// A value for a query built at run time.
enum Param {
    Text(String),
    Int(i64),
}
impl Store {
    /// Creates a case with the next number of its organisation for this year. With an
    /// idempotency key, a retry of the same create (same actor and key) returns the case the
    /// first attempt made instead of a second one.
    pub async fn create_case(
        &self,
        actor: &Actor,
        new: NewCase,
        idempotency_key: Option<&str>,
    ) -> Result<Case> {
        Ok(self
            .register_case(actor, new, Vec::new(), idempotency_key)
            .await?
            .0)
    }

    /// Creates a case and its parties in one transaction, as [`Store::create_case`] does;
    /// the flag says whether this call created it (false: a retry found the first one).
    /// Parties here are principals: representatives and helpers are added once the party
    /// they act for has an id.
    pub async fn register_case(
        &self,
        actor: &Actor,
        new: NewCase,
        parties: Vec<NewParty>,
        idempotency_key: Option<&str>,
    ) -> Result<(Case, bool)> {
        let scope = format!("{}:case.create", actor.label());
        let hash = request_sha256(&(&new, &parties))?;
        let key_use = KeyUse::of(&scope, idempotency_key, &hash);
        if let Some(existing) = self.earlier(key_use).await? {
            return Ok((self.case(&CaseId::from(existing)).await?, false));
        }
        if parties.iter().any(|p| p.represents.is_some()) {
            return Err(Error::Conflict(
                "add people who act for a party after the case exists".into(),
            ));
        }
        let org = self.organisation(&new.organisation_id).await?;
        let attempt = async {
            let mut tx = self.begin().await?;
            let case = self
                .insert_case_in(&mut tx, actor, &org, new, key_use)
                .await?;
            for party in parties {
                self.insert_party_in(&mut tx, actor, &case.id, party.side, party)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, Error>(case)
        };
        match attempt.await {
            Ok(case) => Ok((case, true)),
            // Two attempts raced; the other one stored the key first.
            Err(Error::Conflict(_)) if key_use.is_some() => {
                let existing = self.race_winner(key_use).await?;
                Ok((self.case(&CaseId::from(existing)).await?, false))
            }
            Err(other) => Err(other),
        }
    }

    /// After an insert with an idempotency key hit a conflict: the record a concurrent
    /// attempt with the same key stored, or the conflict itself if it was something else.
    pub(super) async fn race_winner(&self, key_use: Option<KeyUse<'_>>) -> Result<String> {
        self.earlier(key_use)
            .await?
            .ok_or_else(|| Error::Conflict("the record could not be stored; try again".into()))
    }

    /// The record an earlier create with the same key made, if a key was sent and made one.
    pub(super) async fn earlier(&self, key_use: Option<KeyUse<'_>>) -> Result<Option<String>> {
        match key_use {
            Some(key_use) => self.idempotent(key_use).await,
            None => Ok(None),
        }
    }

    /// Remembers inside `tx` that `key` made `resource_id`.
    pub(super) async fn remember_key(
        &self,
        tx: &mut Tx,
        key_use: KeyUse<'_>,
        resource_id: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, resource_id, created_at, request_sha256) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key_use.scope)
        .bind(key_use.key)
        .bind(resource_id)
        .bind(now_ms())
        .bind(key_use.request_sha256)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The record `key_use`'s key made in its scope, if it made one; refused when the key
    /// was first used for a different request.
    pub(super) async fn idempotent(&self, key_use: KeyUse<'_>) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT resource_id, request_sha256 FROM idempotency_keys \
             WHERE scope = $1 AND key = $2",
        )
        .bind(key_use.scope)
        .bind(key_use.key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let bound: Option<String> = row.try_get(1)?;
        if bound.is_some_and(|hash| hash != key_use.request_sha256) {
            return Err(Error::IdempotencyKeyReused);
        }
        Ok(Some(row.try_get(0)?))
    }

    /// Inserts a case of `org` inside `tx`, with its idempotency record and audit entry.
    pub(super) async fn insert_case_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        org: &Organisation,
        new: NewCase,
        idempotency: Option<KeyUse<'_>>,
    ) -> Result<Case> {
        let now = now_ms();
        let year = cst_year(now);
        let counter = sqlx::query(
            "INSERT INTO case_counters (organisation_id, year, last) VALUES ($1, $2, 1) \
             ON CONFLICT (organisation_id, year) DO UPDATE SET last = case_counters.last + 1 \
             RETURNING last",
        )
        .bind(&org.id)
        .bind(year)
        .fetch_one(&mut **tx)
        .await?;
        let sequence: i64 = counter.try_get(0)?;
        let case = Case {
            id: new_id("CA"),
            number: format!("{year}-{}-{sequence:06}", org.short_name),
            organisation_id: org.id.clone(),
            mediator_id: None,
            category: new.category,
            channel: org.channel,
            region: new.region,
            risk: new.risk,
            status: new.status,
            title: new.title,
            facts: new.facts,
            claims: new.claims,
            tracking_code: new.tracking_code,
            court: None,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(&format!(
            "INSERT INTO cases ({CASE_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(&case.id)
        .bind(&case.number)
        .bind(&case.organisation_id)
        .bind(&case.mediator_id)
        .bind(case.category.as_str())
        .bind(case.channel.as_str())
        .bind(&case.region)
        .bind(case.risk.as_str())
        .bind(case.status.as_str())
        .bind(&case.title)
        .bind(&case.facts)
        .bind(&case.claims)
        .bind(&case.tracking_code)
        .bind(&case.court)
        .bind(case.created_at)
        .bind(case.updated_at)
        .execute(&mut **tx)
        .await?;
        if let Some(idempotency) = idempotency {
            self.remember_key(tx, idempotency, case.id.as_str()).await?;
        }
        self.audit(
            tx,
            actor,
            AuditAction::CaseCreated,
            &subject(&case.id),
            json!({"number": case.number, "status": case.status, "category": case.category}),
        )
        .await?;
        Ok(case)
    }

    /// One case.
    pub async fn case(&self, id: &CaseId) -> Result<Case> {
        let row = self
            .one(
                &format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"),
                id.as_str(),
                "no such case",
            )
            .await?;
        case_from_row(&row)
    }

    /// The case an applicant follows with their tracking code.
    pub async fn case_by_tracking_code(&self, code: &str) -> Result<Case> {
        let row = self
            .one(
                &format!("SELECT {CASE_COLUMNS} FROM cases WHERE tracking_code = $1"),
                code,
                "no case has this tracking code",
            )
            .await?;
        case_from_row(&row)
    }

    /// Cases matching `filter`, newest first, one page at a time.
    pub async fn cases(&self, filter: &CaseFilter) -> Result<Page<Case>> {
        let mut clauses: Vec<String> = Vec::new();
        let mut params: Vec<Param> = Vec::new();
        let mut param = |p: Param| {
            params.push(p);
            format!("${}", params.len())
        };
        if let Some(org) = &filter.organisation_id {
            clauses.push(format!(
                "organisation_id = {}",
                param(Param::Text(org.to_string()))
            ));
        }
        if let Some(court) = &filter.court {
            clauses.push(format!("court = {}", param(Param::Text(court.clone()))));
        }
        if let Some(status) = filter.status {
            clauses.push(format!(
                "status = {}",
                param(Param::Text(status.as_str().into()))
            ));
        }
        if let Some(category) = filter.category {
            clauses.push(format!(
                "category = {}",
                param(Param::Text(category.as_str().into()))
            ));
        }
        if let Some(from) = filter.created_from {
            clauses.push(format!("created_at >= {}", param(Param::Int(from))));
        }
        if let Some(to) = filter.created_to {
            clauses.push(format!("created_at < {}", param(Param::Int(to))));
        }
        if let Some(search) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let pattern = format!("%{}%", escape_like(search));
            let p = param(Param::Text(pattern));
            clauses.push(format!(
                "(number LIKE {p} ESCAPE '\\' OR EXISTS (SELECT 1 FROM parties \
                 WHERE parties.case_id = cases.id AND parties.name LIKE {p} ESCAPE '\\'))"
            ));
        }
        if let Some(after) = &filter.after {
            // Cases registered in the same millisecond are told apart by number, which an
            // organisation hands out in order: newest first holds within a millisecond too.
            let (at, number) = parse_cursor(after)?;
            let (a, b) = (param(Param::Int(at)), param(Param::Text(number)));
            clauses.push(format!(
                "(created_at < {a} OR (created_at = {a} AND number < {b}))"
            ));
        }
        let limit = filter.limit.clamp(1, 100);
        let wanted = param(Param::Int(i64::from(limit) + 1));
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases {filter_sql} ORDER BY created_at DESC, number DESC LIMIT {wanted}"
        );
        let mut query = sqlx::query(&sql);
        for p in params {
            query = match p {
                Param::Text(s) => query.bind(s),
                Param::Int(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut items = rows.iter().map(case_from_row).collect::<Result<Vec<_>>>()?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|c| format!("{}:{}", c.created_at, c.number))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Moves a case to `to`, if its life cycle allows that step from where it is.
    pub async fn transition_case(
        &self,
        actor: &Actor,
        id: &CaseId,
        to: CaseStatus,
    ) -> Result<Case> {
        let mut tx = self.begin().await?;
        let from = self.locked_status(&mut tx, id).await?;
        if !from.may_become(to) {
            return Err(Error::Conflict(format!(
                "a case that is `{}` cannot become `{}`",
                from.as_str(),
                to.as_str()
            )));
        }
        // Once the parties applied in Accord, the request moves the case through these steps
        // (the court decides in its inbox or through its system): a step by hand would leave
        // a case confirmed with no ruling behind it. By hand they record a paper application.
        if matches!(
            to,
            CaseStatus::ConfirmationRequested | CaseStatus::Confirmed | CaseStatus::Rejected
        ) && sqlx::query("SELECT 1 FROM confirmation_requests WHERE case_id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            return Err(Error::Conflict(
                "the parties applied for judicial confirmation in Accord; the court decides it in its inbox"
                    .into(),
            ));
        }
        // A confirmation request goes to the court of the case's organisation; from then on
        // that court's users see the case.
        let court = if to == CaseStatus::ConfirmationRequested {
            let row = sqlx::query(
                "SELECT organisations.court FROM cases \
                 JOIN organisations ON organisations.id = cases.organisation_id \
                 WHERE cases.id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let court: Option<String> = row.try_get(0)?;
            Some(court.ok_or_else(|| {
                Error::Conflict(
                    "the organisation has no court to send confirmation requests to".into(),
                )
            })?)
        } else {
            None
        };
        sqlx::query(
            "UPDATE cases SET status = $1, updated_at = $2, court = COALESCE($3, court) \
             WHERE id = $4",
        )
        .bind(to.as_str())
        .bind(now_ms())
        .bind(&court)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::CaseStatusChanged,
            &subject(id),
            json!({"from": from, "to": to, "court": court}),
        )
        .await?;
        tx.commit().await?;
        self.case(id).await
    }

    /// Gives an accepted case to a mediator (分派), which moves it to `assigned`.
    pub async fn assign_case(
        &self,
        actor: &Actor,
        id: &CaseId,
        mediator_id: &StaffId,
    ) -> Result<Case> {
        let mut tx = self.begin().await?;
        let from = self.locked_status(&mut tx, id).await?;
        if !matches!(from, CaseStatus::Accepted | CaseStatus::Assigned) {
            return Err(Error::Conflict(format!(
                "a case that is `{}` cannot be assigned",
                from.as_str()
            )));
        }
        sqlx::query(
            "UPDATE cases SET mediator_id = $1, status = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(mediator_id)
        .bind(CaseStatus::Assigned.as_str())
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::CaseAssigned,
            &subject(id),
            json!({"mediator": mediator_id, "from": from}),
        )
        .await?;
        tx.commit().await?;
        self.case(id).await
    }

    pub(super) async fn locked_status(&self, tx: &mut Tx, id: &CaseId) -> Result<CaseStatus> {
        let row = sqlx::query(&format!(
            "SELECT status FROM cases WHERE id = $1{}",
            self.backend.lock_row()
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::NotFound("no such case"))?;
        CaseStatus::parse(&row.try_get::<String, _>(0)?)
    }
}

/// The audit subject of a case.
pub(super) fn subject(case_id: &CaseId) -> String {
    format!("case:{case_id}")
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn parse_cursor(cursor: &str) -> Result<(i64, String)> {
    let bad = || Error::BadRequest("the `after` cursor is not one this server gave out".into());
    let (at, id) = cursor.split_once(':').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_owned()))
}

/// The calendar year in China Standard Time of a Unix-millisecond time.
fn cst_year(ms: i64) -> i64 {
    china_time(ms).year
}

/// A moment as a clock in China shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChinaTime {
    /// e.g. 2026.
    pub year: i64,
    /// 1–12.
    pub month: i64,
    /// 1–31.
    pub day: i64,
    /// 0–23.
    pub hour: i64,
    /// 0–59.
    pub minute: i64,
}

/// Unix milliseconds as China Standard Time (UTC+8, no daylight saving).
pub fn china_time(ms: i64) -> ChinaTime {
    let local = ms + CST_OFFSET_MS;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let days = local.div_euclid(86_400_000);
    let minutes_of_day = local.rem_euclid(86_400_000) / 60_000;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    ChinaTime {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        hour: minutes_of_day / 60,
        minute: minutes_of_day % 60,
    }
}

fn case_from_row(row: &AnyRow) -> Result<Case> {
    Ok(Case {
        id: row.try_get(0)?,
        number: row.try_get(1)?,
        organisation_id: row.try_get(2)?,
        mediator_id: row.try_get(3)?,
        category: Category::parse(&row.try_get::<String, _>(4)?)?,
        channel: Channel::parse(&row.try_get::<String, _>(5)?)?,
        region: row.try_get(6)?,
        risk: Risk::parse(&row.try_get::<String, _>(7)?)?,
        status: CaseStatus::parse(&row.try_get::<String, _>(8)?)?,
        title: row.try_get(9)?,
        facts: row.try_get(10)?,
        claims: row.try_get(11)?,
        tracking_code: row.try_get(12)?,
        court: row.try_get(13)?,
        created_at: row.try_get(14)?,
        updated_at: row.try_get(15)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_time_reads_the_clock_in_beijing() {
        // 2026-11-23T06:30:00Z is 14:30 in Beijing.
        let t = china_time(1_795_415_400_000);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute),
            (2026, 11, 23, 14, 30)
        );
        // 2026-12-31T16:00:00Z is already New Year's Day there.
        let t = china_time(1_798_732_800_000);
        assert_eq!((t.year, t.month, t.day, t.hour), (2027, 1, 1, 0));
    }

    #[test]
    fn case_numbers_take_the_year_in_china() {
        // 2025-12-31T17:00:00Z is already 2026-01-01 01:00 in Beijing.
        assert_eq!(cst_year(1_767_200_400_000), 2026);
        assert_eq!(cst_year(1_767_196_799_000), 2025);
        assert_eq!(cst_year(0), 1970);
    }

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(escape_like("50%_a\\"), "50\\%\\_a\\\\");
    }
}
