//! The people of a case: parties, and the representatives, interpreters and experts who act
//! for them. ID numbers are sealed on the way in and only ever come out masked. Phones are
//! sealed too, and opened when read: invites are sent to them, and the case's mediator calls
//! them; the API masks them for everyone else.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::cases::subject;
use super::keys::{mask_id_number, mask_phone};
use super::model::{Actor, Evidence, NewParty, Party, PartyKind, Side};
use super::vocabulary::AuditAction;
use super::{Store, Tx, new_id, now_ms};
use crate::error::{Error, Result};
use crate::ids::{CaseId, PartyId};

const PARTY_COLUMNS: &str = "id, case_id, side, kind, name, phone_sealed, id_number_masked, \
     represents, attorney_letter, created_at";

impl Store {
    /// Adds a party (or a representative, interpreter or expert of one) to a case. The ID
    /// number is sealed with the PII key; only its masked form is ever returned.
    pub async fn add_party(&self, actor: &Actor, case_id: &CaseId, new: NewParty) -> Result<Party> {
        let mut side = new.side;
        if let Some(principal) = &new.represents {
            let row = sqlx::query("SELECT side FROM parties WHERE id = $1 AND case_id = $2")
                .bind(principal)
                .bind(case_id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(Error::NotFound(
                    "the party they act for is not in this case",
                ))?;
            // Someone acting for a party is on that party's side, whatever was sent.
            side = Side::parse(&row.try_get::<String, _>(0)?)?;
        } else if new.kind == PartyKind::Representative {
            return Err(Error::Conflict(
                "a representative must act for a party of the case".into(),
            ));
        }
        let mut tx = self.begin().await?;
        self.locked_status(&mut tx, case_id).await?;
        let party = self
            .insert_party_in(&mut tx, actor, case_id, side, new)
            .await?;
        tx.commit().await?;
        Ok(party)
    }

    /// Inserts a party on `side` inside `tx`, sealing the ID number, with its audit entry.
    pub(super) async fn insert_party_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        case_id: &CaseId,
        side: Side,
        new: NewParty,
    ) -> Result<Party> {
        let helper = matches!(
            new.kind,
            PartyKind::Representative | PartyKind::Interpreter | PartyKind::Expert
        );
        let sealed = new
            .id_number
            .as_deref()
            .map(|n| self.keys.seal(n))
            .transpose()?;
        let phone_sealed = new
            .phone
            .as_deref()
            .map(|p| self.keys.seal(p))
            .transpose()?;
        let party = Party {
            id: new_id("PT"),
            case_id: case_id.clone(),
            side,
            kind: new.kind,
            name: new.name,
            phone: new.phone,
            id_number_masked: new.id_number.as_deref().map(mask_id_number),
            represents: new.represents,
            attorney_letter: new.attorney_letter,
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO parties (id, case_id, side, kind, name, phone_sealed, phone_masked, \
             id_number_sealed, id_number_masked, represents, attorney_letter, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&party.id)
        .bind(&party.case_id)
        .bind(party.side.as_str())
        .bind(party.kind.as_str())
        .bind(&party.name)
        .bind(phone_sealed)
        .bind(party.phone.as_deref().map(mask_phone))
        .bind(sealed)
        .bind(&party.id_number_masked)
        .bind(&party.represents)
        .bind(&party.attorney_letter)
        .bind(party.created_at)
        .execute(&mut **tx)
        .await?;
        self.audit(
            tx,
            actor,
            AuditAction::PartyAdded,
            &subject(case_id),
            json!({"party": party.id, "side": party.side, "kind": party.kind, "helper": helper}),
        )
        .await?;
        Ok(party)
    }

    /// A case's parties, applicants first, in the order they were added.
    pub async fn parties(&self, case_id: &CaseId) -> Result<Vec<Party>> {
        let rows = sqlx::query(&format!(
            "SELECT {PARTY_COLUMNS} FROM parties WHERE case_id = $1 ORDER BY created_at, id"
        ))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        let mut parties = rows
            .iter()
            .map(|row| self.party_from_row(row))
            .collect::<Result<Vec<_>>>()?;
        parties.sort_by_key(|p| p.side != Side::Applicant);
        Ok(parties)
    }

    /// One party.
    pub async fn party(&self, id: &PartyId) -> Result<Party> {
        let row = self
            .one(
                &format!("SELECT {PARTY_COLUMNS} FROM parties WHERE id = $1"),
                id.as_str(),
                "no such party",
            )
            .await?;
        self.party_from_row(&row)
    }

    /// Records a representative's power of attorney: the file as evidence of the case, and
    /// its hash on the representative, in one transaction.
    pub async fn attach_attorney_letter(
        &self,
        actor: &Actor,
        party_id: &PartyId,
        letter: Evidence,
    ) -> Result<Party> {
        let mut tx = self.begin().await?;
        self.locked_status(&mut tx, &letter.case_id).await?;
        self.insert_evidence_in(&mut tx, actor, &letter).await?;
        sqlx::query("UPDATE parties SET attorney_letter = $1 WHERE id = $2 AND case_id = $3")
            .bind(&letter.sha256)
            .bind(party_id)
            .bind(&letter.case_id)
            .execute(&mut *tx)
            .await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::PartyAttorneyLetter,
            &subject(&letter.case_id),
            json!({"party": party_id, "evidence": letter.id, "sha256": letter.sha256}),
        )
        .await?;
        tx.commit().await?;
        self.party(party_id).await
    }

