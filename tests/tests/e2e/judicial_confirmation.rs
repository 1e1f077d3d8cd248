//! Judicial confirmation (司法确认) end to end on the real binary: the parties apply with
//! their case links, the package goes to a court's own system through the connector (which
//! retries a court answering 503, and survives a SIGKILL between attempts, or during one,
//! with the package taken exactly once), the court's system calls back with signed callbacks, and
//! `accord verify` checks the real package and catches every kind of tampering.
//!
//! The agreement is brought into force by seeding the data directory through the store
//! before the binary starts (see `world.rs`); everything the issue is about runs through the
//! binary. Traffic stays on 127.0.0.1.
//!
//! Run: `cargo build -p accord --bin accord && cargo test -p accord-tests --test
//! judicial_confirmation` (`ACCORD_TEST_KEEP=1` keeps each world's directory, with the
//! tampered packages under `packages/`).

mod tamper;
mod world;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hmac::Mac as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use tamper::{Entries, platform_signer, tampered_variants, verify, write};
use world::{
    HOLD, LONG_LEASE_MS, SECRET, Seeded, Session, StandInCourt, audit_verify, ensure_log_clean,
    ensure_log_file_clean, seed, serve, write_config,
};

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn hmac_hex(secret: &str, message: &str) -> Result<String> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())?;
    mac.update(message.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

fn text<'a>(value: &'a Value, pointer: &str) -> Result<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .with_context(|| format!("no {pointer} in {value}"))
}

/// A world whose court is configured with `endpoint` (or none: inbox only), running.
async fn start(endpoint: Option<&str>, retry_base_ms: u64) -> Result<(Seeded, Session)> {
    let seeded = seed().await?;
    let config = write_config(&seeded.root, endpoint, retry_base_ms, LONG_LEASE_MS)?;
    let session = Session::sign_in(serve(&seeded, &config).await?).await?;
    Ok((seeded, session))
}

/// Stops the server and removes the world's directory.
async fn finish(seeded: Seeded, session: Session) -> Result<()> {
    ensure_log_clean(&session.server)?;
    session.server.stop().await?;
    if std::env::var_os("ACCORD_TEST_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&seeded.root);
    }
    Ok(())
}

/// The value of sample `series` (name with labels, as exposed) on `/metrics`.
async fn metric(s: &Session, series: &str) -> Result<f64> {
    let exposition = s.server.metrics_text().await?;
    accord_tests::server::parse_metric(&exposition, series)
        .with_context(|| format!("no {series} on /metrics"))
}

