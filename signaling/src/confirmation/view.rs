//! The ConfirmationView: where an agreement's judicial confirmation stands, as the caller
//! sees it (`GET /api/v1/agreements/{id}/confirmation`). Everything time-dependent is computed
//! at the edge's clock ([`AppState::now_ms`]) from the domain's window, venue and clocks.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::identity::{self, IdentityProofView};
use super::{Caller, LinkCaller, hit, limits};
use crate::AppState;
use crate::error::Result;
use accord_cases::agreements::model::{Agreement, AgreementStatus};
use accord_cases::confirmation::model::{Applicant, ConfirmationRequest, RequestStatus};
use accord_cases::confirmation::{clocks, venue, window};
use accord_cases::store::model::{Case, Party, PartyKind, Side};
use accord_cases::{AgreementId, CaseId, ConfirmationRequestId, PartyId, StaffId};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/agreements/{id}/confirmation", get(show))
}

/// Where an agreement's confirmation stands, for one caller.
#[derive(Debug, Serialize)]
pub struct ConfirmationView {
    agreement_id: AgreementId,
    case_id: CaseId,
    case_number: String,
    request_id: Option<ConfirmationRequestId>,
    confirmable: bool,
    blocked: Option<&'static str>,
    window: Option<WindowView>,
    court: CourtView,
    applicants: Vec<ApplicantView>,
    status: Option<&'static str>,
    clocks: Option<ClocksView>,
    decision: Option<DecisionView>,
    next_steps: Vec<&'static str>,
    package: Option<PackageView>,
    application_pdf: bool,
    delivery: Option<DeliveryView>,
    /// The proofs of identity the caller sees: staff and the court all of them, a party
    /// their own and those of whom they represent.
    identity_proofs: Vec<IdentityProofView>,
    me: MeView,
}

#[derive(Debug, Serialize)]
struct WindowView {
    effective_at: i64,
    deadline_at: i64,
    days_left: i64,
    warning: Option<&'static str>,
    closed: bool,
}

#[derive(Debug, Serialize)]
struct CourtView {
    proposed: Option<String>,
    basis: Option<&'static str>,
    /// The mediator's choice, when they changed the proposal.
    chosen: Option<String>,
    reason: Option<String>,
    changed_by_name: Option<String>,
    venue_note: String,
    may_change: bool,
}

#[derive(Debug, Serialize)]
struct ApplicantView {
    party_id: PartyId,
    name: String,
    side: Side,
    applied: bool,
    applied_at: Option<i64>,
    applied_by_name: Option<String>,
    may_apply: bool,
    cannot_apply_reason: Option<&'static str>,
    /// How many proofs of identity the party has on file.
    identity_proofs: u32,
}

#[derive(Debug, Serialize)]
struct ClocksView {
    submitted_at: Option<i64>,
    received_at: Option<i64>,
    accepted_at: Option<i64>,
    accept_due_at: Option<i64>,
    ruling_due_at: Option<i64>,
    extended: bool,
    extension_reason: Option<String>,
    overdue: bool,
}

/// The court's decision, as every confirmation answer shows it.
#[derive(Debug, Serialize)]
pub struct DecisionView {
    court_case_number: Option<String>,
    decided_at: Option<i64>,
    ruling_number: Option<String>,
    ruling_date: Option<String>,
    has_ruling: bool,
    reject_reasons: Option<String>,
}

impl DecisionView {
    /// The decision of `request`, once the court accepted or decided it.
    pub fn of(request: &ConfirmationRequest) -> Option<Self> {
        (request.accepted_at.is_some() || request.decided_at.is_some()).then(|| Self {
            court_case_number: request.court_case_number.clone(),
            decided_at: request.decided_at,
            ruling_number: request.ruling_number.clone(),
            ruling_date: request.ruling_date.clone(),
            has_ruling: request.ruling_sha256.is_some(),
            reject_reasons: request.reject_reasons.clone(),
        })
    }
}

#[derive(Debug, Serialize)]
struct PackageView {
    sha256: String,
    size: i64,
}

#[derive(Debug, Serialize)]
struct DeliveryView {
    court_system: bool,
    state: &'static str,
    attempts: i64,
    last_error: Option<String>,
    delivered_at: Option<i64>,
}

#[derive(Debug, Serialize)]
struct MeView {
    kind: &'static str,
    may_apply: bool,
    applied: bool,
    for_party_ids: Vec<PartyId>,
}

/// Why a party may not apply now, in the order the rules are checked.
fn blocked_reason(
    blocked: Option<&'static str>,
    closed: bool,
    status: Option<RequestStatus>,
) -> Option<&'static str> {
    if let Some(blocked) = blocked {
        return Some(blocked);
    }
    if status.is_some_and(|s| s != RequestStatus::Applying) {
        return Some("request_submitted");
    }
    closed.then_some("confirmation_window_closed")
}