    /// A party's ID number in clear, for the confirmation package; every reading is audited.
    pub async fn reveal_id_number(
        &self,
        actor: &Actor,
        party_id: &PartyId,
    ) -> Result<Option<String>> {
        let row = self
            .one(
                "SELECT case_id, id_number_sealed FROM parties WHERE id = $1",
                party_id.as_str(),
                "no such party",
            )
            .await?;
        let case_id: CaseId = row.try_get(0)?;
        let sealed: Option<Vec<u8>> = row.try_get(1)?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let clear = self.keys.open(&sealed)?;
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::PartyIdNumberRead,
            &subject(&case_id),
            json!({"party": party_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(clear))
    }

    /// Seals the phones an older version stored in clear (the migration that added the
    /// sealed column cannot: the key is not in the database), and empties the clear column.
    /// Returns how many were sealed.
    pub(super) async fn seal_clear_phones(&self) -> Result<usize> {
        let rows = sqlx::query("SELECT id, phone FROM parties WHERE phone IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        if self.backend == super::Backend::Sqlite {
            // Overwrite the freed clear values instead of leaving them in free pages.
            sqlx::query("PRAGMA secure_delete = ON")
                .execute(&mut *tx)
                .await?;
        }
        for row in &rows {
            let id: String = row.try_get(0)?;
            let phone: String = row.try_get(1)?;
            sqlx::query(
                "UPDATE parties SET phone_sealed = $1, phone_masked = $2, phone = NULL \
                 WHERE id = $3",
            )
            .bind(self.keys.seal(&phone)?)
            .bind(mask_phone(&phone))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        }
        self.audit(
            &mut tx,
            &Actor::System,
            AuditAction::StorePhonesSealed,
            "store",
            json!({"parties": rows.len()}),
        )
        .await?;
        tx.commit().await?;
        if self.backend == super::Backend::Sqlite {
            // Out of the WAL too: its frames still hold the pages as they were.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(rows.len())
    }

    fn party_from_row(&self, row: &AnyRow) -> Result<Party> {
        let phone: Option<Vec<u8>> = row.try_get(5)?;
        Ok(Party {
            id: row.try_get(0)?,
            case_id: row.try_get(1)?,
            side: Side::parse(&row.try_get::<String, _>(2)?)?,
            kind: PartyKind::parse(&row.try_get::<String, _>(3)?)?,
            name: row.try_get(4)?,
            phone: phone.map(|sealed| self.keys.open(&sealed)).transpose()?,
            id_number_masked: row.try_get(6)?,
            represents: row.try_get(7)?,
            attorney_letter: row.try_get(8)?,
            created_at: row.try_get(9)?,
        })
    }
}
