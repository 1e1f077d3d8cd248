//! Signing an agreement: who signs, the challenge each signer's phone answers, signatures and
//! refusals. Identity checks and free will are in `agreement_signing_identity`, the seal in
//! `agreement_seal`.
//!
//! Signatures are void by version, lazily: a reopened agreement has a new version number, and
//! every row here names the version it is about, so rows of an older version stop counting
//! without being touched. They stay as the record of what happened.

use serde_json::json;
use sqlx::Row;

use super::agreement_signing_model::{
    ESignable, FreeWillAnswer, SignRequest, SignerRef, SignerRole, SignerStatus,
};
use super::cases::subject;
use super::model::{Case, Party, PartyKind};
use super::vocabulary::AuditAction;
use super::{Store, Tx, new_id};
use crate::agreements::Rule;
use crate::agreements::signing::{self, CHALLENGE_TTL_MS, Payload};
use crate::error::{Error, Result};
use crate::ids::{AgreementId, PartyId, SignatureId};
use crate::store::model::Actor;

/// The longest reason a signer may give for declining.
const MAX_REASON_CHARS: usize = 500;

/// What every signing step needs to know about an agreement, read before its transaction.
pub(super) struct SigningCtx {
    pub(super) agreement_id: AgreementId,
    pub(super) case: Case,
    pub(super) status: String,
    pub(super) version: i64,
    /// The current version's text hash when it is final or in force.
    pub(super) text_sha256: Option<String>,
    pub(super) personal_status: bool,
    pub(super) parties: Vec<Party>,
}

/// A signer found among the case's people.
pub(super) struct Resolved {
    pub(super) signer: SignerRef,
    pub(super) role: SignerRole,
    pub(super) party: Option<Party>,
}

impl Resolved {
    /// The party whose signature this is: the represented party for a representative.
    pub(super) fn principal(&self) -> &str {
        match &self.party {
            Some(p) => p
                .represents
                .as_ref()
                .filter(|_| self.role == SignerRole::Representative)
                .map_or(p.id.as_str(), |r| r.as_str()),
            None => self.signer.as_str(),
        }
    }

    fn on_behalf_of(&self) -> Option<&PartyId> {
        self.party
            .as_ref()
            .filter(|_| self.role == SignerRole::Representative)
            .and_then(|p| p.represents.as_ref())
    }
}

impl SigningCtx {
    /// The version that signatures count for, when there is one.
    pub(super) fn counting_version(&self) -> Option<i64> {
        self.text_sha256.as_ref().map(|_| self.version)
    }

    /// Refuses unless the current version is final (neither drafting nor in force).
    pub(super) fn require_final(&self) -> Result<()> {
        match self.status.as_str() {
            "final" if self.text_sha256.is_some() => Ok(()),
            "in_force" => Err(Error::Rule(Rule::InForce)),
            _ => Err(Error::Rule(Rule::NotFinal)),
        }
    }

    /// The signer `signer` names, or [`Rule::NotASigner`]: a party of kind person or
    /// organisation, a representative of one, or the case's mediator.
    pub(super) fn resolve(&self, signer: &SignerRef) -> Result<Resolved> {
        match signer {
            SignerRef::Party(id) => {
                let party = self
                    .parties
                    .iter()
                    .find(|p| &p.id == id)
                    .ok_or(Error::Rule(Rule::NotASigner))?;
                let role = match party.kind {
                    PartyKind::Person | PartyKind::Organisation if party.represents.is_none() => {
                        SignerRole::Party
                    }
                    PartyKind::Representative if party.represents.is_some() => {
                        SignerRole::Representative
                    }
                    _ => return Err(Error::Rule(Rule::NotASigner)),
                };
                Ok(Resolved {
                    signer: signer.clone(),
                    role,
                    party: Some(party.clone()),
                })
            }
            SignerRef::Staff(id) if self.case.mediator_id.as_ref() == Some(id) => Ok(Resolved {
                signer: signer.clone(),
                role: SignerRole::Mediator,
                party: None,
            }),
            SignerRef::Staff(_) => Err(Error::Rule(Rule::NotASigner)),
        }
    }
}

