//! The court's side: delivery to its system through the outbox, with one node at a time, and its decisions, with the case following them.

use crate::in_force::*;

async fn one_node_at_a_time_delivers_and_delivery_means_received(s: &Scratch) {
    let store = &s.store;
    let w = in_force(store, true).await;
    let request = submitted(store, &w, Some("https://court.example/intake")).await;
    let now = EFFECTIVE + 2 * DAY;
    let lease = 60_000;

    let (a, b) = tokio::join!(
        store.claim_outbox("node-a", now, lease),
        store.claim_outbox("node-b", now, lease)
    );
    let (a, b) = (a.expect("claim a"), b.expect("claim b"));
    assert!(
        a.is_some() != b.is_some(),
        "exactly one claim wins: {a:?} {b:?}"
    );
    let (winner, loser) = if a.is_some() {
        ("node-a", "node-b")
    } else {
        ("node-b", "node-a")
    };
    let item = a.or(b).expect("claimed");
    assert_eq!(item.attempts, 1, "the claim counts the attempt");
    assert_eq!(item.lease_owner.as_deref(), Some(winner));
    assert!(
        store
            .claim_outbox(loser, now + 1, lease)
            .await
            .expect("claim")
            .is_none()
    );

    // The winner fails; the row waits for its next attempt.
    store
        .outbox_failed(
            &item.id,
            winner,
            Some(503),
            "503 Service Unavailable",
            Some(now + 10_000),
            now,
        )
        .await
        .expect("failed");
    assert!(
        store
            .claim_outbox(loser, now + 5_000, lease)
            .await
            .expect("claim")
            .is_none()
    );
    let again = store
        .claim_outbox(loser, now + 10_000, lease)
        .await
        .expect("claim")
        .expect("due again");
    assert_eq!((again.attempts, again.last_status), (2, Some(503)));

    // That node dies mid-delivery; after its lease another one takes the row over, and the
    // dead node's late word no longer counts.
    let later = now + 10_000 + lease + 1;
    let taken = store
        .claim_outbox(winner, later, lease)
        .await
        .expect("claim")
        .expect("the lease expired");
    assert_eq!(taken.attempts, 3);
    assert!(matches!(
        store.outbox_delivered(&item.id, loser, 200, later).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(
        store
            .confirmation_request(&request.id)
            .await
            .expect("read")
            .status,
        RequestStatus::Submitted
    );
    store
        .outbox_delivered(&item.id, winner, 200, later + 1)
        .await
        .expect("delivered");
    let row = store
        .outbox_of_request(&request.id)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(row.delivered_at, Some(later + 1));
    assert_eq!((row.lease_owner, row.last_error), (None, None));
    let received = store.confirmation_request(&request.id).await.expect("read");
    assert_eq!(received.status, RequestStatus::Received);
    assert_eq!(received.received_at, Some(later + 1));
    assert!(
        store
            .claim_outbox("node-c", later + DAY, lease)
            .await
            .expect("claim")
            .is_none(),
        "a delivered row is never claimed again"
    );
    assert_eq!(store.outbox_pending().await.expect("pending"), 0);
    let actions = audit_actions(store, &w).await;
    assert!(actions.iter().any(|a| a == "confirmation.delivered"));
    assert!(actions.iter().any(|a| a == "confirmation.received"));
}
both_databases!(
    the_outbox,
    one_node_at_a_time_delivers_and_delivery_means_received
);

async fn a_delivery_given_up_is_never_attempted_again(s: &Scratch) {
    let store = &s.store;
    let w = in_force(store, true).await;
    let request = submitted(store, &w, Some("https://court.example/intake")).await;
    let now = EFFECTIVE + 2 * DAY;
    assert_eq!(store.outbox_pending().await.expect("pending"), 1);
    let item = store
        .claim_outbox("node-a", now, 60_000)
        .await
        .expect("claim")
        .expect("due");
    store
        .outbox_failed(&item.id, "node-a", Some(400), &"x".repeat(2000), None, now)
        .await
        .expect("give up");
    let row = store
        .outbox_of_request(&request.id)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(row.given_up_at, Some(now));
    assert_eq!(row.last_error.map(|e| e.chars().count()), Some(500));
    assert!(
        store
            .claim_outbox("node-a", now + DAY, 60_000)
            .await
            .expect("claim")
            .is_none()
    );
    assert_eq!(store.outbox_pending().await.expect("pending"), 0);
}
both_databases!(giving_up, a_delivery_given_up_is_never_attempted_again);

async fn the_court_accepts_extends_and_confirms(s: &Scratch) {
    let store = &s.store;
    let w = in_force(store, true).await;
    let request = submitted(store, &w, None).await;
    let id = &request.id;
    let now = EFFECTIVE + 2 * DAY;
    let open = store
        .confirmation_inbox(COURT, InboxState::Open)
        .await
        .expect("inbox");
    assert_eq!(open.len(), 1);
    assert_eq!(
        (&open[0].0.id, &open[0].1.id, &open[0].2.id),
        (id, &w.case.id, &w.org.id)
    );
    assert!(
        store
            .confirmation_inbox("南山区人民法院", InboxState::All)
            .await
            .expect("inbox")
            .is_empty()
    );

    assert_eq!(
        rule(decide(store, id, confirm(), now).await),
        Rule::RequestState
    );
    let received = store
        .mark_confirmation_received(&court_actor(), id, now)
        .await
        .expect("opened");
    assert_eq!(
        (received.status, received.received_at),
        (RequestStatus::Received, Some(now))
    );
    let again = store
        .mark_confirmation_received(&court_actor(), id, now + HOUR)
        .await
        .expect("opened again");
    assert_eq!(again.received_at, Some(now), "the first opening counts");

    let accept = |n: &str| CourtDecision::Accept {
        court_case_number: n.into(),
    };
    assert!(matches!(
        decide(store, id, accept(""), now).await,
        Err(Error::Invalid(_))
    ));
    let accepted = decide(store, id, accept("（2026）粤0306民特123号"), now + HOUR)
        .await
        .expect("accept");
    assert_eq!(accepted.status, RequestStatus::Accepted);
    assert_eq!(accepted.accepted_at, Some(now + HOUR));
    assert_eq!(
        rule(decide(store, id, accept("again"), now).await),
        Rule::RequestState
    );

    let extend = || CourtDecision::Extend {
        reason: "需要进一步核实财产权属".into(),
    };
    let extended = decide(store, id, extend(), now + DAY)
        .await
        .expect("extend");
    assert_eq!(extended.extended_at, Some(now + DAY));
    assert_eq!(
        rule(decide(store, id, extend(), now + DAY).await),
        Rule::RequestState,
        "once"
    );

    let bad_date = CourtDecision::Confirm {
        ruling_number: "1".into(),
        ruling_date: "2026-02-30".into(),
        ruling_sha256: None,
    };
    assert!(matches!(
        decide(store, id, bad_date, now).await,
        Err(Error::Invalid(_))
    ));
    let confirmed = decide(store, id, confirm(), now + 2 * DAY)
        .await
        .expect("confirm");
    assert_eq!(confirmed.status, RequestStatus::Confirmed);
    assert_eq!(confirmed.decided_at, Some(now + 2 * DAY));
    assert_eq!(confirmed.ruling_date.as_deref(), Some("2026-12-20"));
    assert_eq!(case_status(store, &w).await, CaseStatus::Confirmed);
    assert_eq!(
        rule(
            decide(
                store,
                id,
                CourtDecision::Reject {
                    reasons: "太迟".into(),
                    ruling_number: None,
                    ruling_sha256: None
                },
                now
            )
            .await
        ),
        Rule::RequestState
    );
    assert!(
        store
            .confirmation_inbox(COURT, InboxState::Open)
            .await
            .expect("inbox")
            .is_empty()
    );
    assert_eq!(
        store
            .confirmation_inbox(COURT, InboxState::Decided)
            .await
            .expect("inbox")
            .len(),
        1
    );
    let listed = store
        .confirmation_requests_of_cases(&[w.case.id.clone(), CaseId::new("CA_none")])
        .await
        .expect("of cases");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, RequestStatus::Confirmed);
    let actions = audit_actions(store, &w).await;
    for action in [
        "confirmation.accepted",
        "confirmation.extended",
        "confirmation.confirmed",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}");
    }
    assert!(store.verify_audit().await.expect("verify").intact());
}
both_databases!(
    accept_extend_confirm,
    the_court_accepts_extends_and_confirms
);

