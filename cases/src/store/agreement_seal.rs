//! The organisation's seal (盖章): once every required party and the mediator have signed,
//! the organisation's Ed25519 key signs a statement of which text, whose signatures and from
//! when; the platform key countersigns the same bytes; the agreement is then in force and
//! the case `signed`. Anyone holding the text's hash can ask whether it is genuine.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::agreement_signing_model::{
    IdentityMethod, IdentityView, PublicSigner, PublicStatus, SealKey, SealOutcome, SealView,
    SignatureRecord, SignerRole, SignerStatus,
};
use super::cases::subject;
use super::model::{Actor, CaseStatus, Side};
use super::vocabulary::AuditAction;
use super::{Store, Tx, new_id};
use crate::agreements::Rule;
use crate::agreements::signing::{self, SealStatement, StatementSignature};
use crate::error::{Error, Result};
use crate::ids::{AgreementId, CaseId, OrganisationId, StaffId};

const SEAL_COLUMNS: &str = "key_id, sealed_at, platform_key_id, version, seal_signature, \
     platform_signature, statement, pdf_sha256";

impl Store {
    /// Seals the current final version: refuses with [`Rule::SignaturesMissing`] unless every
    /// required party (or their representative) and the mediator signed it. Makes the
    /// organisation's seal key on first use. `platform_sign` countersigns the statement and
    /// returns (platform key id, signature base64).
    pub async fn seal<F>(
        &self,
        by: &StaffId,
        agreement_id: &AgreementId,
        platform_sign: F,
        now: i64,
    ) -> Result<SealOutcome>
    where
        F: FnOnce(&[u8]) -> Result<(String, String)>,
    {
        let ctx = self.signing_ctx(agreement_id).await?;
        if ctx.personal_status {
            return Err(Error::Rule(Rule::NotESignable));
        }
        ctx.require_final()?;
        let required = self
            .signers(agreement_id)
            .await?
            .into_iter()
            .filter(|s| s.required);
        let mut all_signed = ctx.case.mediator_id.is_some();
        for signer in required {
            all_signed &= signer.status == SignerStatus::Signed;
        }
        if !all_signed {
            return Err(Error::Rule(Rule::SignaturesMissing));
        }
        let signatures = sqlx::query(
            "SELECT signer_id, signature, at FROM agreement_signatures \
             WHERE agreement_id = $1 AND version = $2 AND status = $3 ORDER BY at, id",
        )
        .bind(agreement_id)
        .bind(ctx.version)
        .bind(SignerStatus::Signed.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(StatementSignature {
                signer: row.try_get(0)?,
                signature_sha256: signing::signature_sha256(
                    &row.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                ),
                signed_at: row.try_get(2)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let organisation = ctx.case.organisation_id.clone();
        let existing = self.active_seal_key(&organisation).await?;
        let (key_id, secret, fresh) = match existing {
            Some((id, secret)) => (id, secret, None),
            None => {
                let (secret, public) = signing::new_seal_key();
                let id: String = new_id("SK");
                (id, secret, Some(public))
            }
        };
        let text_sha256 = ctx.text_sha256.clone().unwrap_or_default();
        let statement = SealStatement {
            agreement: agreement_id.clone(),
            case: ctx.case.id.clone(),
            version: ctx.version,
            text_sha256: text_sha256.clone(),
            signatures,
            effective_at: now,
            organisation: organisation.clone(),
            key_id: key_id.clone(),
        };
        let bytes = statement.bytes();
        let seal_signature = signing::seal_sign(&secret, &bytes)?;
        let (platform_key_id, platform_signature) = platform_sign(&bytes)?;
        let statement = String::from_utf8(bytes)
            .map_err(|_| Error::Internal("a seal statement is not text".into()))?;
        let actor = Actor::Staff(by.clone());
        let mut tx = self.begin().await?;
        self.relock(&mut tx, &ctx, Rule::VersionOutdated).await?;
        if let Some(public) = fresh {
            self.insert_seal_key(
                &mut tx,
                &actor,
                &organisation,
                &key_id,
                &secret,
                &public,
                now,
            )
            .await?;
        }
        sqlx::query(
            "INSERT INTO agreement_seals (agreement_id, version, key_id, seal_signature, \
             platform_key_id, platform_signature, statement, sealed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(agreement_id)
        .bind(ctx.version)
        .bind(&key_id)
        .bind(&seal_signature)
        .bind(&platform_key_id)
        .bind(&platform_signature)
        .bind(&statement)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE agreements SET status = 'in_force', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(agreement_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE agreement_versions SET status = 'in_force' \
             WHERE agreement_id = $1 AND version = $2",
        )
        .bind(agreement_id)
        .bind(ctx.version)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            &actor,
            AuditAction::AgreementSealed,
            &subject(&ctx.case.id),
            json!({"agreement": agreement_id, "version": ctx.version,
                   "text_sha256": text_sha256, "key": key_id,
                   "platform_key": platform_key_id}),
        )
        .await?;
        self.case_to_signed(&mut tx, &actor, &ctx.case.id, now)
            .await?;
        tx.commit().await?;
        Ok(SealOutcome {
            case_id: ctx.case.id,
            version: ctx.version,
            text_sha256,
            key_id,
            statement,
            seal_signature,
            platform_key_id,
            platform_signature,
            effective_at: now,
        })
    }

    /// Moves the case to `signed` along its life cycle (a case still in mediation passes
    /// `agreement_reached` on the way), one audited step at a time as `transition_case` does.
    async fn case_to_signed(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: &CaseId,
        now: i64,
    ) -> Result<()> {
        let mut from = self.locked_status(tx, id).await?;
        for to in [
            CaseStatus::InMediation,
            CaseStatus::AgreementReached,
            CaseStatus::Signed,
        ] {
            if from == to || !from.may_become(to) {
                continue;
            }
            sqlx::query("UPDATE cases SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(to.as_str())
                .bind(now)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            self.audit(
                tx,
                actor,
                AuditAction::CaseStatusChanged,
                &subject(id),
                json!({"from": from, "to": to, "court": null}),
            )
            .await?;
            from = to;
        }
        if from != CaseStatus::Signed {
            return Err(Error::Conflict(format!(
                "a case that is `{}` cannot become `signed`",
                from.as_str()
            )));
        }
        Ok(())
    }

    async fn active_seal_key(&self, org: &OrganisationId) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT id, secret_sealed FROM organisation_seal_keys \
             WHERE organisation_id = $1 AND retired_at IS NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(org)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => {
                let sealed: Vec<u8> = row.try_get(1)?;
                Ok(Some((row.try_get(0)?, self.keys.open(&sealed)?)))
            }
            None => Ok(None),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_seal_key(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        org: &OrganisationId,
        id: &str,
        secret: &str,
        public: &str,
        now: i64,
    ) -> Result<Vec<String>> {
        let retired: Vec<String> = sqlx::query(
            "UPDATE organisation_seal_keys SET retired_at = $1 \
             WHERE organisation_id = $2 AND retired_at IS NULL RETURNING id",
        )
        .bind(now)
        .bind(org)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
        sqlx::query(
            "INSERT INTO organisation_seal_keys (id, organisation_id, secret_sealed, public_key, \
             created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(org)
        .bind(self.keys.seal(secret)?)
        .bind(public)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        self.audit(
            tx,
            actor,
            AuditAction::SealKeyRotated,
            &format!("organisation:{org}"),
            json!({"key": id, "public_key": public, "retired": retired}),
        )
        .await?;
        Ok(retired)
    }

    /// Replaces an organisation's seal key. The old one is retired, not deleted: seals made
    /// with it still verify against the published list.
    pub async fn rotate_seal_key(&self, by: &StaffId, org: &OrganisationId) -> Result<SealKey> {
        self.organisation(org).await?;
        let (secret, public) = signing::new_seal_key();
        let id: String = new_id("SK");
        let now = super::now_ms();
        let mut tx = self.begin().await?;
        self.insert_seal_key(
            &mut tx,
            &Actor::Staff(by.clone()),
            org,
            &id,
            &secret,
            &public,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(SealKey {
            id,
            organisation_id: org.clone(),
            public_key: public,
            created_at: now,
            retired_at: None,
        })
    }

    /// An organisation's seal keys, newest first, retired ones included.
    pub async fn seal_public_keys(&self, org: &OrganisationId) -> Result<Vec<SealKey>> {
        sqlx::query(
            "SELECT id, organisation_id, public_key, created_at, retired_at \
             FROM organisation_seal_keys WHERE organisation_id = $1 \
             ORDER BY created_at DESC, id DESC",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(SealKey {
                id: row.try_get(0)?,
                organisation_id: row.try_get(1)?,
                public_key: row.try_get(2)?,
                created_at: row.try_get(3)?,
                retired_at: row.try_get(4)?,
            })
        })
        .collect()
    }

    /// The agreement's seal, once it is in force.
    pub async fn seal_of(&self, agreement_id: &AgreementId) -> Result<Option<SealView>> {
        sqlx::query(&format!(
            "SELECT {SEAL_COLUMNS} FROM agreement_seals WHERE agreement_id = $1 \
             ORDER BY version DESC LIMIT 1"
        ))
        .bind(agreement_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| seal_from_row(&row))
        .transpose()
    }

    /// Keeps the hash of the sealed version's PDF (made after the seal, from what it
    /// recorded; nothing new is decided, so no audit entry).
    pub async fn set_seal_pdf(
        &self,
        agreement_id: &AgreementId,
        version: i64,
        pdf_sha256: &str,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE agreement_seals SET pdf_sha256 = $1 WHERE agreement_id = $2 AND version = $3",
        )
        .bind(pdf_sha256)
        .bind(agreement_id)
        .bind(version)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(
                "this version of the agreement is not sealed",
            ));
        }
        Ok(())
    }

    /// What the public may learn of the version whose canonical text hashes to
    /// `text_sha256`; `None` when no version of ours has that hash.
    pub async fn public_status(&self, text_sha256: &str) -> Result<Option<PublicStatus>> {
        let well_formed = text_sha256.len() == 64
            && text_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !well_formed {
            return Ok(None);
        }
        let Some(row) = sqlx::query(
            "SELECT v.agreement_id, v.version, v.status, o.name FROM agreement_versions v \
             JOIN agreements a ON a.id = v.agreement_id \
             JOIN cases c ON c.id = a.case_id \
             JOIN organisations o ON o.id = c.organisation_id \
             WHERE v.text_sha256 = $1 ORDER BY v.finalised_at DESC LIMIT 1",
        )
        .bind(text_sha256)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let agreement_id: AgreementId = row.try_get(0)?;
        let version: i64 = row.try_get(1)?;
        let effective_at = sqlx::query(
            "SELECT sealed_at FROM agreement_seals WHERE agreement_id = $1 AND version = $2",
        )
        .bind(&agreement_id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get::<i64, _>(0))
        .transpose()?;
        let signers = self
            .signature_records(&agreement_id, version)
            .await?
            .into_iter()
            .filter(|r| r.status == SignerStatus::Signed)
            .map(|r| PublicSigner {
                name_masked: signing::mask_name(&r.name),
                role: r.role,
                signed_at: r.at,
            })
            .collect();
        Ok(Some(PublicStatus {
            agreement_id,
            genuine: true,
            status: row.try_get(2)?,
            effective_at,
            organisation: row.try_get(3)?,
            signers,
        }))
    }

    /// Every signature and refusal of a version, in order, with the signer's name and how
    /// their identity was checked: for the PDF and the court's confirmation package.
    pub async fn signature_records(
        &self,
        agreement_id: &AgreementId,
        version: i64,
    ) -> Result<Vec<SignatureRecord>> {
        sqlx::query(
            "SELECT s.signer_id, s.signer_kind, s.on_behalf_of, s.public_key, s.payload, \
             s.signature, s.image_sha256, s.status, s.declined_reason, s.at, p.name, p.kind, \
             p.side, st.display_name, k.method, k.checked_at \
             FROM agreement_signatures s \
             LEFT JOIN parties p ON p.id = s.signer_id \
             LEFT JOIN staff st ON st.id = s.signer_id \
             LEFT JOIN signer_keys k ON k.agreement_id = s.agreement_id \
                 AND k.version = s.version AND k.signer_id = s.signer_id \
             WHERE s.agreement_id = $1 AND s.version = $2 ORDER BY s.at, s.id",
        )
        .bind(agreement_id)
        .bind(version)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(record_from_row)
        .collect()
    }
}

fn seal_from_row(row: &AnyRow) -> Result<SealView> {
    let sealed_at: i64 = row.try_get(1)?;
    Ok(SealView {
        key_id: row.try_get(0)?,
        sealed_at,
        platform_key_id: row.try_get(2)?,
        version: row.try_get(3)?,
        effective_at: sealed_at,
        seal_signature: row.try_get(4)?,
        platform_signature: row.try_get(5)?,
        statement: row.try_get(6)?,
        pdf_sha256: row.try_get(7)?,
    })
}

fn record_from_row(row: &AnyRow) -> Result<SignatureRecord> {
    let staff = row.try_get::<String, _>(1)? == "staff";
    let kind: Option<String> = row.try_get(11)?;
    let role = if staff {
        SignerRole::Mediator
    } else if kind.as_deref() == Some("representative") {
        SignerRole::Representative
    } else {
        SignerRole::Party
    };
    let name: Option<String> = if staff {
        row.try_get(13)?
    } else {
        row.try_get(10)?
    };
    let identity = match row.try_get::<Option<String>, _>(14)? {
        Some(method) => Some(IdentityView {
            method: IdentityMethod::parse(&method)?,
            at: row.try_get(15)?,
        }),
        None => None,
    };
    Ok(SignatureRecord {
        signer_id: row.try_get(0)?,
        name: name.unwrap_or_default(),
        role,
        side: row
            .try_get::<Option<String>, _>(12)?
            .map(|s| Side::parse(&s))
            .transpose()?,
        on_behalf_of: row.try_get(2)?,
        status: SignerStatus::parse(&row.try_get::<String, _>(7)?)?,
        public_key: row.try_get(3)?,
        payload: row.try_get(4)?,
        signature: row.try_get(5)?,
        image_sha256: row.try_get(6)?,
        declined_reason: row.try_get(8)?,
        at: row.try_get(9)?,
        identity,
    })
}
