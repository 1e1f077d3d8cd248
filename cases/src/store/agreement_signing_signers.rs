//! The Agreement JSON's `signers`: who signs an agreement and where each stands on the
//! current version.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use super::agreement_signing_model::{
    FreeWillAnswer, FreeWillView, IdentityMethod, IdentityView, SignerRole, SignerStatus,
    SignerView,
};
use super::model::PartyKind;
use crate::agreements::Rule;
use crate::error::Result;
use crate::ids::AgreementId;

impl Store {
    /// The Agreement JSON's `signers`: each party of kind person or organisation (required),
    /// each representative (who may sign for them with a power of attorney), then the
    /// case's mediator (required), with where each stands on the current version.
    pub async fn signers(&self, agreement_id: &AgreementId) -> Result<Vec<SignerView>> {
        let ctx = self.signing_ctx(agreement_id).await?;
        let mediator_name = self.mediator_name(&ctx).await?;
        let rows = match ctx.counting_version() {
            Some(version) => self.version_rows(agreement_id, version).await?,
            None => VersionRows::default(),
        };
        let open = ctx.status == "final" && !ctx.personal_status;
        let mut views = Vec::new();
        let people = ctx.parties.iter().filter(|p| {
            matches!(p.kind, PartyKind::Person | PartyKind::Organisation) && p.represents.is_none()
                || p.kind == PartyKind::Representative && p.represents.is_some()
        });
        for party in people {
            let representative = party.kind == PartyKind::Representative;
            let (status, signed_at, declined_reason) = if representative {
                rows.decision(|s| s.signer_id == party.id.as_str())
            } else {
                rows.decision(|s| s.principal() == party.id.as_str())
            };
            let cannot = if ctx.personal_status {
                Some(Rule::NotESignable.code())
            } else if representative && party.attorney_letter.is_none() {
                Some(Rule::AttorneyLetterMissing.code())
            } else {
                None
            };
            views.push(SignerView {
                signer_id: party.id.to_string(),
                name: party.name.clone(),
                role: if representative {
                    SignerRole::Representative
                } else {
                    SignerRole::Party
                },
                side: Some(party.side),
                represents: party.represents.clone().filter(|_| representative),
                represents_name: party
                    .represents
                    .as_ref()
                    .filter(|_| representative)
                    .and_then(|r| ctx.parties.iter().find(|p| &p.id == r))
                    .map(|p| p.name.clone()),
                required: !representative,
                may_sign: open && cannot.is_none() && status == SignerStatus::Pending,
                cannot_sign_reason: cannot,
                status,
                signed_at,
                declined_reason,
                identity: rows.identity(party.id.as_str()),
                free_will: rows.free_will(party.id.as_str()),
                attested_at: rows.attested_at(party.id.as_str()),
            });
        }
        // Parties before the representatives who may sign for them, whatever order they
        // were added in.
        views.sort_by_key(|v| v.role == SignerRole::Representative);
        if let Some(mediator) = &ctx.case.mediator_id {
            let (status, signed_at, declined_reason) =
                rows.decision(|s| s.signer_id == mediator.as_str());
            views.push(SignerView {
                signer_id: mediator.to_string(),
                name: mediator_name,
                role: SignerRole::Mediator,
                side: None,
                represents: None,
                represents_name: None,
                required: true,
                may_sign: open && status == SignerStatus::Pending,
                cannot_sign_reason: ctx.personal_status.then(|| Rule::NotESignable.code()),
                status,
                signed_at,
                declined_reason,
                identity: rows.identity(mediator.as_str()),
                free_will: None,
                attested_at: None,
            });
        }
        Ok(views)
    }

