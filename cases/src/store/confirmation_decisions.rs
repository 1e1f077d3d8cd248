//! The court's side of a request in the store: receipt, and the decisions (accept, extend,
//! confirm, reject) with the case following each one that ends the request. Each step is
//! allowed only from the statuses it follows ([`Rule::RequestState`] otherwise) and is made in
//! one transaction with its audit entry on the case's trail.

use serde_json::json;

use super::cases::subject;
use super::confirmation::bounded;
use super::model::{Actor, CaseStatus};
use super::vocabulary::AuditAction;
use super::{Store, Tx};
use crate::agreements::Rule;
use crate::confirmation::model::{ConfirmationRequest, CourtDecision, RequestStatus};
use crate::error::{Error, Result};
use crate::ids::{CaseId, ConfirmationRequestId};

impl Store {
    /// The court has the request (a court user opened it, or its system took delivery):
    /// `submitted` → `received`. A request further along is returned unchanged; one still
    /// applying is [`Rule::RequestState`]. Audited `confirmation.received`.
    pub async fn mark_confirmation_received(
        &self,
        actor: &Actor,
        id: &ConfirmationRequestId,
        now_ms: i64,
    ) -> Result<ConfirmationRequest> {
        let mut tx = self.begin().await?;
        let request = self.locked_request(&mut tx, id).await?;
        match request.status {
            RequestStatus::Applying => return Err(Error::Rule(Rule::RequestState)),
            RequestStatus::Submitted => {}
            _ => return Ok(request),
        }
        self.receive_in(&mut tx, actor, &request, now_ms).await?;
        tx.commit().await?;
        self.confirmation_request(id).await
    }