/// The parties the caller may apply for: themselves if they must apply, and each party they
/// represent with a power of attorney on file.
pub fn applies_for(caller: &Caller, required: &[Party], all: &[Party]) -> Vec<PartyId> {
    let Some(me) = caller.party_id() else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    if required.iter().any(|p| p.id == me) {
        ids.push(me.clone());
    }
    if let Some(me) = all.iter().find(|p| p.id == me)
        && me.kind == PartyKind::Representative
        && me.attorney_letter.is_some()
        && let Some(represented) = &me.represents
        && required.iter().any(|p| &p.id == represented)
    {
        ids.push(represented.clone());
    }
    ids
}

/// Whether the agreement may go to a court at all: in force, and not about personal status.
pub async fn blocked(
    state: &AppState,
    agreement: &Agreement,
    case: &Case,
) -> Result<Option<&'static str>> {
    if agreement.status != AgreementStatus::InForce {
        return Ok(Some("agreement_not_in_force"));
    }
    if !state.store().e_signable(&case.id).await?.e_signable {
        return Ok(Some("not_confirmable"));
    }
    Ok(None)
}

/// The view of `agreement`'s confirmation for `caller`.
pub async fn confirmation_view(
    state: &AppState,
    caller: &Caller,
    agreement: &Agreement,
    case: &Case,
) -> Result<ConfirmationView> {
    let store = state.store();
    let now = state.now_ms();
    let blocked = blocked(state, agreement, case).await?;
    let in_force = agreement.status == AgreementStatus::InForce;
    let mut request = if in_force {
        store.confirmation_of_agreement(&agreement.id).await?
    } else {
        None
    };
    // A delivery and the request's move to `received` are one transaction, but two reads: the
    // delivery can be seen done while the request read before it still says `submitted`.
    let outbox = match &request {
        Some(r) if r.submitted_at.is_some() => store.outbox_of_request(&r.id).await?,
        _ => None,
    };
    if outbox.as_ref().is_some_and(|o| o.delivered_at.is_some())
        && request
            .as_ref()
            .is_some_and(|r| r.status == RequestStatus::Submitted)
    {
        request = store.confirmation_of_agreement(&agreement.id).await?;
    }
    let effective_at = if in_force {
        store
            .seal_of(&agreement.id)
            .await?
            .map(|seal| seal.effective_at)
    } else {
        None
    };
    let window = effective_at.map(|at| window::window(at, now));
    let closed = window.as_ref().is_some_and(|w| w.closed);
    let status = request.as_ref().map(|r| r.status);
    let organisation = store.organisation(&case.organisation_id).await?;
    let proposal = venue::propose(&organisation, case);

    let all_parties = store.parties(&case.id).await?;
    let required = if in_force {
        store.required_applicants(&agreement.id).await?
    } else {
        Vec::new()
    };
    let applied: Vec<Applicant> = match &request {
        Some(r) => store.confirmation_applicants(&r.id).await?,
        None => Vec::new(),
    };
    let mine = applies_for(caller, &required, &all_parties);
    let proofs = store.identity_proofs(&case.id).await?;
    let refusal = blocked_reason(blocked, closed, status);
    let applicants: Vec<ApplicantView> = required
        .iter()
        .map(|party| {
            let done = applied.iter().find(|a| a.party_id == party.id);
            let reason = if done.is_some() {
                Some("applied")
            } else if let Some(reason) = refusal {
                Some(reason)
            } else if !mine.contains(&party.id) {
                Some(if caller.party_id().is_some() {
                    "not_an_applicant"
                } else {
                    "parties_apply"
                })
            } else {
                None
            };
            ApplicantView {
                party_id: party.id.clone(),
                name: party.name.clone(),
                side: party.side,
                applied: done.is_some(),
                applied_at: done.map(|a| a.applied_at),
                applied_by_name: done.map(|a| a.applied_by_name.clone()),
                may_apply: reason.is_none(),
                cannot_apply_reason: reason,
                identity_proofs: u32::try_from(
                    proofs.iter().filter(|p| p.party_id == party.id).count(),
                )
                .unwrap_or(u32::MAX),
            }
        })
        .collect();

    let court = court_view(state, caller, case, request.as_ref(), &proposal, in_force).await?;
    let next_steps = match status {
        Some(RequestStatus::Rejected) => vec!["amend", "new_agreement", "litigation"],
        None | Some(RequestStatus::Applying) if closed => vec!["new_agreement", "litigation"],
        _ => Vec::new(),
    };
    let delivery = outbox.map(|item| {
        let state = if item.delivered_at.is_some() {
            "delivered"
        } else if item.given_up_at.is_some() {
            "given_up"
        } else if item.last_error.is_some() {
            // An attempt failed and another is due. A claim counts its attempt before it
            // is made, so attempts alone would call a first delivery in flight a retry.
            "retrying"
        } else {
            "pending"
        };
        DeliveryView {
            court_system: true,
            state,
            attempts: item.attempts,
            last_error: item.last_error,
            delivered_at: item.delivered_at,
        }
    });
    let changeable = identity::changeable(state, case).await?;
    let identity_proofs = identity::views(caller, case, &proofs, &all_parties, changeable);
    let me = MeView {
        kind: match caller {
            Caller::Party(_) => "party",
            Caller::Staff(_) if caller.is_court() => "court",
            Caller::Staff(_) => "staff",
        },
        may_apply: applicants.iter().any(|a| a.may_apply),
        applied: caller.party_id().is_some_and(|me| {
            applied
                .iter()
                .any(|a| a.party_id == me || a.applied_by == me.as_str())
        }),
        for_party_ids: mine,
    };
    Ok(ConfirmationView {
        agreement_id: agreement.id.clone(),
        case_id: case.id.clone(),
        case_number: case.number.clone(),
        request_id: request.as_ref().map(|r| r.id.clone()),
        confirmable: blocked.is_none() && !closed,
        blocked,
        window: window.map(|w| WindowView {
            effective_at: w.effective_at,
            deadline_at: w.deadline_at,
            days_left: w.days_left,
            warning: w.warning.map(|level| level.as_str()),
            closed: w.closed,
        }),
        court,
        applicants,
        status: status.map(|s| s.as_str()),
        clocks: request
            .as_ref()
            .filter(|r| r.submitted_at.is_some())
            .map(|r| {
                let due = clocks::clocks(r, now);
                ClocksView {
                    submitted_at: r.submitted_at,
                    received_at: r.received_at,
                    accepted_at: r.accepted_at,
                    accept_due_at: due.accept_due_at,
                    ruling_due_at: due.ruling_due_at,
                    extended: r.extended_at.is_some(),
                    extension_reason: r.extension_reason.clone(),
                    overdue: due.overdue,
                }
            }),
        decision: request.as_ref().and_then(DecisionView::of),
        next_steps,
        package: request.as_ref().and_then(|r| {
            Some(PackageView {
                sha256: r.package_sha256.clone()?,
                size: r.package_size?,
            })
        }),
        application_pdf: request
            .as_ref()
            .is_some_and(|r| r.application_sha256.is_some()),
        delivery,
        identity_proofs,
        me,
    })
}