/// Checks what the court's system got in one POST, as a court's IT department would.
fn check_delivery(post: &world::Received, request_id: &str) -> Result<()> {
    let sha = sha256_hex(&post.body);
    ensure!(
        post.header("x-accord-package-sha256") == sha,
        "X-Accord-Package-Sha256 {} is not the body's {sha}",
        post.header("x-accord-package-sha256")
    );
    ensure!(post.header("content-type") == "application/zip");
    ensure!(post.header("x-accord-request-id") == request_id);
    ensure!(
        post.header("idempotency-key") == format!("{request_id}.{}", &sha[..16]),
        "Idempotency-Key {}",
        post.header("idempotency-key")
    );
    let timestamp = post.header("x-accord-timestamp");
    let expected = format!(
        "hmac-sha256={}",
        hmac_hex(SECRET, &format!("{timestamp}.{sha}"))?
    );
    ensure!(
        post.header("x-accord-signature") == expected,
        "X-Accord-Signature {} does not verify with the shared secret",
        post.header("x-accord-signature")
    );
    ensure!(
        post.header("x-accord-callback-url")
            .ends_with("/api/v1/court-system/callbacks"),
        "X-Accord-Callback-Url {}",
        post.header("x-accord-callback-url")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_retries_a_court_answering_503_and_delivers_the_package_once() -> Result<()> {
    let court = StandInCourt::start(&[503, 503]).await?;
    let (seeded, s) = start(Some(&court.endpoint), 300).await?;
    let agreement = seeded.agreement_id.clone();

    let view = s.everyone_applies(&agreement).await?;
    let status = text(&view, "/status")?;
    ensure!(
        ["submitted", "received"].contains(&status),
        "after the last application the request is submitted: {view}"
    );
    let request_id = text(&view, "/request_id")?.to_owned();
    assert_eq!(text(&view, "/case_id")?, seeded.case_id, "{view}");
    let case = s
        .api
        .get(&format!("/api/v1/cases/{}", seeded.case_id), &s.mediator)
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

    assert_eq!(s.audited(&seeded.case_id, "confirmation.applied").await?, 2);
    assert_eq!(
        s.audited(&seeded.case_id, "confirmation.submitted").await?,
        1
    );
    assert_eq!(
        s.audited(&seeded.case_id, "confirmation.delivered").await?,
        1
    );
    let deliveries = r#"accord_confirmation_deliveries_total{result="#;
    assert_eq!(
        metric(&s, &format!(r#"{deliveries}"delivered"}}"#)).await?,
        1.0
    );
    assert_eq!(metric(&s, &format!(r#"{deliveries}"retry"}}"#)).await?, 2.0);
    assert_eq!(
        metric(&s, &format!(r#"{deliveries}"given_up"}}"#)).await?,
        0.0
    );
    assert_eq!(metric(&s, "accord_confirmation_outbox_pending").await?, 0.0);

    // What the court received verifies offline.
    let path = write(&seeded.root, "delivered.zip", delivered)?;
    let verdict = verify(&path, &[]).await?;
    assert_eq!(verdict.code, 0, "{verdict:?}");
    finish(seeded, s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_attempts_delivers_the_package_exactly_once_after_restart() -> Result<()>
{
    let court = StandInCourt::start(&[503]).await?;
    let (seeded, s) = start(Some(&court.endpoint), 4000).await?;
    let config = seeded.root.join("accord.toml");
    let agreement = seeded.agreement_id.clone();
    let view = s.everyone_applies(&agreement).await?;
    let request_id = text(&view, "/request_id")?.to_owned();

    court.wait_for(1, Duration::from_secs(30)).await?;
    // Between attempts: the case page shows the failed attempt stored (the next one is
    // ≥ 3.2 s away). Killed during an attempt instead, the delivery would wait out its
    // lease (≥ 130 s) before another start may take it.
    let retrying = s
        .wait_for_view(
            &agreement,
            "the failed attempt",
            Duration::from_secs(3),
            |v| v["delivery"]["state"] == "retrying",
        )
        .await?;
    assert_eq!(retrying["delivery"]["attempts"], 1, "{retrying}");
    assert!(retrying["delivery"]["last_error"].is_string(), "{retrying}");
    ensure!(court.received().len() == 1, "a second attempt came early");
    ensure_log_clean(&s.server)?;
    s.server.kill_hard().await?;

    let restarted = std::time::Instant::now();
    let s = Session::sign_in(serve(&seeded, &config).await?).await?;
    let posts = court
        .wait_for(
            2,
            Duration::from_secs(20).saturating_sub(restarted.elapsed()),
        )
        .await
        .context("the package within 20 s of the restart")?;
    let view = s
        .wait_for_view(&agreement, "the delivery", Duration::from_secs(10), |v| {
            v["delivery"]["state"] == "delivered"
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let posts_after = court.received();
    ensure!(posts_after.len() == posts.len(), "{posts_after:?}");
    let answered: Vec<u16> = posts.iter().map(|p| p.answered).collect();
    assert_eq!(
        answered,
        [503, 200],
        "one failure, then exactly one delivery"
    );
    for post in &posts {
        check_delivery(post, &request_id)?;
    }
    assert_eq!(posts[0].body, posts[1].body, "the same package both times");
    assert_eq!(text(&view, "/status")?, "received", "{view}");
    assert_eq!(view["delivery"]["attempts"], 2, "{view}");
    assert_eq!(
        s.audited(&seeded.case_id, "confirmation.delivered").await?,
        1
    );
    // The kill left the audit trail whole.
    ensure_log_clean(&s.server)?;
    s.server.stop().await?;
    let (code, output) = audit_verify(&seeded, &config).await?;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("intact"), "{output}");
    if std::env::var_os("ACCORD_TEST_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&seeded.root);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_an_attempt_delivers_the_package_once_when_the_lease_runs_out()
-> Result<()> {
    // The shortest lease the configuration takes: an attempt is cut off after 7 s, and the
    // restarted node may take the delivery over 12 s after the killed one claimed it. 7 s
    // leaves the test ample time to kill the node while its attempt is still open.
    const LEASE_MS: u64 = 12_000;
    // A failure of the first attempt, had it been stored before the kill, would put the
    // next attempt 8–12 minutes off: a second POST within this test can only be the
    // restarted node taking over the lapsed lease.
    const RETRY_BASE_MS: u64 = 600_000;
    let court = StandInCourt::start(&[HOLD]).await?;
    let seeded = seed().await?;
    let config = write_config(&seeded.root, Some(&court.endpoint), RETRY_BASE_MS, LEASE_MS)?;
    let s = Session::sign_in(serve(&seeded, &config).await?).await?;
    let agreement = seeded.agreement_id.clone();
    let view = s.everyone_applies(&agreement).await?;
    let request_id = text(&view, "/request_id")?.to_owned();

    // The court's system has read the whole package and not answered: the attempt is in
    // flight when the node dies.
    court.wait_for(1, Duration::from_secs(30)).await?;
    let killed_log = s.server.log_path().to_path_buf();
    s.server.kill_hard().await?;

    let s = Session::sign_in(serve(&seeded, &config).await?).await?;
    // The lease runs out 12 s after the first claim; the restart itself takes a few.
    let posts = court
        .wait_for(2, Duration::from_secs(60))
        .await
        .context("the restarted node takes the delivery over once the lease ran out")?;
    let view = s
        .wait_for_view(&agreement, "the delivery", Duration::from_secs(15), |v| {
            v["delivery"]["state"] == "delivered"
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let posts_after = court.received();
    ensure!(posts_after.len() == 2, "{posts_after:?}");
    let answered: Vec<u16> = posts.iter().map(|p| p.answered).collect();
    assert_eq!(answered, [HOLD, 200], "held by the court, then taken once");
    for post in &posts {
        check_delivery(post, &request_id)?;
    }
    assert_eq!(
        posts[0].header("idempotency-key"),
        posts[1].header("idempotency-key"),
        "the court can tell the second POST repeats the first"
    );
    assert_eq!(posts[0].body, posts[1].body, "the same package both times");
    let stored = court.stored();
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        [posts[1].header("idempotency-key")],
        "the court stored the package once"
    );
    assert_eq!(
        text(&view, "/package/sha256")?,
        sha256_hex(&posts[1].body),
        "the court got the package the case page names"
    );
    assert_eq!(text(&view, "/status")?, "received", "{view}");
    assert_eq!(view["delivery"]["attempts"], 2, "{view}");
    assert!(view["delivery"]["last_error"].is_null(), "{view}");
    assert_eq!(
        s.audited(&seeded.case_id, "confirmation.delivered").await?,
        1
    );
    // The restarted node recorded no failure: its one attempt delivered.
    let deliveries = r#"accord_confirmation_deliveries_total{result="#;
    assert_eq!(
        metric(&s, &format!(r#"{deliveries}"delivered"}}"#)).await?,
        1.0
    );
    assert_eq!(metric(&s, &format!(r#"{deliveries}"retry"}}"#)).await?, 0.0);
    // The killed node stored no result of its attempt.
    let killed = std::fs::read_to_string(&killed_log)?;
    ensure!(
        !killed.contains("package deliver"),
        "the killed node finished its attempt: {}",
        killed
            .lines()
            .filter(|l| l.contains("package deliver"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    ensure_log_file_clean(&killed_log)?;
    ensure_log_clean(&s.server)?;
    s.server.stop().await?;
    let (code, output) = audit_verify(&seeded, &config).await?;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("intact"), "{output}");
    if std::env::var_os("ACCORD_TEST_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&seeded.root);
        // The killed server's own directory (its log) is kept by `kill_hard`.
        if let Some(dir) = killed_log.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    Ok(())
}

/// A court whose first answer is `status`: after it the delivery reads `state` on the case
/// page and the court got exactly one POST (no retries follow, whatever the backoff).
async fn one_answer_settles_it(status: u16, state: &str, request_status: &str) -> Result<()> {
    let court = StandInCourt::start(&[status]).await?;
    let (seeded, s) = start(Some(&court.endpoint), 300).await?;
    let agreement = seeded.agreement_id.clone();
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

/// Posts a callback `body` signed as `signature` at `timestamp`.
async fn callback(
    s: &Session,
    body: &str,
    timestamp: i64,
    signature: Option<String>,
) -> Result<(u16, Value)> {
    let mut request = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/court-system/callbacks",
            s.server.http_url()
        ))
        .header("content-type", "application/json")
        .header("x-accord-timestamp", timestamp.to_string())
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-accord-signature", signature);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

fn signed(secret: &str, timestamp: i64, body: &str) -> Result<Option<String>> {
    Ok(Some(format!(
        "hmac-sha256={}",
        hmac_hex(secret, &format!("{timestamp}.{body}"))?
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn court_callbacks_are_taken_only_when_signed_and_fresh() -> Result<()> {
    let (seeded, s) = start(None, 300).await?;
    let agreement = seeded.agreement_id.clone();
    let view = s.everyone_applies(&agreement).await?;
    assert_eq!(text(&view, "/status")?, "submitted", "{view}");
    let request_id = text(&view, "/request_id")?.to_owned();
    let body = json!({"request_id": request_id, "event": "accepted",
                      "court_case_number": "(2026)粤0306民特1234号"})
    .to_string();
    let now = || accord_cases::store::now_ms() / 1000;

    for (what, timestamp, signature) in [
        (
            "a wrong secret",
            now(),
            signed("not-the-court-secret-0000", now(), &body)?,
        ),
        ("no signature", now(), None),
        (
            "a stale timestamp",
            now() - 600,
            signed(SECRET, now() - 600, &body)?,
        ),
        (
            "a signature over another body",
            now(),
            signed(SECRET, now(), &body.replace("1234", "9999"))?,
        ),
    ] {
        let (status, answer) = callback(&s, &body, timestamp, signature).await?;
        assert_eq!(
            (status, answer["code"].as_str()),
            (401, Some("bad_signature")),
            "{what}: {answer}"
        );
        let view = s.view(&agreement).await?;
        assert_eq!(
            text(&view, "/status")?,
            "submitted",
            "{what} changed nothing"
        );
    }

    let at = now();
    let (status, answer) = callback(&s, &body, at, signed(SECRET, at, &body)?).await?;
    assert_eq!(status, 200, "{answer}");
    let accepted = s.view(&agreement).await?;
    assert_eq!(text(&accepted, "/status")?, "accepted", "{accepted}");
    assert_eq!(
        text(&accepted, "/decision/court_case_number")?,
        "(2026)粤0306民特1234号"
    );
    assert!(accepted["clocks"]["ruling_due_at"].is_i64(), "{accepted}");

    // A court system retrying the same event: 200, nothing changes.
    let at = now();
    let (status, answer) = callback(&s, &body, at, signed(SECRET, at, &body)?).await?;
    assert_eq!(status, 200, "{answer}");
    let again = s.view(&agreement).await?;
    assert_eq!(again["status"], accepted["status"]);
    assert_eq!(again["decision"], accepted["decision"]);
    assert_eq!(again["clocks"], accepted["clocks"]);

    // Each refusal is audited with its reason; the acceptance once, despite the repeat.
    assert_eq!(
        s.audited(&seeded.case_id, "confirmation.callback_refused")
            .await?,
        4
    );
    assert_eq!(
        s.audited(&seeded.case_id, "confirmation.accepted").await?,
        1
    );

    // An unknown request is 404; an impossible transition 409.
    let unknown = body.replace(&request_id, "CR_doesnotexist");
    let at = now();
    let (status, answer) = callback(&s, &unknown, at, signed(SECRET, at, &unknown)?).await?;
    assert_eq!(
        (status, answer["code"].as_str()),
        (404, Some("not_found")),
        "{answer}"
    );
    let received = json!({"request_id": request_id, "event": "received"}).to_string();
    let at = now();
    let (status, answer) = callback(&s, &received, at, signed(SECRET, at, &received)?).await?;
    ensure!(
        status == 200 || (status == 409 && answer["code"] == "request_state"),
        "`received` after `accepted`: {status} {answer}"
    );
    assert_eq!(text(&s.view(&agreement).await?, "/status")?, "accepted");
    finish(seeded, s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accord_verify_passes_the_real_package_and_names_every_tampering() -> Result<()> {
    let (seeded, s) = start(None, 300).await?;
    let view = s.everyone_applies(&seeded.agreement_id).await?;
    let request_id = text(&view, "/request_id")?.to_owned();
    let path = format!("/api/v1/confirmation-requests/{request_id}/package.zip");
    let (status, content_type, package) = s.api.get_bytes(&path, &s.mediator).await?;
    assert_eq!(
        status.as_u16(),
        200,
        "{}",
        String::from_utf8_lossy(&package)
    );
    assert_eq!(content_type, "application/zip");
    let (status, _, court_copy) = s.api.get_bytes(&path, &s.court).await?;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(court_copy, package, "the court downloads the same bytes");
    assert_eq!(sha256_hex(&package), text(&view, "/package/sha256")?);
    assert_eq!(
        s.audited(&seeded.case_id, "confirmation.package_downloaded")
            .await?,
        2,
        "each download of the personal data in the package is audited"
    );

    let dir = seeded.root.join("packages");
    std::fs::create_dir_all(&dir)?;
    let (status, _, published) = s
        .api
        .get_bytes("/.well-known/accord/signing-keys.json", &s.mediator)
        .await?;
    assert_eq!(status.as_u16(), 200);
    let keys = write(&dir, "signing-keys.json", &published)?;
    let keys = keys.display().to_string();
    let trusted = ["--keys", keys.as_str()];

    let good = write(&dir, "good.zip", &package)?;
    let verdict = verify(&good, &trusted).await?;
    assert_eq!(verdict.code, 0, "{verdict:?}");
    assert!(verdict.stdout.contains("结论：材料包完整"), "{verdict:?}");
    let verdict = verify(&good, &["--lang", "en"]).await?;
    assert_eq!(verdict.code, 0, "{verdict:?}");
    assert!(
        verdict.stdout.contains("Result: the package is intact"),
        "{verdict:?}"
    );

    let original = Entries::read(&package)?;
    let platform = platform_signer(&seeded.data_dir)?;
    let variants = tampered_variants(&original, &platform, &seeded.devices)?;
    let mut failures = Vec::new();
    for (n, variant) in variants.iter().enumerate() {
        let path = write(
            &dir,
            &format!("tampered-{n}.zip"),
            &variant.entries.write()?,
        )?;
        let verdict = verify(&path, &trusted).await?;
        let named = variant
            .expect
            .iter()
            .all(|(path, code)| verdict.names(path, code));
        let clean = variant.forbid.iter().all(|code| !verdict.has_code(code));
        if verdict.code != 1 || !named || !clean || !verdict.stdout.contains("结论：发现") {
            failures.push(format!(
                "{}: expected exit 1 naming {:?} and none of {:?}, got {verdict:?}",
                variant.what, variant.expect, variant.forbid
            ));
        }
    }
    // Without a trusted key the forger's signature itself verifies, and the swap still
    // shows; in English when asked.
    let forged = variants
        .iter()
        .find(|v| v.what.contains("another key"))
        .context("the forged variant")?;
    let path = write(&dir, "forged-untrusted.zip", &forged.entries.write()?)?;
    let verdict = verify(&path, &["--lang", "en"]).await?;
    if verdict.code != 1
        || verdict.has_code("manifest_signature")
        || !verdict.has_code("signature_mismatch")
        || !verdict.stdout.contains("problem(s) found")
        || verdict.stdout.contains("结论")
    {
        failures.push(format!("forged, untrusted, in English: {verdict:?}"));
    }
    // Not a package at all: unreadable.
    let path = write(&dir, "garbage.zip", b"PK\x03\x04 not really a zip")?;
    let verdict = verify(&path, &[]).await?;
    if verdict.code != 2 || verdict.stderr.is_empty() {
        failures.push(format!(
            "garbage: expected exit 2 and a reason, got {verdict:?}"
        ));
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n\n"));
    finish(seeded, s).await
}
