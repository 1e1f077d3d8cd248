//! Requests for judicial confirmation in the store: who must apply, each party's application,
//! the court the mediator chooses, and the submission that hands the request to the court (with
//! its outbox row, in the same transaction). The court's decisions are in
//! `confirmation_decisions.rs`; delivery to a court's system, callbacks and the window's
//! warnings in `confirmation_outbox.rs`.
//!
//! Every entry goes on the case's audit trail (`case:CA_…`), so the package's audit excerpt
//! shows the application with the rest of the case. The agreement's row is locked first in
//! each write, so on PostgreSQL two parties applying at once never make two requests.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::cases::subject;
use super::model::{Actor, Case, CaseStatus, Organisation, Party, PartyKind};
use super::vocabulary::AuditAction;
use super::{Store, Tx, new_id};
use crate::agreements::Rule;
use crate::agreements::model::AgreementStatus;
use crate::confirmation::model::{
    Applicant, ApplyOutcome, ConfirmationRequest, InboxState, NewOutbox, RequestStatus,
};
use crate::confirmation::venue::{self, Proposal};
use crate::confirmation::window::window;
use crate::error::{Error, Result};
use crate::ids::{AgreementId, CaseId, ConfirmationRequestId, OrganisationId, PartyId};

pub(super) const REQUEST_COLUMNS: &str = "id, case_id, agreement_id, version, text_sha256, court, \
     court_proposed, court_basis, court_reason, court_changed_by, status, created_at, \
     submitted_at, received_at, accepted_at, court_case_number, extended_at, extension_reason, \
     decided_at, ruling_number, ruling_date, ruling_sha256, reject_reasons, package_sha256, \
     package_size, application_sha256, updated_at";

const APPLICANT_COLUMNS: &str =
    "request_id, party_id, applied_by, applied_by_name, address, applied_at";

/// The sealed version of an agreement a request is about, read before a write.
struct Sealed {
    case: Case,
    version: i64,
    text_sha256: String,
    effective_at: i64,
}