async fn a_rejection_sends_the_case_back_to_the_parties(s: &Scratch) {
    let store = &s.store;
    let w = in_force(store, true).await;
    let request = submitted(store, &w, None).await;
    let short = CourtDecision::Reject {
        reasons: "x".into(),
        ruling_number: None,
        ruling_sha256: None,
    };
    assert!(matches!(
        decide(store, &request.id, short, EFFECTIVE).await,
        Err(Error::Invalid(_))
    ));
    let rejected = decide(
        store,
        &request.id,
        CourtDecision::Reject {
            reasons: "协议内容违反法律强制性规定".into(),
            ruling_number: Some("（2026）粤0306民特124号".into()),
            ruling_sha256: None,
        },
        EFFECTIVE + 2 * DAY,
    )
    .await
    .expect("reject straight from submitted");
    assert_eq!(rejected.status, RequestStatus::Rejected);
    assert_eq!(
        rejected.reject_reasons.as_deref(),
        Some("协议内容违反法律强制性规定")
    );
    assert_eq!(case_status(store, &w).await, CaseStatus::Rejected);
    assert!(
        audit_actions(store, &w)
            .await
            .iter()
            .any(|a| a == "confirmation.rejected")
    );
    assert!(store.verify_audit().await.expect("verify").intact());
}
both_databases!(rejection, a_rejection_sends_the_case_back_to_the_parties);
