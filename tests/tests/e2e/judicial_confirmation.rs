//! Judicial confirmation (司法确认) end to end on the real binary, in the deployment
//! `ACCORD_TEST_DEPLOYMENT` names (one node on SQLite, one node on PostgreSQL, or two nodes
//! sharing PostgreSQL, Redis, the keys and the blobs behind one address): the parties apply
//! with their case links, the package goes to a court's own system through the connector
//! (which retries a court answering 503, and survives a SIGKILL between attempts, or during
//! one, with the package taken exactly once), the court's system calls back with signed
//! callbacks, and `accord verify` checks the real package and catches every kind of
//! tampering.
//!
//! The agreements are brought into force by seeding the deployment's database and keys
//! folder through the store before any node starts (`world.rs`, `storage.rs`); everything
//! the issue is about runs through the binary. Traffic stays on 127.0.0.1.
//!
//! On two nodes every node runs the connector, so exactly-once is the outbox's doing, not a
//! lone worker's: `delivery.rs` has the stand-in court hold the first POST open until a
//! second one arrives, which only the other node can send (a node sends one package at a
//! time), and counts each package's POSTs. The SIGKILL tests (`restart.rs`) kill the whole
//! deployment, both nodes at once, as a power cut does, and start it again on the same
//! database, keys and blobs, which the world (not the harness) owns for that reason; they
//! run in every deployment, because the promise is the same with one node or two: the
//! stored outbox row, its attempt count and its lease decide, whichever node comes back and
//! takes it. None is kept to one process ([`accord_tests::ONE_PROCESS`]): the crash is of
//! the service, not of a process. One node of two dying with a delivery in flight is the
//! lapsed-lease case of the in-attempt test, with the survivor instead of a restarted node
//! taking the row; the harness kills a deployment as a whole, so it is tested that way.
//!
//! Run: `cargo build -p accord --bin accord && cargo test -p accord-tests --test e2e
//! judicial_confirmation::` (`ACCORD_TEST_DEPLOYMENT=postgres` or `cluster` for the other
//! deployments; `ACCORD_TEST_KEEP=1` keeps each world's directory and database, with the
//! tampered packages under `packages/`).

mod court;
mod delivery;
mod restart;
mod session;
mod storage;
mod tamper;
mod world;

use anyhow::{Context, Result, ensure};
use hmac::Mac as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use session::{LONG_LEASE_MS, Session, ensure_log_clean, serve, write_config};
use tamper::{Entries, platform_signer, tampered_variants, verify, write};
use world::{SECRET, Seeded, seed};

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

/// Stops the server and removes the world.
async fn finish(seeded: Seeded, session: Session) -> Result<()> {
    ensure_log_clean(&session.server)?;
    session.server.stop().await?;
    remove(seeded).await
}

/// Drops the world's database and removes its directory (both kept with `ACCORD_TEST_KEEP`).
async fn remove(seeded: Seeded) -> Result<()> {
    let Seeded { root, storage, .. } = seeded;
    storage.remove().await?;
    if std::env::var_os("ACCORD_TEST_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&root);
    }
    Ok(())
}

/// The value of sample `series` (name with labels, as exposed) on `/metrics`, summed over
/// the nodes.
async fn metric(s: &Session, series: &str) -> Result<f64> {
    s.server
        .metric(series)
        .await?
        .with_context(|| format!("no {series} on /metrics"))
}

/// How many package deliveries ended with `result` (`delivered`, `retry`, `given_up`),
/// summed over the deployment's nodes.
async fn deliveries(s: &Session, result: &str) -> Result<f64> {
    metric(
        s,
        &format!(r#"accord_confirmation_deliveries_total{{result="{result}"}}"#),
    )
    .await
}

/// Checks what the court's system got in one POST, as a court's IT department would.
fn check_delivery(post: &court::Received, request_id: &str) -> Result<()> {
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
    let agreement = seeded.case.agreement_id.clone();
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
        s.audited(&seeded.case.case_id, "confirmation.callback_refused")
            .await?,
        4
    );
    assert_eq!(
        s.audited(&seeded.case.case_id, "confirmation.accepted")
            .await?,
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
    let view = s.everyone_applies(&seeded.case.agreement_id).await?;
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
        s.audited(&seeded.case.case_id, "confirmation.package_downloaded")
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
    let platform = platform_signer(seeded.storage.keys_dir())?;
    let variants = tampered_variants(&original, &platform, &seeded.case.devices)?;
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