impl Store {
    /// The request of the agreement's sealed version, if one was made.
    pub async fn confirmation_of_agreement(
        &self,
        agreement: &AgreementId,
    ) -> Result<Option<ConfirmationRequest>> {
        let Some(seal) = self.seal_of(agreement).await? else {
            return Ok(None);
        };
        sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM confirmation_requests \
             WHERE agreement_id = $1 AND version = $2"
        ))
        .bind(agreement)
        .bind(seal.version)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(request_from_row)
        .transpose()
    }

    /// One request, or [`Error::NotFound`].
    pub async fn confirmation_request(
        &self,
        id: &ConfirmationRequestId,
    ) -> Result<ConfirmationRequest> {
        let row = self
            .one(
                &format!("SELECT {REQUEST_COLUMNS} FROM confirmation_requests WHERE id = $1"),
                id.as_str(),
                "no such confirmation request",
            )
            .await?;
        request_from_row(&row)
    }

    /// The applications made so far, in the order they came.
    pub async fn confirmation_applicants(
        &self,
        id: &ConfirmationRequestId,
    ) -> Result<Vec<Applicant>> {
        sqlx::query(&format!(
            "SELECT {APPLICANT_COLUMNS} FROM confirmation_applicants WHERE request_id = $1 \
             ORDER BY applied_at, party_id"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(applicant_from_row)
        .collect()
    }

    /// The parties who must apply: those whose signature the sealed version counted (the
    /// parties themselves, not their representatives, the interpreters or the mediator), in
    /// the case's order. Empty while the agreement is not in force.
    pub async fn required_applicants(&self, agreement: &AgreementId) -> Result<Vec<Party>> {
        let Some(seal) = self.seal_of(agreement).await? else {
            return Ok(Vec::new());
        };
        // A representative's signature counts for the party they signed for.
        let principals: Vec<String> = sqlx::query(
            "SELECT COALESCE(on_behalf_of, signer_id) FROM agreement_signatures \
             WHERE agreement_id = $1 AND version = $2 AND status = 'signed'",
        )
        .bind(agreement)
        .bind(seal.version)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
        let case_id = self.agreement(agreement).await?.case_id;
        Ok(self
            .parties(&case_id)
            .await?
            .into_iter()
            .filter(|p| {
                matches!(p.kind, PartyKind::Person | PartyKind::Organisation)
                    && p.represents.is_none()
                    && principals.iter().any(|id| id == p.id.as_str())
            })
            .collect())
    }

    /// The court Accord proposes for the agreement's case ([`venue::propose`]).
    pub async fn confirmation_proposal(&self, case: &Case) -> Result<Proposal> {
        let org = self.organisation(&case.organisation_id).await?;
        Ok(venue::propose(&org, case))
    }

    /// `party` applies, by `applied_by` (the party, or their representative with a power of
    /// attorney on file), giving `address` for service (2–200 characters). Checks, in this
    /// order: the agreement is in force ([`Rule::NotInForce`]), is not about personal status
    /// ([`Rule::NotConfirmable`]), `party` must apply and `applied_by` may apply for them
    /// ([`Rule::NotAnApplicant`], [`Rule::AttorneyLetterMissing`]); a party who applied
    /// already gets the request back unchanged; otherwise the window must be open
    /// ([`Rule::WindowClosed`]) and the request not yet submitted ([`Rule::RequestSubmitted`]).
    /// The first application makes the request, for the proposed court unless the mediator
    /// chose one. Audited `confirmation.applied` (without the address).
    pub async fn apply_for_confirmation(
        &self,
        actor: &Actor,
        agreement: &AgreementId,
        party: &PartyId,
        applied_by: &PartyId,
        address: &str,
        now_ms: i64,
    ) -> Result<ApplyOutcome> {
        let sealed = self.sealed(agreement).await?;
        let required = self.required_applicants(agreement).await?;
        if !required.iter().any(|p| &p.id == party) {
            return Err(Error::Rule(Rule::NotAnApplicant));
        }
        let by = self
            .applicant_by(&sealed.case.id, party, applied_by)
            .await?;
        let address = bounded("address", address, 2, 200)?;
        if let Some(request) = self.confirmation_of_agreement(agreement).await? {
            let applied = self.confirmation_applicants(&request.id).await?;
            if applied.iter().any(|a| &a.party_id == party) {
                let all_applied = all_applied(&required, &applied);
                return Ok(ApplyOutcome {
                    request,
                    all_applied,
                });
            }
        }
        if window(sealed.effective_at, now_ms).closed {
            return Err(Error::Rule(Rule::WindowClosed));
        }
        let proposal = self.confirmation_proposal(&sealed.case).await?;
        let mut tx = self.begin().await?;
        let request = self
            .request_for_update(&mut tx, agreement, &sealed, &proposal, now_ms)
            .await?;
        if request.status != RequestStatus::Applying {
            return Err(Error::Rule(Rule::RequestSubmitted));
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO confirmation_applicants ({APPLICANT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id, party_id) DO NOTHING"
        ))
        .bind(&request.id)
        .bind(party)
        .bind(applied_by)
        .bind(&by.name)
        .bind(&address)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            sqlx::query("UPDATE confirmation_requests SET updated_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(&request.id)
                .execute(&mut *tx)
                .await?;
            self.audit(
                &mut tx,
                actor,
                AuditAction::ConfirmationApplied,
                &subject(&sealed.case.id),
                json!({"request": request.id, "agreement": agreement,
                       "version": sealed.version, "party": party, "applied_by": applied_by}),
            )
            .await?;
        }
        tx.commit().await?;
        let request = self.confirmation_request(&request.id).await?;
        let applied = self.confirmation_applicants(&request.id).await?;
        Ok(ApplyOutcome {
            all_applied: all_applied(&required, &applied),
            request,
        })
    }

    /// The mediator names the court (2–80 characters) with a reason (2–500): while the
    /// request is applying, or before anyone applied (which makes the request, with no
    /// applicant yet). Refused once submitted ([`Rule::RequestSubmitted`]). Audited
    /// `confirmation.court_changed`. Who may do this (the case's mediator) is the caller's check.
    pub async fn choose_court(
        &self,
        actor: &Actor,
        agreement: &AgreementId,
        court: &str,
        reason: &str,
        proposal: &Proposal,
    ) -> Result<ConfirmationRequest> {
        let court = bounded("court", court, 2, 80)?;
        let reason = bounded("reason", reason, 2, 500)?;
        let sealed = self.sealed(agreement).await?;
        let now = super::now_ms();
        let mut tx = self.begin().await?;
        let request = self
            .request_for_update(&mut tx, agreement, &sealed, proposal, now)
            .await?;
        if request.status != RequestStatus::Applying {
            return Err(Error::Rule(Rule::RequestSubmitted));
        }
        let by = match actor {
            Actor::Staff(id) => id.to_string(),
            other => other.label(),
        };
        sqlx::query(
            "UPDATE confirmation_requests SET court = $1, court_reason = $2, \
             court_changed_by = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(&court)
        .bind(&reason)
        .bind(&by)
        .bind(now)
        .bind(&request.id)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::ConfirmationCourtChanged,
            &subject(&sealed.case.id),
            json!({"request": request.id, "from": request.court, "to": court,
                   "reason": reason}),
        )
        .await?;
        tx.commit().await?;
        self.confirmation_request(&request.id).await
    }

    /// Hands the request to the court, in one transaction: `applying` → `submitted` with the
    /// stored package (`package` = its SHA-256 and size) and 申请书 PDF, the case to
    /// `confirmation_requested` with the request's court, and the outbox row when the court
    /// has a system to deliver to. Refused unless every party applied
    /// ([`Error::Conflict`]) and a court is set; a second submission is
    /// [`Rule::RequestSubmitted`]. Audited `confirmation.submitted` and `case.status_changed`.
    pub async fn submit_confirmation(
        &self,
        actor: &Actor,
        request: &ConfirmationRequestId,
        package: (&str, i64),
        application_sha256: &str,
        outbox: Option<NewOutbox>,
        now_ms: i64,
    ) -> Result<ConfirmationRequest> {
        let (package_sha256, package_size) = package;
        let current = self.confirmation_request(request).await?;
        let required = self.required_applicants(&current.agreement_id).await?;
        let mut tx = self.begin().await?;
        let locked = self.locked_request(&mut tx, request).await?;
        if locked.status != RequestStatus::Applying {
            return Err(Error::Rule(Rule::RequestSubmitted));
        }
        let applied = applicants_in(&mut tx, request).await?;
        if required.is_empty() || !all_applied(&required, &applied) {
            return Err(Error::Conflict(
                "not every party has applied for confirmation yet".into(),
            ));
        }
        let court = locked
            .court
            .clone()
            .ok_or_else(|| Error::Conflict("choose the court the request goes to first".into()))?;
        sqlx::query(
            "UPDATE confirmation_requests SET status = $1, submitted_at = $2, \
             package_sha256 = $3, package_size = $4, application_sha256 = $5, updated_at = $2 \
             WHERE id = $6",
        )
        .bind(RequestStatus::Submitted.as_str())
        .bind(now_ms)
        .bind(package_sha256)
        .bind(package_size)
        .bind(application_sha256)
        .bind(request)
        .execute(&mut *tx)
        .await?;
        let outbox_id = match outbox {
            Some(new) => Some(insert_outbox(&mut tx, request, package_sha256, new, now_ms).await?),
            None => None,
        };
        // The case's row before the audit head, in the order every case change takes them.
        self.case_follows(
            &mut tx,
            actor,
            &locked.case_id,
            CaseStatus::ConfirmationRequested,
            Some(&court),
            now_ms,
        )
        .await?;
        self.audit(
            &mut tx,
            actor,
            AuditAction::ConfirmationSubmitted,
            &subject(&locked.case_id),
            json!({"request": request, "court": court, "package_sha256": package_sha256,
                   "package_size": package_size, "application_sha256": application_sha256,
                   "outbox": outbox_id}),
        )
        .await?;
        tx.commit().await?;
        self.confirmation_request(request).await
    }

    /// The requests sent to `court`, newest first, with their case and organisation.
    pub async fn confirmation_inbox(
        &self,
        court: &str,
        state: InboxState,
    ) -> Result<Vec<(ConfirmationRequest, Case, Organisation)>> {
        let requests = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM confirmation_requests \
             WHERE court = $1 AND status <> $2 ORDER BY submitted_at DESC, id DESC"
        ))
        .bind(court)
        .bind(RequestStatus::Applying.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(request_from_row)
        .collect::<Result<Vec<_>>>()?;
        let mut organisations: Vec<Organisation> = Vec::new();
        let mut inbox = Vec::new();
        for request in requests.into_iter().filter(|r| state.lists(r.status)) {
            let case = self.case(&request.case_id).await?;
            let org = match organisations.iter().find(|o| o.id == case.organisation_id) {
                Some(org) => org.clone(),
                None => {
                    let org = self.organisation(&case.organisation_id).await?;
                    organisations.push(org.clone());
                    org
                }
            };
            inbox.push((request, case, org));
        }
        Ok(inbox)
    }

    /// Every request of these cases (for the case list's badges), oldest first per case.
    pub async fn confirmation_requests_of_cases(
        &self,
        cases: &[CaseId],
    ) -> Result<Vec<ConfirmationRequest>> {
        if cases.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=cases.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM confirmation_requests WHERE case_id IN ({}) \
             ORDER BY case_id, created_at, id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for case in cases {
            query = query.bind(case);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(request_from_row)
            .collect()
    }

    /// The request row, locked inside `tx`.
    pub(super) async fn locked_request(
        &self,
        tx: &mut Tx,
        id: &ConfirmationRequestId,
    ) -> Result<ConfirmationRequest> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM confirmation_requests WHERE id = $1{}",
            self.backend.lock_row()
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::NotFound("no such confirmation request"))?;
        request_from_row(&row)
    }

    /// The sealed version's case, hash and effective time; refuses an agreement that is not
    /// in force or concerns personal status.
    async fn sealed(&self, agreement: &AgreementId) -> Result<Sealed> {
        let found = self.agreement(agreement).await?;
        let seal = match self.seal_of(agreement).await? {
            Some(seal) if found.status == AgreementStatus::InForce => seal,
            _ => return Err(Error::Rule(Rule::NotInForce)),
        };
        if self.personal_status(&found.case_id).await? {
            return Err(Error::Rule(Rule::NotConfirmable));
        }
        let text_sha256 = self.version(agreement, seal.version).await?.text_sha256;
        Ok(Sealed {
            case: self.case(&found.case_id).await?,
            version: seal.version,
            text_sha256,
            effective_at: seal.effective_at,
        })
    }

    /// Who applies for `party`: the party themselves, or a representative of theirs with a
    /// power of attorney on file.
    async fn applicant_by(
        &self,
        case: &CaseId,
        party: &PartyId,
        applied_by: &PartyId,
    ) -> Result<Party> {
        let by = self.party(applied_by).await?;
        if &by.case_id != case {
            return Err(Error::Rule(Rule::NotAnApplicant));
        }
        if &by.id == party {
            return Ok(by);
        }
        if by.kind != PartyKind::Representative || by.represents.as_ref() != Some(party) {
            return Err(Error::Rule(Rule::NotAnApplicant));
        }
        if by.attorney_letter.is_none() {
            return Err(Error::Rule(Rule::AttorneyLetterMissing));
        }
        Ok(by)
    }

    /// The request of the sealed version, locked inside `tx` after the agreement's row (which
    /// serialises its creation); made with the proposed court when there is none.
    async fn request_for_update(
        &self,
        tx: &mut Tx,
        agreement: &AgreementId,
        sealed: &Sealed,
        proposal: &Proposal,
        now_ms: i64,
    ) -> Result<ConfirmationRequest> {
        self.locked_agreement(tx, agreement).await?;
        let existing = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM confirmation_requests \
             WHERE agreement_id = $1 AND version = $2{}",
            self.backend.lock_row()
        ))
        .bind(agreement)
        .bind(sealed.version)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = existing {
            return request_from_row(&row);
        }
        let id: ConfirmationRequestId = new_id("CR");
        sqlx::query(
            "INSERT INTO confirmation_requests (id, case_id, agreement_id, version, text_sha256, \
             court, court_proposed, court_basis, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $9)",
        )
        .bind(&id)
        .bind(&sealed.case.id)
        .bind(agreement)
        .bind(sealed.version)
        .bind(&sealed.text_sha256)
        .bind(&proposal.court)
        .bind(proposal.basis.map(|b| b.as_str()))
        .bind(RequestStatus::Applying.as_str())
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM confirmation_requests WHERE id = $1"
        ))
        .bind(&id)
        .fetch_one(&mut **tx)
        .await?;
        request_from_row(&row)
    }

    /// The organisation of a case, for callers that list requests with their organisation.
    pub async fn organisation_of_case(&self, case: &CaseId) -> Result<Organisation> {
        let org: OrganisationId = self.case(case).await?.organisation_id;
        self.organisation(&org).await
    }
}

