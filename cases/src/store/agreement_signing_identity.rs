//! Before a signer's device key counts, someone must vouch that the phone is theirs: a
//! one-time code sent to the phone on record, the mediator attesting them on camera, or,
//! for the mediator, their own staff login. Each party is also asked, alone with the
//! mediator, whether they sign of their own free will.
//!
//! Codes are kept as an HMAC under the store's audit key with a per-code salt (a copy of the
//! database alone cannot try the million codes offline), compared in constant time, and die
//! after [`CODE_MAX_ATTEMPTS`] wrong tries.

use serde_json::json;
use sqlx::Row;

use super::agreement_signing::SigningCtx;
use super::agreement_signing_model::{
    IdentityMethod, IdentityProof, IssuedOtp, NewFreeWill, SignerRef,
};
use super::cases::subject;
use super::keys::mask_phone;
use super::model::Actor;
use super::vocabulary::AuditAction;
use super::{Store, new_id};
use crate::agreements::Rule;
use crate::agreements::signing::{
    self, CODE_MAX_ATTEMPTS, CODE_RESEND_MS, CODE_TTL_MS, constant_time_eq,
};
use crate::error::{Error, Result};
use crate::ids::{AgreementId, PartyId, SessionId, StaffId};

/// The longest note a mediator may keep with a free-will answer.
const MAX_NOTE_CHARS: usize = 1000;

