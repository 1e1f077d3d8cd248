//! The court's own clocks (法释〔2011〕5号 第四、五条): it decides whether to accept within
//! 3 days of receiving a request, and rules within 15 days of accepting it, extendable once
//! by 10. Counted in Beijing calendar days like the parties' window ([`super::window`]).

use serde::Serialize;

use super::model::{ConfirmationRequest, RequestStatus};
use super::window::{beijing_end_of_day_after, days_left};

/// Days to decide whether to accept.
pub const ACCEPT_DAYS: i64 = 3;
/// Days to rule once accepted.
pub const RULING_DAYS: i64 = 15;
/// Days an extension adds.
pub const EXTENSION_DAYS: i64 = 10;

/// A request's clocks at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Clocks {
    /// 24:00 Beijing time of the 3rd day after the court had the request (received, or
    /// submitted while nothing says it was received later).
    pub accept_due_at: Option<i64>,
    /// 24:00 Beijing time of the 15th day after acceptance, the 25th when extended.
    pub ruling_due_at: Option<i64>,
    /// Whether the clock that runs now has passed its due time.
    pub overdue: bool,
    /// Days left on the running clock ([`super::window::days_left`]); `None` when no clock
    /// runs (still applying, or decided).
    pub days_left: Option<i64>,
}

/// The clocks of `req` at `now_ms`.
pub fn clocks(req: &ConfirmationRequest, now_ms: i64) -> Clocks {
    let accept_due_at = req
        .received_at
        .or(req.submitted_at)
        .map(|from| beijing_end_of_day_after(from, ACCEPT_DAYS));
    let ruling_due_at = req.accepted_at.map(|from| {
        let days = if req.extended_at.is_some() {
            RULING_DAYS + EXTENSION_DAYS
        } else {
            RULING_DAYS
        };
        beijing_end_of_day_after(from, days)
    });
    let running = match req.status {
        RequestStatus::Submitted | RequestStatus::Received => accept_due_at,
        RequestStatus::Accepted => ruling_due_at,
        RequestStatus::Applying | RequestStatus::Confirmed | RequestStatus::Rejected => None,
    };
    Clocks {
        accept_due_at,
        ruling_due_at,
        overdue: running.is_some_and(|due| now_ms > due),
        days_left: running.map(|due| days_left(due, now_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    /// 2026-12-06T02:00:00Z, 10:00 in Beijing.
    const SUBMITTED: i64 = 1_796_522_400_000;
    /// 2026-12-07T00:00 in Beijing.
    const MIDNIGHT_AFTER: i64 = SUBMITTED + 14 * HOUR;

    fn request(status: RequestStatus) -> ConfirmationRequest {
        ConfirmationRequest {
            id: "CR_x".into(),
            case_id: "CA_x".into(),
            agreement_id: "AG_x".into(),
            version: 1,
            text_sha256: "ab".repeat(32),
            court: Some("宝安区人民法院".into()),
            court_proposed: None,
            court_basis: None,
            court_reason: None,
            court_changed_by: None,
            status,
            created_at: SUBMITTED,
            submitted_at: Some(SUBMITTED),
            received_at: None,
            accepted_at: None,
            court_case_number: None,
            extended_at: None,
            extension_reason: None,
            decided_at: None,
            ruling_number: None,
            ruling_date: None,
            ruling_sha256: None,
            reject_reasons: None,
            package_sha256: None,
            package_size: None,
            application_sha256: None,
            updated_at: SUBMITTED,
        }
    }

    #[test]
    fn the_court_has_three_days_to_accept_from_submission() {
        let c = clocks(&request(RequestStatus::Submitted), SUBMITTED);
        assert_eq!(c.accept_due_at, Some(MIDNIGHT_AFTER + 3 * DAY));
        assert_eq!(
            (c.ruling_due_at, c.overdue, c.days_left),
            (None, false, Some(3))
        );
        let c = clocks(
            &request(RequestStatus::Submitted),
            MIDNIGHT_AFTER + 3 * DAY + 1,
        );
        assert!(c.overdue);
        assert_eq!(c.days_left, Some(0));
    }

    #[test]
    fn a_later_receipt_by_the_court_system_starts_the_clock_then() {
        let mut req = request(RequestStatus::Received);
        req.received_at = Some(SUBMITTED + 2 * DAY);
        let c = clocks(&req, SUBMITTED + 2 * DAY);
        assert_eq!(c.accept_due_at, Some(MIDNIGHT_AFTER + 5 * DAY));
    }

    #[test]
    fn the_ruling_is_due_fifteen_days_after_acceptance_or_twenty_five_extended() {
        let mut req = request(RequestStatus::Accepted);
        req.accepted_at = Some(SUBMITTED + DAY);
        let c = clocks(&req, SUBMITTED + DAY);
        assert_eq!(c.ruling_due_at, Some(MIDNIGHT_AFTER + 16 * DAY));
        assert_eq!(c.days_left, Some(15));
        assert!(
            !clocks(&req, MIDNIGHT_AFTER + 10 * DAY).overdue,
            "accept clock no longer runs"
        );
        assert!(clocks(&req, MIDNIGHT_AFTER + 16 * DAY + 1).overdue);
        req.extended_at = Some(SUBMITTED + 10 * DAY);
        req.extension_reason = Some("案情复杂".into());
        let c = clocks(&req, MIDNIGHT_AFTER + 16 * DAY + 1);
        assert_eq!(c.ruling_due_at, Some(MIDNIGHT_AFTER + 26 * DAY));
        assert!(!c.overdue);
        assert_eq!(c.days_left, Some(9));
    }

    #[test]
    fn no_clock_runs_before_submission_or_after_a_decision() {
        let mut req = request(RequestStatus::Applying);
        req.submitted_at = None;
        let c = clocks(&req, SUBMITTED + 100 * DAY);
        assert_eq!(
            c,
            Clocks {
                accept_due_at: None,
                ruling_due_at: None,
                overdue: false,
                days_left: None
            }
        );
        let mut req = request(RequestStatus::Confirmed);
        req.accepted_at = Some(SUBMITTED);
        let c = clocks(&req, SUBMITTED + 100 * DAY);
        assert!(!c.overdue && c.days_left.is_none() && c.ruling_due_at.is_some());
    }
}
