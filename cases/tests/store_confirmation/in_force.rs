//! The agreement in force every confirmation test starts from, and the steps they share.

pub use crate::common::Scratch;
pub use crate::world::*;
pub use accord_cases::confirmation::{
    ApplyOutcome, ConfirmationRequest, CourtDecision, InboxState, NewOutbox, RequestStatus,
    WarningLevel,
};
pub use accord_cases::{CaseId, ConfirmationRequestId};

pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 24 * HOUR;
/// 2026-12-06T02:00:00Z, 10:00 in Beijing: the agreements here take effect then.
pub const EFFECTIVE: i64 = 1_796_522_400_000;
/// Its window's end: 2027-01-05 24:00 in Beijing.
pub const DEADLINE: i64 = 1_799_164_800_000;
pub const COURT: &str = "宝安区人民法院";
pub const ADDRESS: &str = "深圳市宝安区新安街道 1 号";

/// A world whose agreement every party and the mediator signed and the organisation sealed
/// at [`EFFECTIVE`]. `letter`: whether the respondent's representative has a power of
/// attorney on file.
pub async fn in_force(store: &Store, letter: bool) -> World {
    let w = world(store, Category::Neighbours, letter).await;
    put_in_force(store, &w).await;
    w
}

/// Every signer of `w`'s final agreement signs, and the organisation seals it at
/// [`EFFECTIVE`].
pub async fn put_in_force(store: &Store, w: &World) {
    let now = now_ms();
    for who in [&w.applicant.id, &w.respondent.id] {
        let phone = Phone::new();
        w.by_code(store, who, &phone, now).await;
        w.free_will(store, who, FreeWillAnswer::Yes).await;
        w.sign(store, &pt(who), &phone, now)
            .await
            .expect("party signs");
    }
    let phone = Phone::new();
    let mediator = SignerRef::Staff(w.mediator.clone());
    store
        .check_identity(
            &w.mediator_actor(),
            &w.agreement,
            &mediator,
            IdentityProof::Staff,
            &phone.spki,
            now,
        )
        .await
        .expect("mediator identity");
    w.sign(store, &mediator, &phone, now)
        .await
        .expect("mediator signs");
    store
        .seal(
            &w.mediator,
            &w.agreement,
            |_: &[u8]| Ok(("PK_platform".to_owned(), "cGxhdGZvcm0=".to_owned())),
            EFFECTIVE,
        )
        .await
        .expect("seal");
}

pub fn party_actor(id: &PartyId) -> Actor {
    Actor::Party(id.clone())
}

pub async fn apply(
    store: &Store,
    w: &World,
    party: &PartyId,
    by: &PartyId,
    now: i64,
) -> Result<ApplyOutcome, Error> {
    store
        .apply_for_confirmation(&party_actor(by), &w.agreement, party, by, ADDRESS, now)
        .await
}

/// Both parties applied (the respondent by their representative) and the request submitted,
/// with an outbox row when `endpoint` is given.
pub async fn submitted(store: &Store, w: &World, endpoint: Option<&str>) -> ConfirmationRequest {
    let at = EFFECTIVE + DAY;
    apply(store, w, &w.applicant.id, &w.applicant.id, at)
        .await
        .expect("applicant applies");
    let outcome = apply(store, w, &w.respondent.id, &w.representative.id, at)
        .await
        .expect("representative applies");
    assert!(outcome.all_applied);
    store
        .submit_confirmation(
            &Actor::System,
            &outcome.request.id,
            (&"5a".repeat(32), 4096),
            &"6b".repeat(32),
            endpoint.map(|e| NewOutbox {
                court: COURT.into(),
                endpoint: e.into(),
            }),
            at + HOUR,
        )
        .await
        .expect("submit")
}

pub async fn case_status(store: &Store, w: &World) -> CaseStatus {
    store.case(&w.case.id).await.expect("case").status
}

pub async fn audit_actions(store: &Store, w: &World) -> Vec<String> {
    store
        .audit_of(&format!("case:{}", w.case.id))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

pub fn court_actor() -> Actor {
    Actor::Staff(StaffId::new("ST_judge"))
}

pub async fn decide(
    store: &Store,
    id: &ConfirmationRequestId,
    decision: CourtDecision,
    now: i64,
) -> Result<ConfirmationRequest, Error> {
    store
        .decide_confirmation(&court_actor(), id, decision, now)
        .await
}

pub fn confirm() -> CourtDecision {
    CourtDecision::Confirm {
        ruling_number: "（2026）粤0306民特123号".into(),
        ruling_date: "2026-12-20".into(),
        ruling_sha256: Some("7c".repeat(32)),
    }
}