impl Store {
    /// Whether the case's agreement may be signed electronically: not when it concerns
    /// marriage, adoption or inheritance status (电子签名法 第三条).
    pub async fn e_signable(&self, case_id: &crate::ids::CaseId) -> Result<ESignable> {
        let personal = self.personal_status_of(case_id).await?;
        Ok(ESignable {
            e_signable: !personal,
            reason: personal.then(|| Rule::NotESignable.message()),
        })
    }

    async fn personal_status_of(&self, case_id: &crate::ids::CaseId) -> Result<bool> {
        let row = self
            .one(
                "SELECT CAST(CASE WHEN personal_status THEN 1 ELSE 0 END AS BIGINT) \
                 FROM cases WHERE id = $1",
                case_id.as_str(),
                "no such case",
            )
            .await?;
        Ok(row.try_get::<i64, _>(0)? != 0)
    }

    pub(super) async fn signing_ctx(&self, agreement_id: &AgreementId) -> Result<SigningCtx> {
        let row = self
            .one(
                "SELECT case_id, status, version FROM agreements WHERE id = $1",
                agreement_id.as_str(),
                "no such agreement",
            )
            .await?;
        let case_id: crate::ids::CaseId = row.try_get(0)?;
        let status: String = row.try_get(1)?;
        let version: i64 = row.try_get(2)?;
        let text_sha256 = if matches!(status.as_str(), "final" | "in_force") {
            sqlx::query(
                "SELECT text_sha256 FROM agreement_versions WHERE agreement_id = $1 AND version = $2",
            )
            .bind(agreement_id)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
        } else {
            None
        };
        Ok(SigningCtx {
            agreement_id: agreement_id.clone(),
            case: self.case(&case_id).await?,
            status,
            version,
            text_sha256,
            personal_status: self.personal_status_of(&case_id).await?,
            parties: self.parties(&case_id).await?,
        })
    }

    pub(super) async fn mediator_name(&self, ctx: &SigningCtx) -> Result<String> {
        match &ctx.case.mediator_id {
            Some(id) => Ok(self.staff(id).await?.display_name),
            None => Ok(String::new()),
        }
    }

    /// The checks every signer's step starts with, in the order the rules are reported:
    /// e-signable, a signer, a representative with their power of attorney.
    pub(super) async fn gate(&self, ctx: &SigningCtx, signer: &SignerRef) -> Result<Resolved> {
        if ctx.personal_status {
            return Err(Error::Rule(Rule::NotESignable));
        }
        let who = ctx.resolve(signer)?;
        if who.role == SignerRole::Representative
            && who
                .party
                .as_ref()
                .is_some_and(|p| p.attorney_letter.is_none())
        {
            return Err(Error::Rule(Rule::AttorneyLetterMissing));
        }
        Ok(who)
    }

    /// Locks the agreement's row in `tx` and refuses with `rule` when its status or version
    /// moved since `ctx` was read.
    pub(super) async fn relock(&self, tx: &mut Tx, ctx: &SigningCtx, rule: Rule) -> Result<()> {
        let row = sqlx::query(&format!(
            "SELECT status, version FROM agreements WHERE id = $1{}",
            self.backend.lock_row()
        ))
        .bind(&ctx.agreement_id)
        .fetch_one(&mut **tx)
        .await?;
        let (status, version): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
        if status != ctx.status || version != ctx.version {
            return Err(Error::Rule(rule));
        }
        Ok(())
    }