/// Whether everyone in `required` has an application in `applied`.
fn all_applied(required: &[Party], applied: &[Applicant]) -> bool {
    required
        .iter()
        .all(|p| applied.iter().any(|a| a.party_id == p.id))
}

async fn applicants_in(tx: &mut Tx, request: &ConfirmationRequestId) -> Result<Vec<Applicant>> {
    sqlx::query(&format!(
        "SELECT {APPLICANT_COLUMNS} FROM confirmation_applicants WHERE request_id = $1"
    ))
    .bind(request)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(applicant_from_row)
    .collect()
}

/// Inserts the outbox row of a submission; its idempotency key stays the same on every
/// attempt (`<request id>.<first 16 hex of the package hash>`).
async fn insert_outbox(
    tx: &mut Tx,
    request: &ConfirmationRequestId,
    package_sha256: &str,
    new: NewOutbox,
    now_ms: i64,
) -> Result<String> {
    let id: String = new_id("OB");
    let short = package_sha256.get(..16).unwrap_or(package_sha256);
    sqlx::query(
        "INSERT INTO confirmation_outbox (id, request_id, court, endpoint, idempotency_key, \
         package_sha256, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
    )
    .bind(&id)
    .bind(request)
    .bind(&new.court)
    .bind(&new.endpoint)
    .bind(format!("{request}.{short}"))
    .bind(package_sha256)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// `value` trimmed, refused as field `field` unless it has `min..=max` characters.
pub(super) fn bounded(field: &'static str, value: &str, min: usize, max: usize) -> Result<String> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(Error::field(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

pub(super) fn request_from_row(row: &AnyRow) -> Result<ConfirmationRequest> {
    Ok(ConfirmationRequest {
        id: row.try_get(0)?,
        case_id: row.try_get(1)?,
        agreement_id: row.try_get(2)?,
        version: row.try_get(3)?,
        text_sha256: row.try_get(4)?,
        court: row.try_get(5)?,
        court_proposed: row.try_get(6)?,
        court_basis: row.try_get(7)?,
        court_reason: row.try_get(8)?,
        court_changed_by: row.try_get(9)?,
        status: RequestStatus::parse(&row.try_get::<String, _>(10)?)?,
        created_at: row.try_get(11)?,
        submitted_at: row.try_get(12)?,
        received_at: row.try_get(13)?,
        accepted_at: row.try_get(14)?,
        court_case_number: row.try_get(15)?,
        extended_at: row.try_get(16)?,
        extension_reason: row.try_get(17)?,
        decided_at: row.try_get(18)?,
        ruling_number: row.try_get(19)?,
        ruling_date: row.try_get(20)?,
        ruling_sha256: row.try_get(21)?,
        reject_reasons: row.try_get(22)?,
        package_sha256: row.try_get(23)?,
        package_size: row.try_get(24)?,
        application_sha256: row.try_get(25)?,
        updated_at: row.try_get(26)?,
    })
}

fn applicant_from_row(row: &AnyRow) -> Result<Applicant> {
    Ok(Applicant {
        request_id: row.try_get(0)?,
        party_id: row.try_get(1)?,
        applied_by: row.try_get(2)?,
        applied_by_name: row.try_get(3)?,
        address: row.try_get(4)?,
        applied_at: row.try_get(5)?,
    })
}
