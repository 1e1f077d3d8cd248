//! Delivery to a court's own system: retries, answers that settle it at once, and, with
//! every node running the connector, each package POSTed exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use accord_tests::Deployment;
use anyhow::{Context, Result, ensure};

use super::court::StandInCourt;
use super::session::{LONG_LEASE_MS, Session, serve, write_config};
use super::tamper::{verify, write};
use super::world::seed_cases;
use super::{check_delivery, deliveries, finish, metric, sha256_hex, start, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_retries_a_court_answering_503_and_delivers_the_package_once() -> Result<()> {
    let court = StandInCourt::start(&[503, 503]).await?;
    let (seeded, s) = start(Some(&court.endpoint), 300).await?;
    let agreement = seeded.case.agreement_id.clone();

    let view = s.everyone_applies(&agreement).await?;
    let status = text(&view, "/status")?;
    ensure!(
        ["submitted", "received"].contains(&status),
        "after the last application the request is submitted: {view}"
    );
    let request_id = text(&view, "/request_id")?.to_owned();
    assert_eq!(text(&view, "/case_id")?, seeded.case.case_id, "{view}");
    let case = s
        .api
        .get(
            &format!("/api/v1/cases/{}", seeded.case.case_id),
            &s.mediator,
        )
        .await?
        .expect(reqwest::StatusCode::OK)?
        .body;
    assert_eq!(
        text(&case, "/case/status")?,
        "confirmation_requested",
        "{case}"
    );

    let posts = court.wait_for(3, Duration::from_secs(30)).await?;
    let view = s
        .wait_for_view(&agreement, "the delivery", Duration::from_secs(30), |v| {
            v["delivery"]["state"] == "delivered"
        })
        .await?;
    // Nothing more arrives once the court said yes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let posts_after = court.received();
    ensure!(
        posts_after.len() == posts.len(),
        "{} POSTs after delivery",
        posts_after.len()
    );
    let answered: Vec<u16> = posts.iter().map(|p| p.answered).collect();
    assert_eq!(answered, [503, 503, 200], "two refusals, then one delivery");
    let keys: std::collections::BTreeSet<&str> =
        posts.iter().map(|p| p.header("idempotency-key")).collect();
    assert_eq!(
        keys.len(),
        1,
        "one Idempotency-Key on every attempt: {keys:?}"
    );
    for post in &posts {
        check_delivery(post, &request_id)?;
    }
    let delivered = &posts[2].body;
    assert_eq!(text(&view, "/status")?, "received", "{view}");
    assert_eq!(view["delivery"]["court_system"], true, "{view}");
    assert_eq!(view["delivery"]["attempts"], 3, "{view}");
    assert!(view["delivery"]["delivered_at"].is_i64(), "{view}");
    assert_eq!(
        text(&view, "/package/sha256")?,
        sha256_hex(delivered),
        "the court got the package the case page names"
    );

    assert_eq!(
        s.audited(&seeded.case.case_id, "confirmation.applied")
            .await?,
        2
    );
    assert_eq!(
        s.audited(&seeded.case.case_id, "confirmation.submitted")
            .await?,
        1
    );
    assert_eq!(
        s.audited(&seeded.case.case_id, "confirmation.delivered")
            .await?,
        1
    );
    assert_eq!(deliveries(&s, "delivered").await?, 1.0);
    assert_eq!(deliveries(&s, "retry").await?, 2.0);
    assert_eq!(deliveries(&s, "given_up").await?, 0.0);
    assert_eq!(metric(&s, "accord_confirmation_outbox_pending").await?, 0.0);

    // What the court received verifies offline.
    let path = write(&seeded.root, "delivered.zip", delivered)?;
    let verdict = verify(&path, &[]).await?;
    assert_eq!(verdict.code, 0, "{verdict:?}");
    finish(seeded, s).await
}

/// A court whose first answer is `status`: after it the delivery reads `state` on the case
/// page and the court got exactly one POST (no retries follow, whatever the backoff).
async fn one_answer_settles_it(status: u16, state: &str, request_status: &str) -> Result<()> {
    let court = StandInCourt::start(&[status]).await?;
    let (seeded, s) = start(Some(&court.endpoint), 300).await?;
    let agreement = seeded.case.agreement_id.clone();
    let view = s.everyone_applies(&agreement).await?;
    let request_id = text(&view, "/request_id")?.to_owned();
    let posts = court.wait_for(1, Duration::from_secs(30)).await?;
    check_delivery(&posts[0], &request_id)?;
    let view = s
        .wait_for_view(&agreement, state, Duration::from_secs(15), |v| {
            v["delivery"]["state"] == state
        })
        .await?;
    // Several backoff periods (300, 600, 1200 ms …) pass without another attempt.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(court.received().len(), 1, "no attempt after a {status}");
    assert_eq!(view["delivery"]["attempts"], 1, "{view}");
    assert_eq!(text(&view, "/status")?, request_status, "{view}");
    if state == "given_up" {
        assert!(
            view["delivery"]["last_error"].is_string(),
            "why, for the case page: {view}"
        );
    }
    finish(seeded, s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_refusing_the_package_with_400_is_given_up_at_once_and_shown() -> Result<()> {
    // The court still has Accord's inbox: the request stays submitted there.
    one_answer_settles_it(400, "given_up", "submitted").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_answering_409_already_has_the_package() -> Result<()> {
    one_answer_settles_it(409, "delivered", "received").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_runs_the_connector_and_each_package_reaches_the_court_once() -> Result<()> {
    // Three requests at once: on two nodes, the first POST is held open until the second
    // arrives, so each node has one package in flight and the third waits for whichever is
    // free first; a claim both nodes raced for would show as a second POST of a key.
    const CASES: usize = 3;
    let seeded = seed_cases(CASES).await?;
    let deployment = seeded.storage.deployment();
    let court = StandInCourt::start_gated(&[], deployment.nodes()).await?;
    let config = write_config(&seeded.root, Some(&court.endpoint), 300, LONG_LEASE_MS)?;
    let s = Session::sign_in(serve(&seeded, &config).await?).await?;

    let mut requests = BTreeMap::new();
    for case in std::iter::once(&seeded.case).chain(&seeded.more) {
        let view = s.everyone_applies(&case.agreement_id).await?;
        requests.insert(text(&view, "/request_id")?.to_owned(), case);
    }
    ensure!(
        requests.len() == CASES,
        "a request per case: {requests:?}",
        requests = requests.keys()
    );
    court
        .wait_for(CASES, Duration::from_secs(60))
        .await
        .context("a POST per request")?;
    for (request_id, case) in &requests {
        let view = s
            .wait_for_view(
                &case.agreement_id,
                "the delivery",
                Duration::from_secs(30),
                |v| v["delivery"]["state"] == "delivered",
            )
            .await?;
        assert_eq!(view["delivery"]["attempts"], 1, "{request_id}: {view}");
        assert_eq!(text(&view, "/status")?, "received", "{view}");
        assert_eq!(
            s.audited(&case.case_id, "confirmation.delivered").await?,
            1,
            "{request_id}"
        );
    }
    // Well past the connectors' polls: nothing more comes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let posts = court.received();
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for post in &posts {
        *per_key.entry(post.header("idempotency-key")).or_default() += 1;
        check_delivery(post, post.header("x-accord-request-id"))?;
        ensure!(
            requests.contains_key(post.header("x-accord-request-id")),
            "a POST for a request nobody made: {}",
            post.header("x-accord-request-id")
        );
    }
    let answered: Vec<u16> = posts.iter().map(|p| p.answered).collect();
    assert_eq!(answered, [200; CASES], "one POST per package, each taken");
    assert_eq!(per_key.len(), CASES, "a key per package: {per_key:?}");
    assert!(
        per_key.values().all(|n| *n == 1),
        "a package POSTed twice: {per_key:?}"
    );
    let stored = court.stored();
    assert_eq!(stored.len(), CASES);
    for post in &posts {
        let request = requests
            .get(post.header("x-accord-request-id"))
            .context("the request of a POST")?;
        let view = s.view(&request.agreement_id).await?;
        assert_eq!(
            text(&view, "/package/sha256")?,
            sha256_hex(&post.body),
            "{view}"
        );
    }
    assert_eq!(
        deliveries(&s, "delivered").await?,
        CASES as f64,
        "summed over the nodes"
    );
    assert_eq!(deliveries(&s, "retry").await?, 0.0);

    if deployment == Deployment::Cluster {
        // The gate already proves two connectors had a package in flight at once; each
        // node's log says it delivered.
        let log = std::fs::read_to_string(s.server.log_path())?;
        let delivered_by = |node: &str| {
            log.lines()
                .filter(|l| l.starts_with(&format!("[{node} ")))
                .filter(|l| l.contains("package delivered to the court's system"))
                .count()
        };
        let (a, b) = (delivered_by("N_a"), delivered_by("N_b"));
        assert!(a >= 1 && b >= 1, "deliveries by N_a: {a}, by N_b: {b}");
        assert_eq!(a + b, CASES, "one delivery per package across the nodes");
    }
    finish(seeded, s).await
}