    pub(super) async fn version_rows(
        &self,
        agreement_id: &AgreementId,
        version: i64,
    ) -> Result<VersionRows> {
        let signatures = sqlx::query(
            "SELECT signer_id, on_behalf_of, status, declined_reason, at FROM agreement_signatures \
             WHERE agreement_id = $1 AND version = $2 ORDER BY at, id",
        )
        .bind(agreement_id)
        .bind(version)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Decision {
                signer_id: row.try_get(0)?,
                on_behalf_of: row.try_get(1)?,
                status: SignerStatus::parse(&row.try_get::<String, _>(2)?)?,
                declined_reason: row.try_get(3)?,
                at: row.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let keys = sqlx::query(
            "SELECT signer_id, method, checked_at FROM signer_keys \
             WHERE agreement_id = $1 AND version = $2",
        )
        .bind(agreement_id)
        .bind(version)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<String, _>(0)?,
                IdentityView {
                    method: IdentityMethod::parse(&row.try_get::<String, _>(1)?)?,
                    at: row.try_get(2)?,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
        let free_will = sqlx::query(
            "SELECT party_id, answer, at, recording_id, recording_offset_ms \
             FROM agreement_free_will WHERE agreement_id = $1 AND version = $2",
        )
        .bind(agreement_id)
        .bind(version)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(free_will_from_row)
        .collect::<Result<Vec<_>>>()?;
        let attestations = sqlx::query(
            "SELECT signer_id, at FROM signing_attestations \
             WHERE agreement_id = $1 AND version = $2",
        )
        .bind(agreement_id)
        .bind(version)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?)))
        .collect::<Result<Vec<_>>>()?;
        Ok(VersionRows {
            signatures,
            keys,
            free_will,
            attestations,
        })
    }
}

/// One signature or refusal row of a version.
pub(super) struct Decision {
    pub(super) signer_id: String,
    pub(super) on_behalf_of: Option<String>,
    pub(super) status: SignerStatus,
    pub(super) declined_reason: Option<String>,
    pub(super) at: i64,
}

impl Decision {
    pub(super) fn principal(&self) -> &str {
        self.on_behalf_of.as_deref().unwrap_or(&self.signer_id)
    }
}

/// Everything of one version that the signer list shows.
#[derive(Default)]
pub(super) struct VersionRows {
    pub(super) signatures: Vec<Decision>,
    keys: Vec<(String, IdentityView)>,
    free_will: Vec<(String, FreeWillView)>,
    attestations: Vec<(String, i64)>,
}

impl VersionRows {
    /// Signed wins over declined (a representative may sign after their party hesitated).
    fn decision(
        &self,
        matches: impl Fn(&Decision) -> bool,
    ) -> (SignerStatus, Option<i64>, Option<String>) {
        let mine: Vec<&Decision> = self.signatures.iter().filter(|s| matches(s)).collect();
        if let Some(signed) = mine.iter().find(|s| s.status == SignerStatus::Signed) {
            return (SignerStatus::Signed, Some(signed.at), None);
        }
        match mine.first() {
            Some(declined) => (
                SignerStatus::Declined,
                None,
                declined.declined_reason.clone(),
            ),
            None => (SignerStatus::Pending, None, None),
        }
    }

    fn identity(&self, signer_id: &str) -> Option<IdentityView> {
        self.keys
            .iter()
            .find(|(id, _)| id == signer_id)
            .map(|(_, view)| view.clone())
    }

    fn attested_at(&self, signer_id: &str) -> Option<i64> {
        self.attestations
            .iter()
            .find(|(id, _)| id == signer_id)
            .map(|(_, at)| *at)
    }

    fn free_will(&self, party_id: &str) -> Option<FreeWillView> {
        self.free_will
            .iter()
            .find(|(id, _)| id == party_id)
            .map(|(_, view)| view.clone())
    }
}

fn free_will_from_row(row: &AnyRow) -> Result<(String, FreeWillView)> {
    Ok((
        row.try_get(0)?,
        FreeWillView {
            answer: FreeWillAnswer::parse(&row.try_get::<String, _>(1)?)?,
            at: row.try_get(2)?,
            recording_id: row
                .try_get::<Option<String>, _>(3)?
                .map(crate::ids::RecordingId::new),
            recording_offset_ms: row.try_get(4)?,
        },
    ))
}
