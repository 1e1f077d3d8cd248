//! Online intake (一站式自主申报): a resident's application becomes a case in `intake` status,
//! with its two parties and evidence, in one transaction, so a phone that retries never
//! finds half an application.

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::Store;
use super::cases::{KeyUse, request_sha256, subject};
use super::model::{Actor, Case, CaseStatus, Evidence, NewCase, NewParty, Side};
use super::vocabulary::AuditAction;
use super::{new_id, now_ms};
use crate::error::{Error, Result};
use crate::ids::CaseId;

/// Tracking codes are read aloud and typed on phones: no 0/O, 1/I/L.
const TRACKING_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// 31^10 ≈ 8·10^14 codes: not guessable by trying, short enough to copy by hand.
pub const TRACKING_CODE_LEN: usize = 10;

/// The idempotency scope of online applications.
const SCOPE: &str = "applicant:intake";

/// An application from the public intake page.
#[derive(Clone, Debug, Serialize)]
pub struct NewIntake {
    /// The case; its status is set to `intake` and its tracking code is generated.
    pub case: NewCase,
    /// The resident applying.
    pub applicant: NewParty,
    /// The other side.
    pub respondent: NewParty,
    /// Evidence files already in the blob store, brought by the applicant.
    pub files: Vec<IntakeFile>,
}

/// An evidence file of an application, stored in the blob store.
#[derive(Clone, Debug, Serialize)]
pub struct IntakeFile {
    /// Content hash, hex.
    pub sha256: String,
    /// As detected from the content.
    pub media_type: String,
    /// Bytes.
    pub size: i64,
    /// As uploaded.
    pub file_name: String,
}

/// What a submission did.
#[derive(Clone, Debug)]
pub struct Submitted {
    /// The case of the application.
    pub case: Case,
    /// False when this was a retry of an application already stored.
    pub created: bool,
}

/// One step of a case's status history, as its applicant may see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusStep {
    /// The status reached.
    pub status: CaseStatus,
    /// When (Unix milliseconds).
    pub at: i64,
}

impl Store {
    /// Stores an application. A retry with the same `idempotency_key` and the same
    /// application returns the case the first attempt stored and adds nothing. Keys of all
    /// applicants share one scope, so a key is bound to its application: the same key with
    /// another one (a guessed key, or an edited form sent again) is refused with
    /// [`Error::IdempotencyKeyReused`], never answered with someone's case.
    pub async fn submit_intake(&self, new: NewIntake, idempotency_key: &str) -> Result<Submitted> {
        let hash = request_sha256(&new)?;
        let key_use = KeyUse {
            scope: SCOPE,
            key: idempotency_key,
            request_sha256: &hash,
        };
        if let Some(existing) = self.idempotent(key_use).await? {
            return self.retried(&CaseId::from(existing)).await;
        }
        match self.insert_intake(new, key_use).await {
            Ok(case) => Ok(Submitted {
                case,
                created: true,
            }),
            // Either a concurrent retry stored the key first, or the tracking code collided.
            Err(Error::Conflict(_)) => match self.idempotent(key_use).await? {
                Some(existing) => self.retried(&CaseId::from(existing)).await,
                None => Err(Error::Conflict(
                    "the application could not be stored; send it again".into(),
                )),
            },
            Err(other) => Err(other),
        }
    }

    async fn retried(&self, case_id: &CaseId) -> Result<Submitted> {
        Ok(Submitted {
            case: self.case(case_id).await?,
            created: false,
        })
    }

    async fn insert_intake(&self, new: NewIntake, key_use: KeyUse<'_>) -> Result<Case> {
        let org = self.organisation(&new.case.organisation_id).await?;
        let case = NewCase {
            status: CaseStatus::Intake,
            tracking_code: Some(new_tracking_code()),
            ..new.case
        };
        let actor = Actor::Applicant;
        let mut tx = self.begin().await?;
        let case = self
            .insert_case_in(&mut tx, &actor, &org, case, Some(key_use))
            .await?;
        let applicant = self
            .insert_party_in(&mut tx, &actor, &case.id, Side::Applicant, new.applicant)
            .await?;
        self.insert_party_in(&mut tx, &actor, &case.id, Side::Respondent, new.respondent)
            .await?;
        for file in new.files {
            let evidence = Evidence {
                id: new_id("EV"),
                case_id: case.id.clone(),
                party_id: Some(applicant.id.clone()),
                sha256: file.sha256,
                media_type: file.media_type,
                size: file.size,
                file_name: file.file_name,
                uploaded_by: Actor::Party(applicant.id.clone()).label(),
                created_at: now_ms(),
            };
            self.insert_evidence_in(&mut tx, &actor, &evidence).await?;
        }
        tx.commit().await?;
        Ok(case)
    }

    /// The regions some organisation serves, for the intake form's picker.
    pub async fn regions(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT region FROM organisations ORDER BY region")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(Error::from))
            .collect()
    }

    /// The statuses a case went through, oldest first, read from its audit trail: what an
    /// applicant may see, without who did it or any detail.
    pub async fn status_history(&self, case_id: &CaseId) -> Result<Vec<StatusStep>> {
        let mut steps = Vec::new();
        for entry in self.audit_of(&subject(case_id)).await? {
            let detail: Value = serde_json::from_str(&entry.detail).unwrap_or(Value::Null);
            let status = match AuditAction::parse(&entry.action).ok() {
                Some(AuditAction::CaseCreated) => detail.get("status").and_then(Value::as_str),
                Some(AuditAction::CaseStatusChanged) => detail.get("to").and_then(Value::as_str),
                Some(AuditAction::CaseAssigned) => Some(CaseStatus::Assigned.as_str()),
                _ => None,
            };
            let Some(status) = status else { continue };
            let status = CaseStatus::parse(status)?;
            // A case given to another mediator stays `assigned`: one step, not two.
            if steps.last().map(|s: &StatusStep| s.status) != Some(status) {
                steps.push(StatusStep {
                    status,
                    at: entry.at,
                });
            }
        }
        Ok(steps)
    }
}

/// A fresh tracking code.
pub fn new_tracking_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..TRACKING_CODE_LEN)
        .map(|_| char::from(TRACKING_ALPHABET[rng.random_range(0..TRACKING_ALPHABET.len())]))
        .collect()
}

/// Whether `code` could be a tracking code (checked before asking the database).
pub fn looks_like_tracking_code(code: &str) -> bool {
    code.len() == TRACKING_CODE_LEN && code.bytes().all(|b| TRACKING_ALPHABET.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_codes_use_the_unambiguous_alphabet() {
        for _ in 0..100 {
            let code = new_tracking_code();
            assert!(looks_like_tracking_code(&code), "{code}");
            assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
        }
        assert!(!looks_like_tracking_code("ABCDEFGHJ"));
        assert!(!looks_like_tracking_code("abcdefghjk"));
    }
}