impl Store {
    /// A one-time code for `signer` to confirm the phone on record is theirs: at most one
    /// per [`CODE_RESEND_MS`] per signer, good for [`CODE_TTL_MS`]. The caller sends it;
    /// the store keeps only its keyed hash.
    pub async fn issue_otp(
        &self,
        agreement_id: &AgreementId,
        signer: &PartyId,
        now: i64,
    ) -> Result<IssuedOtp> {
        let ctx = self.signing_ctx(agreement_id).await?;
        let who = self.gate(&ctx, &SignerRef::Party(signer.clone())).await?;
        ctx.require_final()?;
        let phone = who
            .party
            .as_ref()
            .and_then(|p| p.phone.clone())
            .filter(|p| !p.trim().is_empty())
            .ok_or(Error::Rule(Rule::NoPhoneOnRecord))?;
        let last: Option<i64> = sqlx::query(
            "SELECT MAX(created_at) FROM signing_otps WHERE agreement_id = $1 AND signer_id = $2",
        )
        .bind(agreement_id)
        .bind(signer)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        if let Some(last) = last {
            let wait = CODE_RESEND_MS - (now - last);
            if wait > 0 {
                return Err(Error::TooManyRequests {
                    retry_after_seconds: (wait as u64).div_ceil(1000),
                });
            }
        }
        let code = signing::new_code();
        let salt = crate::random_token(16);
        let issued = IssuedOtp {
            sent_to: mask_phone(&phone),
            phone,
            expires_at: now + CODE_TTL_MS,
            code,
        };
        let id: String = new_id("OT");
        sqlx::query(
            "INSERT INTO signing_otps (id, agreement_id, version, signer_id, code_hash, \
             sent_to_masked, expires_at, attempts, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8)",
        )
        .bind(&id)
        .bind(agreement_id)
        .bind(ctx.version)
        .bind(signer)
        .bind(format!("{salt}:{}", self.code_mac(&salt, &issued.code)))
        .bind(&issued.sent_to)
        .bind(issued.expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(issued)
    }

    fn code_mac(&self, salt: &str, code: &str) -> String {
        // The audit key is the one secret kept outside the database; the prefix keeps these
        // MACs from ever colliding with the audit chain's.
        self.keys
            .audit_mac(&format!("accord-signing-code:{salt}:{code}"))
    }

    /// Registers `public_key_b64` (the phone's P-256 key, SPKI DER base64) as `signer`'s
    /// key for the current version once `proof` holds. A wrong code counts against the code
    /// even though the call fails.
    pub async fn check_identity(
        &self,
        actor: &Actor,
        agreement_id: &AgreementId,
        signer: &SignerRef,
        proof: IdentityProof,
        public_key_b64: &str,
        now: i64,
    ) -> Result<()> {
        let ctx = self.signing_ctx(agreement_id).await?;
        let who = self.gate(&ctx, signer).await?;
        ctx.require_final()?;
        signing::check_device_key(public_key_b64)?;
        let (method, evidence, otp) = match proof {
            IdentityProof::Otp { code } => {
                let (otp, sent_to) = self.check_code(&ctx, signer, code.trim(), now).await?;
                (
                    IdentityMethod::Otp,
                    json!({"otp": otp, "sent_to": sent_to}),
                    Some(otp),
                )
            }
            IdentityProof::Attestation => {
                let row = sqlx::query(
                    "SELECT by_staff, at, session_id FROM signing_attestations \
                     WHERE agreement_id = $1 AND version = $2 AND signer_id = $3",
                )
                .bind(agreement_id)
                .bind(ctx.version)
                .bind(signer.as_str())
                .fetch_optional(&self.pool)
                .await?
                .ok_or(Error::Rule(Rule::AttestationMissing))?;
                let (by, at, session): (String, i64, String) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                (
                    IdentityMethod::Attestation,
                    json!({"by_staff": by, "at": at, "session": session}),
                    None,
                )
            }
            IdentityProof::Staff => {
                let own = matches!((actor, signer),
                    (Actor::Staff(me), SignerRef::Staff(them)) if me == them);
                if !own || who.role != super::SignerRole::Mediator {
                    return Err(Error::Rule(Rule::NotASigner));
                }
                (IdentityMethod::Staff, json!({"staff": signer}), None)
            }
        };
        let mut tx = self.begin().await?;
        self.relock(&mut tx, &ctx, Rule::VersionOutdated).await?;
        if let Some(otp) = &otp {
            let taken = sqlx::query(
                "UPDATE signing_otps SET used_at = $1 \
                 WHERE id = $2 AND used_at IS NULL AND attempts < $3",
            )
            .bind(now)
            .bind(otp)
            .bind(CODE_MAX_ATTEMPTS)
            .execute(&mut *tx)
            .await?;
            if taken.rows_affected() != 1 {
                return Err(Error::Rule(Rule::WrongCode));
            }
        }
        sqlx::query(
            "INSERT INTO signer_keys (agreement_id, version, signer_id, public_key, method, \
             checked_at, evidence_json) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (agreement_id, version, signer_id) DO UPDATE SET \
             public_key = excluded.public_key, method = excluded.method, \
             checked_at = excluded.checked_at, evidence_json = excluded.evidence_json",
        )
        .bind(agreement_id)
        .bind(ctx.version)
        .bind(signer.as_str())
        .bind(public_key_b64.trim())
        .bind(method.as_str())
        .bind(now)
        .bind(evidence.to_string())
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::AgreementIdentityChecked,
            &subject(&ctx.case.id),
            json!({"agreement": agreement_id, "version": ctx.version, "signer": signer,
                   "method": method}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The id and masked phone of the signer's newest code for this version when `code` is
    /// it; otherwise counts a wrong try and refuses with [`Rule::WrongCode`].
    async fn check_code(
        &self,
        ctx: &SigningCtx,
        signer: &SignerRef,
        code: &str,
        now: i64,
    ) -> Result<(String, String)> {
        let row = sqlx::query(
            "SELECT id, code_hash, sent_to_masked, expires_at, attempts, used_at \
             FROM signing_otps WHERE agreement_id = $1 AND version = $2 AND signer_id = $3 \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(&ctx.agreement_id)
        .bind(ctx.version)
        .bind(signer.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::Rule(Rule::WrongCode))?;
        let id: String = row.try_get(0)?;
        let stored: String = row.try_get(1)?;
        let sent_to: String = row.try_get(2)?;
        let live = row.try_get::<i64, _>(3)? > now
            && row.try_get::<i64, _>(4)? < CODE_MAX_ATTEMPTS
            && row.try_get::<Option<i64>, _>(5)?.is_none();
        if !live {
            return Err(Error::Rule(Rule::WrongCode));
        }
        let (salt, mac) = stored.split_once(':').unwrap_or_default();
        if constant_time_eq(&self.code_mac(salt, code), mac) {
            return Ok((id, sent_to));
        }
        sqlx::query("UPDATE signing_otps SET attempts = attempts + 1 WHERE id = $1")
            .bind(&id)
            .execute(&self.pool)
            .await?;
        Err(Error::Rule(Rule::WrongCode))
    }

    /// The mediator confirms on camera that `signer` is who the case says (the edge checks
    /// they are seated in the live session `session_id`).
    pub async fn attest(
        &self,
        by: &StaffId,
        agreement_id: &AgreementId,
        signer: &PartyId,
        session_id: &SessionId,
    ) -> Result<()> {
        let ctx = self.signing_ctx(agreement_id).await?;
        let signer = SignerRef::Party(signer.clone());
        self.gate(&ctx, &signer).await?;
        ctx.require_final()?;
        self.session_of_case(&ctx, session_id).await?;
        let mut tx = self.begin().await?;
        self.relock(&mut tx, &ctx, Rule::VersionOutdated).await?;
        sqlx::query(
            "INSERT INTO signing_attestations (agreement_id, version, signer_id, by_staff, at, \
             session_id) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (agreement_id, version, signer_id) DO UPDATE SET \
             by_staff = excluded.by_staff, at = excluded.at, session_id = excluded.session_id",
        )
        .bind(agreement_id)
        .bind(ctx.version)
        .bind(signer.as_str())
        .bind(by)
        .bind(super::now_ms())
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            &Actor::Staff(by.clone()),
            AuditAction::AgreementAttested,
            &subject(&ctx.case.id),
            json!({"agreement": agreement_id, "version": ctx.version, "signer": signer,
                   "session": session_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a party's answer to the free-will question for the current version; asked
    /// again, the newest answer stands. The edge has checked the party was alone with the
    /// mediator.
    pub async fn record_free_will(
        &self,
        by: &StaffId,
        agreement_id: &AgreementId,
        free_will: NewFreeWill,
    ) -> Result<()> {
        let note = free_will
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
            return Err(Error::field(
                "note",
                format!("at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        let ctx = self.signing_ctx(agreement_id).await?;
        let signer = SignerRef::Party(free_will.party_id.clone());
        self.gate(&ctx, &signer).await?;
        ctx.require_final()?;
        self.session_of_case(&ctx, &free_will.session_id).await?;
        let at = super::now_ms();
        let mut tx = self.begin().await?;
        self.relock(&mut tx, &ctx, Rule::VersionOutdated).await?;
        sqlx::query(
            "INSERT INTO agreement_free_will (agreement_id, version, party_id, answer, note, at, \
             session_id, recording_id, recording_offset_ms, by_staff) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (agreement_id, version, party_id) DO UPDATE SET \
             answer = excluded.answer, note = excluded.note, at = excluded.at, \
             session_id = excluded.session_id, recording_id = excluded.recording_id, \
             recording_offset_ms = excluded.recording_offset_ms, by_staff = excluded.by_staff",
        )
        .bind(agreement_id)
        .bind(ctx.version)
        .bind(&free_will.party_id)
        .bind(free_will.answer.as_str())
        .bind(note)
        .bind(at)
        .bind(&free_will.session_id)
        .bind(&free_will.recording_id)
        .bind(free_will.recording_offset_ms)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            &Actor::Staff(by.clone()),
            AuditAction::AgreementFreeWill,
            &subject(&ctx.case.id),
            json!({"agreement": agreement_id, "version": ctx.version,
                   "party": free_will.party_id, "answer": free_will.answer,
                   "session": free_will.session_id, "recording": free_will.recording_id,
                   "recording_offset_ms": free_will.recording_offset_ms}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_of_case(&self, ctx: &SigningCtx, session_id: &SessionId) -> Result<()> {
        let session = self.session(session_id).await?;
        if session.case_id != ctx.case.id {
            return Err(Error::NotFound("no such session in this case"));
        }
        Ok(())
    }
}