    /// Moves a submitted request to `received` inside `tx`, with its audit entry.
    pub(super) async fn receive_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        request: &ConfirmationRequest,
        now_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE confirmation_requests SET status = $1, received_at = $2, updated_at = $2 \
             WHERE id = $3",
        )
        .bind(RequestStatus::Received.as_str())
        .bind(now_ms)
        .bind(&request.id)
        .execute(&mut **tx)
        .await?;
        self.audit(
            tx,
            actor,
            AuditAction::ConfirmationReceived,
            &subject(&request.case_id),
            json!({"request": request.id, "court": request.court}),
        )
        .await
    }

    /// Records the court's `decision`. Accept from `submitted` or `received` (the court case
    /// number, 1–60 characters); extend once while `accepted` (a reason, 2–500); confirm from
    /// `accepted` (ruling number 1–60, date `YYYY-MM-DD`); reject from `submitted`,
    /// `received` or `accepted` (reasons, 2–2000). Anything else is [`Rule::RequestState`].
    /// Confirming or rejecting moves the case to `confirmed` or `rejected`.
    pub async fn decide_confirmation(
        &self,
        actor: &Actor,
        id: &ConfirmationRequestId,
        decision: CourtDecision,
        now_ms: i64,
    ) -> Result<ConfirmationRequest> {
        let mut tx = self.begin().await?;
        let request = self.locked_request(&mut tx, id).await?;
        let status = request.status;
        let (action, detail) = match decision {
            CourtDecision::Accept { court_case_number } => {
                let number = bounded("court_case_number", &court_case_number, 1, 60)?;
                if !matches!(status, RequestStatus::Submitted | RequestStatus::Received) {
                    return Err(Error::Rule(Rule::RequestState));
                }
                sqlx::query(
                    "UPDATE confirmation_requests SET status = $1, accepted_at = $2, \
                     received_at = COALESCE(received_at, $2), court_case_number = $3, \
                     updated_at = $2 WHERE id = $4",
                )
                .bind(RequestStatus::Accepted.as_str())
                .bind(now_ms)
                .bind(&number)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                (
                    AuditAction::ConfirmationAccepted,
                    json!({"request": id, "court_case_number": number}),
                )
            }
            CourtDecision::Extend { reason } => {
                let reason = bounded("reason", &reason, 2, 500)?;
                if status != RequestStatus::Accepted || request.extended_at.is_some() {
                    return Err(Error::Rule(Rule::RequestState));
                }
                sqlx::query(
                    "UPDATE confirmation_requests SET extended_at = $1, extension_reason = $2, \
                     updated_at = $1 WHERE id = $3",
                )
                .bind(now_ms)
                .bind(&reason)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                (
                    AuditAction::ConfirmationExtended,
                    json!({"request": id, "reason": reason}),
                )
            }
            CourtDecision::Confirm {
                ruling_number,
                ruling_date,
                ruling_sha256,
            } => {
                let number = bounded("ruling_number", &ruling_number, 1, 60)?;
                let date = calendar_date("ruling_date", &ruling_date)?;
                if status != RequestStatus::Accepted {
                    return Err(Error::Rule(Rule::RequestState));
                }
                sqlx::query(
                    "UPDATE confirmation_requests SET status = $1, decided_at = $2, \
                     ruling_number = $3, ruling_date = $4, ruling_sha256 = $5, updated_at = $2 \
                     WHERE id = $6",
                )
                .bind(RequestStatus::Confirmed.as_str())
                .bind(now_ms)
                .bind(&number)
                .bind(&date)
                .bind(&ruling_sha256)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                self.case_follows(
                    &mut tx,
                    actor,
                    &request.case_id,
                    CaseStatus::Confirmed,
                    None,
                    now_ms,
                )
                .await?;
                (
                    AuditAction::ConfirmationConfirmed,
                    json!({"request": id, "ruling_number": number, "ruling_date": date,
                           "ruling_sha256": ruling_sha256}),
                )
            }
            CourtDecision::Reject {
                reasons,
                ruling_number,
                ruling_sha256,
            } => {
                let reasons = bounded("reasons", &reasons, 2, 2000)?;
                let number = ruling_number
                    .as_deref()
                    .map(|n| bounded("ruling_number", n, 1, 60))
                    .transpose()?;
                if !status.is_open() {
                    return Err(Error::Rule(Rule::RequestState));
                }
                sqlx::query(
                    "UPDATE confirmation_requests SET status = $1, decided_at = $2, \
                     reject_reasons = $3, ruling_number = $4, ruling_sha256 = $5, \
                     received_at = COALESCE(received_at, $2), updated_at = $2 WHERE id = $6",
                )
                .bind(RequestStatus::Rejected.as_str())
                .bind(now_ms)
                .bind(&reasons)
                .bind(&number)
                .bind(&ruling_sha256)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                self.case_follows(
                    &mut tx,
                    actor,
                    &request.case_id,
                    CaseStatus::Rejected,
                    None,
                    now_ms,
                )
                .await?;
                (
                    AuditAction::ConfirmationRejected,
                    json!({"request": id, "reasons": reasons, "ruling_number": number,
                           "ruling_sha256": ruling_sha256}),
                )
            }
        };
        self.audit(&mut tx, actor, action, &subject(&request.case_id), detail)
            .await?;
        tx.commit().await?;
        self.confirmation_request(id).await
    }

    /// Moves the case to `to` inside `tx` as `transition_case` does (same audit entry), with
    /// `court` written when given: the request's court, not the organisation's, is where the
    /// case went. A case already there is left alone.
    pub(super) async fn case_follows(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        case: &CaseId,
        to: CaseStatus,
        court: Option<&str>,
        now_ms: i64,
    ) -> Result<()> {
        let from = self.locked_status(tx, case).await?;
        if from == to {
            return Ok(());
        }
        if !from.may_become(to) {
            return Err(Error::Conflict(format!(
                "a case that is `{}` cannot become `{}`",
                from.as_str(),
                to.as_str()
            )));
        }
        sqlx::query(
            "UPDATE cases SET status = $1, updated_at = $2, court = COALESCE($3, court) \
             WHERE id = $4",
        )
        .bind(to.as_str())
        .bind(now_ms)
        .bind(court)
        .bind(case)
        .execute(&mut **tx)
        .await?;
        self.audit(
            tx,
            actor,
            AuditAction::CaseStatusChanged,
            &subject(case),
            json!({"from": from, "to": to, "court": court}),
        )
        .await
    }
}

/// `value` as a real calendar date `YYYY-MM-DD`, refused as field `field` otherwise.
fn calendar_date(field: &'static str, value: &str) -> Result<String> {
    let value = value.trim();
    let bad = || Error::field(field, "must be a date written YYYY-MM-DD");
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| -> Result<i64> {
        let part = value.get(range).ok_or_else(bad)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if year < 2000 || !(1..=days_in_month).contains(&day) {
        return Err(bad());
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::calendar_date;

    #[test]
    fn ruling_dates_are_real_calendar_dates() {
        for good in ["2027-01-05", "2028-02-29", " 2026-12-31 "] {
            assert!(calendar_date("d", good).is_ok(), "{good}");
        }
        for bad in [
            "2027-02-29",
            "2027-13-01",
            "2027-1-5",
            "27-01-05",
            "2027/01/05",
            "",
            "2027-01-0a",
            "1999-01-01",
        ] {
            assert!(calendar_date("d", bad).is_err(), "{bad}");
        }
    }
}