    /// The challenge `signer`'s phone signs: the current final version's hash, the signer,
    /// the time and a nonce, good for [`CHALLENGE_TTL_MS`] and for one signature.
    pub async fn issue_challenge(
        &self,
        agreement_id: &AgreementId,
        signer: &SignerRef,
        now: i64,
    ) -> Result<String> {
        let ctx = self.signing_ctx(agreement_id).await?;
        let who = self.gate(&ctx, signer).await?;
        ctx.require_final()?;
        self.refuse_if_decided(&ctx, &who).await?;
        let payload = Payload {
            case: ctx.case.id.clone(),
            version: ctx.version,
            text_sha256: ctx.text_sha256.clone().unwrap_or_default(),
            signer: signer.as_str().to_owned(),
            time: now,
            nonce: signing::new_nonce(),
        };
        let text = payload.to_json();
        sqlx::query(
            "INSERT INTO signing_challenges (nonce, agreement_id, version, signer_id, payload, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&payload.nonce)
        .bind(agreement_id)
        .bind(ctx.version)
        .bind(signer.as_str())
        .bind(&text)
        .bind(now + CHALLENGE_TTL_MS)
        .execute(&self.pool)
        .await?;
        Ok(text)
    }

    /// Takes `signer`'s signature of a challenge. The rules are checked in the order the
    /// edge's clients rely on: e-signable, a signer, the power of attorney, the challenge,
    /// the version, the identity check, the key, the signature, free will, not yet decided.
    pub async fn sign(
        &self,
        actor: &Actor,
        agreement_id: &AgreementId,
        signer: &SignerRef,
        request: SignRequest,
        now: i64,
    ) -> Result<()> {
        let ctx = self.signing_ctx(agreement_id).await?;
        let who = self.gate(&ctx, signer).await?;
        let payload = Payload::parse(&request.payload).map_err(Error::Rule)?;
        let challenge = sqlx::query(
            "SELECT agreement_id, signer_id, payload, expires_at, used_at \
             FROM signing_challenges WHERE nonce = $1",
        )
        .bind(&payload.nonce)
        .fetch_optional(&self.pool)
        .await?;
        let fresh = match &challenge {
            Some(row) => {
                row.try_get::<String, _>(0)? == agreement_id.as_str()
                    && row.try_get::<String, _>(1)? == signer.as_str()
                    && row.try_get::<String, _>(2)? == request.payload
                    && row.try_get::<i64, _>(3)? > now
                    && row.try_get::<Option<i64>, _>(4)?.is_none()
            }
            None => false,
        };
        if !fresh {
            return Err(Error::Rule(Rule::ChallengeExpired));
        }
        let current = ctx.status == "final"
            && payload.case == ctx.case.id
            && payload.version == ctx.version
            && ctx.text_sha256.as_deref() == Some(payload.text_sha256.as_str());
        if !current {
            return Err(Error::Rule(Rule::VersionOutdated));
        }
        let key = sqlx::query(
            "SELECT public_key FROM signer_keys \
             WHERE agreement_id = $1 AND version = $2 AND signer_id = $3",
        )
        .bind(agreement_id)
        .bind(ctx.version)
        .bind(signer.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(|row| row.try_get::<String, _>(0))
        .transpose()?
        .ok_or(Error::Rule(Rule::IdentityUnchecked))?;
        if let Some(sent) = &request.public_key
            && !signing::same_device_key(sent, &key)
        {
            return Err(Error::Rule(Rule::KeyNotRegistered));
        }
        signing::verify_device_signature(&key, &request.payload, &request.signature)
            .map_err(Error::Rule)?;
        if who.role != SignerRole::Mediator {
            let answer = sqlx::query(
                "SELECT answer FROM agreement_free_will \
                 WHERE agreement_id = $1 AND version = $2 AND party_id = $3",
            )
            .bind(agreement_id)
            .bind(ctx.version)
            .bind(signer.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| row.try_get::<String, _>(0))
            .transpose()?;
            if answer.as_deref() != Some(FreeWillAnswer::Yes.as_str()) {
                return Err(Error::Rule(Rule::FreeWillMissing));
            }
        }
        self.refuse_if_decided(&ctx, &who).await?;
        if let Some(image) = &request.image_sha256
            && (image.len() != 64 || !image.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(Error::field(
                "image",
                "must be stored first: its SHA-256, hex",
            ));
        }
        let mut tx = self.begin().await?;
        self.relock(&mut tx, &ctx, Rule::VersionOutdated).await?;
        let taken = sqlx::query(
            "UPDATE signing_challenges SET used_at = $1 WHERE nonce = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(&payload.nonce)
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() != 1 {
            return Err(Error::Rule(Rule::ChallengeExpired));
        }
        let decision = NewDecision {
            status: SignerStatus::Signed,
            public_key: Some(&key),
            payload: Some(&request.payload),
            signature: Some(&request.signature),
            image_sha256: request.image_sha256.as_deref(),
            declined_reason: None,
            at: now,
        };
        self.insert_decision(&mut tx, actor, &ctx, &who, decision)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that `signer` refuses to sign the current version, and why.
    pub async fn decline(
        &self,
        actor: &Actor,
        agreement_id: &AgreementId,
        signer: &SignerRef,
        reason: &str,
        now: i64,
    ) -> Result<()> {
        let reason = reason.trim();
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(Error::field(
                "reason",
                format!("at most {MAX_REASON_CHARS} characters"),
            ));
        }
        let ctx = self.signing_ctx(agreement_id).await?;
        let who = self.gate(&ctx, signer).await?;
        ctx.require_final()?;
        self.refuse_if_decided(&ctx, &who).await?;
        let mut tx = self.begin().await?;
        self.relock(&mut tx, &ctx, Rule::VersionOutdated).await?;
        let decision = NewDecision {
            status: SignerStatus::Declined,
            public_key: None,
            payload: None,
            signature: None,
            image_sha256: None,
            declined_reason: Some(reason),
            at: now,
        };
        self.insert_decision(&mut tx, actor, &ctx, &who, decision)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Rule::AlreadyDecided`] when the signer, or anyone signing for the same party, has
    /// signed or declined the current version.
    async fn refuse_if_decided(&self, ctx: &SigningCtx, who: &Resolved) -> Result<()> {
        let decided = sqlx::query(
            "SELECT 1 FROM agreement_signatures WHERE agreement_id = $1 AND version = $2 \
             AND (COALESCE(on_behalf_of, signer_id) = $3 OR signer_id = $4)",
        )
        .bind(&ctx.agreement_id)
        .bind(ctx.version)
        .bind(who.principal())
        .bind(who.signer.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match decided {
            Some(_) => Err(Error::Rule(Rule::AlreadyDecided)),
            None => Ok(()),
        }
    }

    async fn insert_decision(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        ctx: &SigningCtx,
        who: &Resolved,
        decision: NewDecision<'_>,
    ) -> Result<()> {
        let id: SignatureId = new_id("SG");
        let kind = match who.signer {
            SignerRef::Party(_) => "party",
            SignerRef::Staff(_) => "staff",
        };
        sqlx::query(
            "INSERT INTO agreement_signatures (id, agreement_id, version, signer_id, signer_kind, \
             on_behalf_of, public_key, payload, signature, image_sha256, status, declined_reason, \
             at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&id)
        .bind(&ctx.agreement_id)
        .bind(ctx.version)
        .bind(who.signer.as_str())
        .bind(kind)
        .bind(who.on_behalf_of())
        .bind(decision.public_key)
        .bind(decision.payload)
        .bind(decision.signature)
        .bind(decision.image_sha256)
        .bind(decision.status.as_str())
        .bind(decision.declined_reason)
        .bind(decision.at)
        .execute(&mut **tx)
        .await
        .map_err(|e| match Error::from(e) {
            // Two requests of one signer racing: the second finds the first's row.
            Error::Conflict(_) => Error::Rule(Rule::AlreadyDecided),
            other => other,
        })?;
        let action = match decision.status {
            SignerStatus::Declined => AuditAction::AgreementDeclined,
            _ => AuditAction::AgreementSigned,
        };
        self.audit(
            tx,
            actor,
            action,
            &subject(&ctx.case.id),
            json!({"agreement": ctx.agreement_id, "version": ctx.version, "signature": id,
                   "signer": who.signer, "role": who.role, "on_behalf_of": who.on_behalf_of()}),
        )
        .await
    }
}

struct NewDecision<'a> {
    status: SignerStatus,
    public_key: Option<&'a str>,
    payload: Option<&'a str>,
    signature: Option<&'a str>,
    image_sha256: Option<&'a str>,
    declined_reason: Option<&'a str>,
    at: i64,
}
