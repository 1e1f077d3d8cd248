//! The records of a request for judicial confirmation as the store keeps them: the request,
//! each party's application, the delivery to a court's system (the outbox) and the court's
//! decisions. Field names are the columns' (see `migrations/*/0011_confirmation.sql`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{AgreementId, CaseId, ConfirmationRequestId, PartyId};
use crate::store::model::text_enum;

text_enum!(
    /// Where a request stands. Each step only moves forward.
    RequestStatus {
        /// At least one party applied, not all (or the mediator chose the court first).
        Applying = "applying",
        /// Every party applied: the package is built and the court can see it.
        Submitted = "submitted",
        /// The court has it: a court user opened it, or the court's system took delivery.
        Received = "received",
        /// The court accepted it (立案), with its case number (调确字).
        Accepted = "accepted",
        /// The court confirmed the agreement (确认有效): it is enforceable.
        Confirmed = "confirmed",
        /// The court rejected the request (驳回).
        Rejected = "rejected",
    }
);

impl RequestStatus {
    /// Whether the request has left the parties' hands for good: submitted and not
    /// rejected (a rejected request lets them apply again). What went with it, such as the
    /// parties' proofs of identity, no longer changes.
    pub fn is_with_court(self) -> bool {
        !matches!(self, RequestStatus::Applying | RequestStatus::Rejected)
    }

    /// Whether the court has decided (confirmed or rejected).
    pub fn is_decided(self) -> bool {
        matches!(self, RequestStatus::Confirmed | RequestStatus::Rejected)
    }

    /// Whether the request is with the court and undecided.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestStatus::Submitted | RequestStatus::Received | RequestStatus::Accepted
        )
    }
}

/// A request for judicial confirmation of one sealed version of an agreement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfirmationRequest {
    /// `CR_…`.
    pub id: ConfirmationRequestId,
    /// The case.
    pub case_id: CaseId,
    /// The agreement.
    pub agreement_id: AgreementId,
    /// The sealed version applied for.
    pub version: i64,
    /// That version's text hash.
    pub text_sha256: String,
    /// The court it goes to: the proposal, or the mediator's choice.
    pub court: Option<String>,
    /// The court Accord proposed when the request was made.
    pub court_proposed: Option<String>,
    /// Why (`inviting_court` | `organisation_seat`), see [`super::venue::CourtBasis`].
    pub court_basis: Option<String>,
    /// The mediator's reason for choosing another court.
    pub court_reason: Option<String>,
    /// Who chose it (a staff id).
    pub court_changed_by: Option<String>,
    /// Where it stands.
    pub status: RequestStatus,
    /// Unix ms.
    pub created_at: i64,
    /// When every party had applied and the package was stored.
    pub submitted_at: Option<i64>,
    /// When the court had it.
    pub received_at: Option<i64>,
    /// When the court accepted it.
    pub accepted_at: Option<i64>,
    /// The court's case number (调确字).
    pub court_case_number: Option<String>,
    /// When the court extended its time to rule (once).
    pub extended_at: Option<i64>,
    /// Why.
    pub extension_reason: Option<String>,
    /// When the court confirmed or rejected.
    pub decided_at: Option<i64>,
    /// The ruling's number.
    pub ruling_number: Option<String>,
    /// The ruling's date, `YYYY-MM-DD`.
    pub ruling_date: Option<String>,
    /// SHA-256 of the ruling document in the blob store.
    pub ruling_sha256: Option<String>,
    /// The court's reasons for rejecting.
    pub reject_reasons: Option<String>,
    /// SHA-256 of the package ZIP in the blob store.
    pub package_sha256: Option<String>,
    /// Its size in bytes.
    pub package_size: Option<i64>,
    /// SHA-256 of the 申请书 PDF in the blob store.
    pub application_sha256: Option<String>,
    /// Unix ms of the last change.
    pub updated_at: i64,
}

/// One party's application. A representative with a power of attorney may apply for the
/// party they act for; the row is the party's either way. `Debug` leaves the address out, so
/// a logged value never carries it.
#[derive(Clone, PartialEq, Serialize)]
pub struct Applicant {
    /// The request.
    pub request_id: ConfirmationRequestId,
    /// The party who applies.
    pub party_id: PartyId,
    /// Who applied: the party, or their representative (`PT_…`).
    pub applied_by: String,
    /// Their name then.
    pub applied_by_name: String,
    /// Where the court serves documents (送达地址). Personal data: never logged.
    pub address: String,
    /// Unix ms.
    pub applied_at: i64,
}

