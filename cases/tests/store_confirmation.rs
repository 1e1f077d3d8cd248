//! Judicial confirmation in the store, on SQLite and PostgreSQL: the parties' applications
//! (idempotent, by a representative only with a power of attorney, within the window), the
//! submission with its outbox row and the case's status in one transaction, the outbox's lease
//! between two nodes, the court's decisions and the case following them, callbacks and window
//! warnings remembered once, and the audit chain intact after all of it.

#[macro_use]
mod common;
#[path = "store_confirmation/court.rs"]
mod court;
#[path = "store_confirmation/in_force.rs"]
mod in_force;
#[allow(unused_imports)]
#[path = "store_signing/world.rs"]
mod world;

use accord_cases::store::model::{NewPartyIdentityProof, PartyIdentityProofKind};
use in_force::*;

async fn both_parties_apply_and_the_request_goes_to_the_court(s: &Scratch) {
    let store = &s.store;
    let w = in_force(store, true).await;
    let required = store
        .required_applicants(&w.agreement)
        .await
        .expect("required");
    let ids: Vec<&PartyId> = required.iter().map(|p| &p.id).collect();
    assert_eq!(
        ids,
        vec![&w.applicant.id, &w.respondent.id],
        "the parties, not the representative nor the interpreter"
    );
    assert!(
        store
            .confirmation_of_agreement(&w.agreement)
            .await
            .expect("none yet")
            .is_none()
    );

    let first = apply(store, &w, &w.applicant.id, &w.applicant.id, EFFECTIVE + DAY)
        .await
        .expect("applies");
    assert!(!first.all_applied);
    let request = first.request;
    assert_eq!(request.status, RequestStatus::Applying);
    assert_eq!(request.court.as_deref(), Some(COURT));
    assert_eq!(request.court_proposed.as_deref(), Some(COURT));
    assert_eq!(request.court_basis.as_deref(), Some("organisation_seat"));
    assert_eq!(request.version, 1);
    assert_eq!(
        case_status(store, &w).await,
        CaseStatus::Signed,
        "a first application changes nothing on the case"
    );

    // Applying again returns the same request and makes no second entry.
    let entries = audit_actions(store, &w).await.len();
    let again = apply(
        store,
        &w,
        &w.applicant.id,
        &w.applicant.id,
        EFFECTIVE + 2 * DAY,
    )
    .await
    .expect("again");
    assert_eq!(again.request, request);
    assert_eq!(audit_actions(store, &w).await.len(), entries);
    let applicants = store
        .confirmation_applicants(&request.id)
        .await
        .expect("applicants");
    assert_eq!(applicants.len(), 1);
    assert_eq!(applicants[0].applied_by_name, "张三");
    assert_eq!(applicants[0].address, ADDRESS);
    assert_eq!(applicants[0].applied_at, EFFECTIVE + DAY);

    // Submitting before everyone applied is refused.
    let early = store
        .submit_confirmation(
            &Actor::System,
            &request.id,
            ("ab", 1),
            "cd",
            None,
            EFFECTIVE + DAY,
        )
        .await;
    assert!(matches!(early, Err(Error::Conflict(_))), "{early:?}");

    let last = apply(
        store,
        &w,
        &w.respondent.id,
        &w.representative.id,
        EFFECTIVE + 3 * DAY,
    )
    .await
    .expect("the representative applies for the respondent");
    assert!(last.all_applied);
    let applicants = store
        .confirmation_applicants(&request.id)
        .await
        .expect("applicants");
    assert_eq!(applicants[1].party_id, w.respondent.id);
    assert_eq!(applicants[1].applied_by, w.representative.id.as_str());
    assert_eq!(applicants[1].applied_by_name, "John Smith");

    let package = "5a".repeat(32);
    let done = store
        .submit_confirmation(
            &Actor::System,
            &request.id,
            (&package, 4096),
            &"6b".repeat(32),
            Some(NewOutbox {
                court: COURT.into(),
                endpoint: "https://court.example/intake".into(),
            }),
            EFFECTIVE + 3 * DAY + HOUR,
        )
        .await
        .expect("submit");
    assert_eq!(done.status, RequestStatus::Submitted);
    assert_eq!(done.submitted_at, Some(EFFECTIVE + 3 * DAY + HOUR));
    assert_eq!(done.package_sha256.as_deref(), Some(package.as_str()));
    assert_eq!(done.package_size, Some(4096));
    let case = store.case(&w.case.id).await.expect("case");
    assert_eq!(case.status, CaseStatus::ConfirmationRequested);
    assert_eq!(case.court.as_deref(), Some(COURT));
    // The court decides through the request; nobody moves the case to confirmed by hand.
    let by_hand = store
        .transition_case(&Actor::System, &w.case.id, CaseStatus::Confirmed)
        .await;
    assert!(
        matches!(by_hand, Err(accord_cases::Error::Conflict(_))),
        "{by_hand:?}"
    );
    let outbox = store
        .outbox_of_request(&request.id)
        .await
        .expect("outbox")
        .expect("a row, made with the submission");
    assert_eq!(
        outbox.idempotency_key,
        format!("{}.{}", request.id, &package[..16])
    );
    assert_eq!((outbox.attempts, outbox.delivered_at), (0, None));

    assert_eq!(
        rule(
            store
                .submit_confirmation(
                    &Actor::System,
                    &request.id,
                    ("ab", 1),
                    "cd",
                    None,
                    EFFECTIVE + 4 * DAY
                )
                .await
        ),
        Rule::RequestSubmitted
    );
    let shown = apply(
        store,
        &w,
        &w.applicant.id,
        &w.applicant.id,
        EFFECTIVE + 4 * DAY,
    )
    .await
    .expect("an applicant who applied gets the request back");
    assert_eq!(shown.request.status, RequestStatus::Submitted);
    let actions = audit_actions(store, &w).await;
    for action in [
        "confirmation.applied",
        "confirmation.submitted",
        "case.status_changed",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    assert!(store.verify_audit().await.expect("verify").intact());
}
both_databases!(
    applying_and_submitting,
    both_parties_apply_and_the_request_goes_to_the_court
);

async fn only_the_parties_and_representatives_with_a_letter_apply(s: &Scratch) {
    let store = &s.store;
    let w = in_force(store, false).await;
    let at = EFFECTIVE + DAY;
    assert_eq!(
        rule(apply(store, &w, &w.respondent.id, &w.representative.id, at).await),
        Rule::AttorneyLetterMissing
    );
    assert_eq!(
        rule(apply(store, &w, &w.representative.id, &w.representative.id, at).await),
        Rule::NotAnApplicant,
        "a representative is not an applicant of their own"
    );
    assert_eq!(
        rule(apply(store, &w, &w.applicant.id, &w.interpreter.id, at).await),
        Rule::NotAnApplicant
    );
    assert_eq!(
        rule(apply(store, &w, &w.applicant.id, &w.respondent.id, at).await),
        Rule::NotAnApplicant,
        "the other side does not apply for you"
    );
    let short = store
        .apply_for_confirmation(
            &party_actor(&w.applicant.id),
            &w.agreement,
            &w.applicant.id,
            &w.applicant.id,
            " x ",
            at,
        )
        .await;
    assert!(matches!(short, Err(Error::Invalid(_))), "{short:?}");
    assert!(
        store
            .confirmation_of_agreement(&w.agreement)
            .await
            .expect("read")
            .is_none(),
        "refusals make no request"
    );
}
both_databases!(
    who_applies,
    only_the_parties_and_representatives_with_a_letter_apply
);

async fn applications_close_thirty_days_after_the_effective_day(s: &Scratch) {
    let store = &s.store;
    let w = world(store, Category::Neighbours, true).await;
    assert_eq!(
        rule(apply(store, &w, &w.applicant.id, &w.applicant.id, EFFECTIVE).await),
        Rule::NotInForce,
        "a final agreement not yet sealed"
    );
    put_in_force(store, &w).await;
    apply(store, &w, &w.applicant.id, &w.applicant.id, DEADLINE - 1)
        .await
        .expect("the last millisecond of the last day is in time");
    assert_eq!(
        rule(apply(store, &w, &w.respondent.id, &w.respondent.id, DEADLINE).await),
        Rule::WindowClosed
    );
    assert_eq!(
        rule(
            apply(
                store,
                &w,
                &w.respondent.id,
                &w.respondent.id,
                EFFECTIVE + 31 * DAY
            )
            .await
        ),
        Rule::WindowClosed
    );
    // Asking again after the deadline only shows what was done in time.
    apply(store, &w, &w.applicant.id, &w.applicant.id, DEADLINE + DAY)
        .await
        .expect("idempotent after the deadline");

    store
        .set_personal_status(&w.case.id, true, &editor(&w.mediator))
        .await
        .expect("personal status");
    assert_eq!(
        rule(
            apply(
                store,
                &w,
                &w.respondent.id,
                &w.respondent.id,
                EFFECTIVE + DAY
            )
            .await
        ),
        Rule::NotConfirmable
    );
}
both_databases!(
    the_window,
    applications_close_thirty_days_after_the_effective_day
);

async fn the_mediator_chooses_the_court_until_submission(s: &Scratch) {
    let store = &s.store;
    let w = in_force(store, true).await;
    let proposal = store
        .confirmation_proposal(&w.case)
        .await
        .expect("proposal");
    assert_eq!(proposal.court.as_deref(), Some(COURT));
    let bad = store
        .choose_court(
            &w.mediator_actor(),
            &w.agreement,
            "南山区人民法院",
            "x",
            &proposal,
        )
        .await;
    assert!(matches!(bad, Err(Error::Invalid(_))), "{bad:?}");
    let chosen = store
        .choose_court(
            &w.mediator_actor(),
            &w.agreement,
            " 南山区人民法院 ",
            "标的物（房屋）位于南山区",
            &proposal,
        )
        .await
        .expect("before anyone applied");
    assert_eq!(chosen.status, RequestStatus::Applying);
    assert_eq!(chosen.court.as_deref(), Some("南山区人民法院"));
    assert_eq!(chosen.court_proposed.as_deref(), Some(COURT));
    assert_eq!(
        chosen.court_changed_by.as_deref(),
        Some(w.mediator.as_str())
    );
    assert!(
        store
            .confirmation_applicants(&chosen.id)
            .await
            .expect("applicants")
            .is_empty()
    );
    let request = submitted(store, &w, None).await;
    assert_eq!(request.id, chosen.id, "the applications join the request");
    assert_eq!(
        store.case(&w.case.id).await.expect("case").court.as_deref(),
        Some("南山区人民法院"),
        "the case goes to the request's court, not the organisation's"
    );
    assert_eq!(
        rule(
            store
                .choose_court(
                    &w.mediator_actor(),
                    &w.agreement,
                    COURT,
                    "改回原法院",
                    &proposal
                )
                .await
        ),
        Rule::RequestSubmitted
    );
    assert!(
        audit_actions(store, &w)
            .await
            .iter()
            .any(|a| a == "confirmation.court_changed")
    );
}
both_databases!(
    choosing_the_court,
    the_mediator_chooses_the_court_until_submission
);

async fn callbacks_and_warnings_are_remembered_once(s: &Scratch) {
    let store = &s.store;
    let w = in_force(store, true).await;
    let open = store
        .agreements_in_window(EFFECTIVE + 23 * DAY)
        .await
        .expect("in window");
    assert_eq!(open.len(), 1);
    assert_eq!((&open[0].0.id, open[0].1), (&w.agreement, EFFECTIVE));
    assert!(
        store
            .agreements_in_window(DEADLINE)
            .await
            .expect("closed")
            .is_empty()
    );

    let level = WarningLevel::SevenDays;
    assert!(
        !store
            .window_warning_sent(&w.agreement, &w.applicant.id, level)
            .await
            .expect("sent?")
    );
    assert!(
        store
            .mark_window_warning(&w.agreement, &w.applicant.id, level, EFFECTIVE + 23 * DAY)
            .await
            .expect("mark")
    );
    assert!(
        !store
            .mark_window_warning(&w.agreement, &w.applicant.id, level, EFFECTIVE + 24 * DAY)
            .await
            .expect("mark")
    );
    assert!(
        store
            .window_warning_sent(&w.agreement, &w.applicant.id, level)
            .await
            .expect("sent?")
    );
    assert!(
        !store
            .window_warning_sent(&w.agreement, &w.applicant.id, WarningLevel::TwoDays)
            .await
            .expect("sent?")
    );
    // A warning the gateway refused is forgotten, and the next sweep may send it.
    store
        .unmark_window_warning(&w.agreement, &w.applicant.id, level)
        .await
        .expect("unmark");
    assert!(
        store
            .mark_window_warning(&w.agreement, &w.applicant.id, level, EFFECTIVE + 24 * DAY)
            .await
            .expect("mark again")
    );

    let request = submitted(store, &w, None).await;
    assert!(
        store
            .agreements_in_window(EFFECTIVE + 23 * DAY)
            .await
            .expect("in window")
            .is_empty(),
        "no warnings once the request is submitted"
    );
    let sha = "8d".repeat(32);
    assert!(
        store
            .record_callback(&request.id, "accepted", EFFECTIVE, &sha, EFFECTIVE)
            .await
            .expect("first")
    );
    assert!(
        !store
            .record_callback(&request.id, "accepted", EFFECTIVE, &sha, EFFECTIVE + 1)
            .await
            .expect("repeat")
    );
    assert!(
        store
            .record_callback(&request.id, "confirmed", EFFECTIVE, &sha, EFFECTIVE)
            .await
            .expect("another event")
    );

    store
        .confirmation_callback_refused(Some(&request.id), Some(COURT), "bad_signature", EFFECTIVE)
        .await
        .expect("refusal audited");
    store
        .confirmation_callback_refused(None, None, "unknown_request", EFFECTIVE)
        .await
        .expect("refusal audited");
    store
        .record_package_download(&court_actor(), &request.id, EFFECTIVE)
        .await
        .expect("download audited");
    let actions = audit_actions(store, &w).await;
    assert!(actions.iter().any(|a| a == "confirmation.callback_refused"));
    assert!(
        actions
            .iter()
            .any(|a| a == "confirmation.package_downloaded")
    );
    assert_eq!(
        store.audit_of("court-system").await.expect("audit").len(),
        1
    );
    assert_eq!(
        store
            .confirmation_request(&request.id)
            .await
            .expect("read")
            .status,
        RequestStatus::Submitted,
        "a refused callback changes nothing"
    );
    assert!(store.verify_audit().await.expect("verify").intact());
}
both_databases!(remembered_once, callbacks_and_warnings_are_remembered_once);

async fn two_parties_applying_at_once_make_one_request(s: &Scratch) {
    let store = &s.store;
    let w = in_force(store, true).await;
    let at = EFFECTIVE + DAY;
    let (a, b) = tokio::join!(
        apply(store, &w, &w.applicant.id, &w.applicant.id, at),
        apply(store, &w, &w.respondent.id, &w.representative.id, at)
    );
    let (a, b) = (a.expect("applicant"), b.expect("representative"));
    assert_eq!(a.request.id, b.request.id, "one request for the version");
    assert!(a.all_applied || b.all_applied, "the later one sees both");
    let applicants = store
        .confirmation_applicants(&a.request.id)
        .await
        .expect("applicants");
    assert_eq!(applicants.len(), 2);
    assert!(store.verify_audit().await.expect("verify").intact());
}
both_databases!(at_once, two_parties_applying_at_once_make_one_request);

fn proof_of(w: &World, party: &PartyId, kind: PartyIdentityProofKind) -> NewPartyIdentityProof {
    NewPartyIdentityProof {
        case_id: w.case.id.clone(),
        party_id: party.clone(),
        kind,
        media_type: "image/png".into(),
        size: 2048,
        sha256: "7c".repeat(32),
        sealed_blob: "8d".repeat(32),
    }
}

async fn identity_proofs_change_only_while_the_parties_hold_the_request(s: &Scratch) {
    use PartyIdentityProofKind::*;
    let store = &s.store;
    let w = in_force(store, true).await;
    let me = party_actor(&w.applicant.id);
    let front = store
        .add_identity_proof(&me, proof_of(&w, &w.applicant.id, IdCardFront))
        .await
        .expect("front");
    assert_eq!(front.uploaded_by, me.label());
    for kind in [IdCardBack, Other, Other] {
        store
            .add_identity_proof(&me, proof_of(&w, &w.applicant.id, kind))
            .await
            .expect("up to four");
    }
    let fifth = store
        .add_identity_proof(&me, proof_of(&w, &w.applicant.id, Other))
        .await
        .expect_err("a fifth");
    assert_eq!(
        fifth.to_string(),
        Error::Rule(Rule::TooManyIdentityProofs).to_string()
    );
    // The limit is the party's, not the case's.
    store
        .add_identity_proof(&me, proof_of(&w, &w.respondent.id, IdCardFront))
        .await
        .expect("the other party's own");
    let stranger = PartyId::from("PT_notinthiscase0000");
    assert!(matches!(
        store
            .add_identity_proof(&me, proof_of(&w, &stranger, Other))
            .await,
        Err(Error::NotFound(_))
    ));

    let removed = store
        .remove_identity_proof(&me, &front.id)
        .await
        .expect("remove");
    assert_eq!(
        removed.sealed_blob,
        "8d".repeat(32),
        "the edge deletes this blob"
    );
    let kept = store.identity_proofs(&w.case.id).await.expect("list");
    assert_eq!(kept.len(), 4);
    assert!(kept.iter().all(|p| p.id != front.id));
    store
        .record_identity_proof_read(&Actor::Staff(w.mediator.clone()), &kept[0])
        .await
        .expect("read noted");

    let request = submitted(store, &w, None).await;
    assert_eq!(request.status, RequestStatus::Submitted);
    for refused in [
        store
            .add_identity_proof(&me, proof_of(&w, &w.applicant.id, IdCardFront))
            .await
            .map(|_| ()),
        store
            .remove_identity_proof(&me, &kept[0].id)
            .await
            .map(|_| ()),
    ] {
        assert_eq!(
            refused.expect_err("with the court").to_string(),
            Error::Rule(Rule::RequestSubmitted).to_string()
        );
    }
    assert_eq!(
        store.identity_proofs(&w.case.id).await.expect("list").len(),
        4
    );

    let actions = audit_actions(store, &w).await;
    let count = |name: &str| actions.iter().filter(|a| *a == name).count();
    assert_eq!(count("party.identity_proof_added"), 5);
    assert_eq!(count("party.identity_proof_removed"), 1);
    assert_eq!(count("party.identity_proof_read"), 1);
    assert!(store.verify_audit().await.expect("verify").intact());
}
both_databases!(
    identity_proofs,
    identity_proofs_change_only_while_the_parties_hold_the_request
);