async fn court_view(
    state: &AppState,
    caller: &Caller,
    case: &Case,
    request: Option<&ConfirmationRequest>,
    proposal: &venue::Proposal,
    in_force: bool,
) -> Result<CourtView> {
    let changed_by = request.and_then(|r| r.court_changed_by.clone());
    let changed_by_name = match &changed_by {
        Some(id) => match state.store().staff(&StaffId::from(id.as_str())).await {
            Ok(staff) => Some(staff.display_name),
            Err(accord_cases::Error::NotFound(_)) => None,
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    let still_applying = request.is_none_or(|r| r.status == RequestStatus::Applying);
    Ok(CourtView {
        proposed: request
            .and_then(|r| r.court_proposed.clone())
            .or_else(|| proposal.court.clone()),
        basis: match request.and_then(|r| r.court_basis.as_deref()) {
            Some(stored) => basis_label(stored),
            None => proposal.basis.map(|b| b.as_str()),
        },
        chosen: changed_by
            .as_ref()
            .and(request.and_then(|r| r.court.clone())),
        reason: request.and_then(|r| r.court_reason.clone()),
        changed_by_name,
        venue_note: proposal.note.clone(),
        may_change: in_force && still_applying && caller.mediates(case),
    })
}

/// The stored basis as the view's fixed words (the column is free text).
fn basis_label(stored: &str) -> Option<&'static str> {
    [
        venue::CourtBasis::InvitingCourt,
        venue::CourtBasis::OrganisationSeat,
    ]
    .into_iter()
    .map(|b| b.as_str())
    .find(|label| *label == stored)
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    LinkCaller(caller): LinkCaller,
) -> Result<Json<ConfirmationView>> {
    hit(&limits(&state).views, caller.identity())?;
    let (agreement, case) = caller.agreement(&state, &id).await?;
    // A package that could not be built when the last party applied is built now.
    super::apply::submit_if_complete(&state, &agreement).await;
    Ok(Json(
        confirmation_view(&state, &caller, &agreement, &case).await?,
    ))
}

/// A case's confirmation as the case list shows it: the request's status, and while nobody
/// has submitted, the days left of the window and its warning.
#[derive(Clone, Debug, Serialize)]
pub struct CaseBadge {
    status: Option<&'static str>,
    days_left: Option<i64>,
    warning: Option<&'static str>,
}

/// The badges of a page of cases, in their order: `None` for a case whose agreement is not
/// in force. One query for the requests of the whole page; a case in force without a
/// submitted request reads its seal for the window.
pub async fn case_badges(state: &AppState, cases: &[Case]) -> Result<Vec<Option<CaseBadge>>> {
    use accord_cases::store::model::CaseStatus;
    let store = state.store();
    let now = state.now_ms();
    let ids: Vec<CaseId> = cases.iter().map(|c| c.id.clone()).collect();
    let requests = store.confirmation_requests_of_cases(&ids).await?;
    let mut badges = Vec::with_capacity(cases.len());
    for case in cases {
        let in_force = matches!(
            case.status,
            CaseStatus::Signed
                | CaseStatus::ConfirmationRequested
                | CaseStatus::Confirmed
                | CaseStatus::Rejected
                | CaseStatus::FollowUp
                | CaseStatus::Closed
        );
        // The newest request of the case (they come oldest first).
        let request = requests.iter().rev().find(|r| r.case_id == case.id);
        if !in_force && request.is_none() {
            badges.push(None);
            continue;
        }
        let submitted = request.is_some_and(|r| r.submitted_at.is_some());
        let window = if submitted {
            None
        } else {
            match store.agreement_of_case(&case.id).await? {
                Some(agreement) if agreement.status == AgreementStatus::InForce => store
                    .seal_of(&agreement.id)
                    .await?
                    .map(|seal| window::window(seal.effective_at, now)),
                _ => None,
            }
        };
        if request.is_none() && window.is_none() {
            badges.push(None);
            continue;
        }
        badges.push(Some(CaseBadge {
            status: request.map(|r| r.status.as_str()),
            days_left: window.as_ref().filter(|w| !w.closed).map(|w| w.days_left),
            warning: window
                .as_ref()
                .and_then(|w| w.warning)
                .map(|level| level.as_str()),
        }));
    }
    Ok(badges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_cases::tokens::{JoinClaims, Role};

    fn party(id: &str, kind: PartyKind, represents: Option<&str>, letter: bool) -> Party {
        Party {
            id: PartyId::from(id),
            case_id: CaseId::from("CA_1"),
            side: Side::Respondent,
            kind,
            name: id.to_owned(),
            phone: None,
            id_number_masked: None,
            represents: represents.map(PartyId::from),
            attorney_letter: letter.then(|| "ab".repeat(32)),
            created_at: 0,
        }
    }

    fn as_party(id: &str) -> Caller {
        Caller::Party(JoinClaims {
            sub: id.to_owned(),
            name: id.to_owned(),
            room: String::new(),
            role: Role::Party,
            can_publish: false,
            can_subscribe: false,
            hidden: false,
            case: Some("CA_1".into()),
            session: None,
            inv: None,
            aud: String::new(),
            iat: 0,
            nbf: 0,
            exp: 0,
        })
    }

    #[test]
    fn a_party_applies_for_themselves_and_a_representative_only_with_a_power_of_attorney() {
        let li = party("PT_li", PartyKind::Person, None, false);
        let qian = party("PT_qian", PartyKind::Representative, Some("PT_li"), true);
        let zhao = party("PT_zhao", PartyKind::Representative, Some("PT_li"), false);
        let required = vec![li.clone()];
        let all = vec![li, qian, zhao];
        assert_eq!(
            applies_for(&as_party("PT_li"), &required, &all),
            [PartyId::from("PT_li")]
        );
        assert_eq!(
            applies_for(&as_party("PT_qian"), &required, &all),
            [PartyId::from("PT_li")]
        );
        assert!(applies_for(&as_party("PT_zhao"), &required, &all).is_empty());
    }

    #[test]
    fn a_closed_window_or_a_submitted_request_stops_applying() {
        assert_eq!(blocked_reason(None, false, None), None);
        assert_eq!(
            blocked_reason(None, true, Some(RequestStatus::Applying)),
            Some("confirmation_window_closed")
        );
        assert_eq!(
            blocked_reason(None, false, Some(RequestStatus::Submitted)),
            Some("request_submitted")
        );
        assert_eq!(
            blocked_reason(Some("not_confirmable"), true, None),
            Some("not_confirmable")
        );
    }
}