impl std::fmt::Debug for Applicant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applicant")
            .field("request_id", &self.request_id)
            .field("party_id", &self.party_id)
            .field("applied_by", &self.applied_by)
            .field("address", &"…")
            .field("applied_at", &self.applied_at)
            .finish_non_exhaustive()
    }
}

/// A delivery of the package to a court's system, from the transactional outbox.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutboxItem {
    /// `OB_…`.
    pub id: String,
    /// The request delivered.
    pub request_id: ConfirmationRequestId,
    /// The court.
    pub court: String,
    /// Where the package is POSTed.
    pub endpoint: String,
    /// `<request id>.<package sha256, first 16 hex>`: the same on every attempt, so the
    /// court can drop a duplicate.
    pub idempotency_key: String,
    /// The package delivered.
    pub package_sha256: String,
    /// Attempts so far, counting the one under way: a claim counts as an attempt, so a
    /// node that dies mid-delivery still uses one up.
    pub attempts: i64,
    /// Not before this (Unix ms).
    pub next_attempt_at: i64,
    /// The node delivering it now.
    pub lease_owner: Option<String>,
    /// Until when that node holds it.
    pub lease_until: Option<i64>,
    /// When the court's system took it (2xx or 409).
    pub delivered_at: Option<i64>,
    /// When delivery stopped for good.
    pub given_up_at: Option<i64>,
    /// The last failure, for the case page (no secrets, no query strings).
    pub last_error: Option<String>,
    /// The last HTTP status answered.
    pub last_status: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
}

/// Where a new outbox row delivers to: a court with a configured endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutbox {
    /// The court.
    pub court: String,
    /// Its endpoint URL.
    pub endpoint: String,
}

/// What a court decides on a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CourtDecision {
    /// 受理: from submitted or received.
    Accept {
        /// 调确字 case number, 1–60 characters.
        court_case_number: String,
    },
    /// 延长审查期限 10 days: once, while accepted.
    Extend {
        /// 2–500 characters.
        reason: String,
    },
    /// 确认有效: from accepted.
    Confirm {
        /// 1–60 characters.
        ruling_number: String,
        /// `YYYY-MM-DD`.
        ruling_date: String,
        /// The uploaded ruling document, if any.
        ruling_sha256: Option<String>,
    },
    /// 驳回: from submitted, received or accepted.
    Reject {
        /// 2–2000 characters.
        reasons: String,
        /// The ruling's number, if one was made.
        ruling_number: Option<String>,
        /// The uploaded ruling document, if any.
        ruling_sha256: Option<String>,
    },
}

/// What an application did.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplyOutcome {
    /// The request after it.
    pub request: ConfirmationRequest,
    /// Whether every party who must apply has now applied: time to build the package and
    /// submit.
    pub all_applied: bool,
}

/// Which requests a court's inbox lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxState {
    /// With the court, undecided.
    Open,
    /// Confirmed or rejected.
    Decided,
    /// Both.
    All,
}

impl InboxState {
    /// `open`, `decided` or `all` from a query string.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(InboxState::Open),
            "decided" => Some(InboxState::Decided),
            "all" => Some(InboxState::All),
            _ => None,
        }
    }

    /// Whether a request in `status` is listed.
    pub fn lists(self, status: RequestStatus) -> bool {
        match self {
            InboxState::Open => status.is_open(),
            InboxState::Decided => status.is_decided(),
            InboxState::All => status != RequestStatus::Applying,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_applicant_logged_shows_no_address() {
        let applicant = Applicant {
            request_id: "CR_x".into(),
            party_id: "PT_x".into(),
            applied_by: "PT_x".into(),
            applied_by_name: "张三".into(),
            address: "深圳市宝安区新安街道 1 号".into(),
            applied_at: 0,
        };
        let logged = format!("{applicant:?}");
        assert!(
            !logged.contains("新安街道") && !logged.contains("张三"),
            "{logged}"
        );
    }

    #[test]
    fn the_inbox_lists_by_state() {
        use RequestStatus::*;
        assert!(InboxState::Open.lists(Received) && !InboxState::Open.lists(Confirmed));
        assert!(InboxState::Decided.lists(Rejected) && !InboxState::Decided.lists(Accepted));
        assert!(InboxState::All.lists(Submitted) && !InboxState::All.lists(Applying));
        assert_eq!(InboxState::parse("decided"), Some(InboxState::Decided));
        assert_eq!(InboxState::parse("closed"), None);
    }
}
