//! The SIGKILL tests: the whole deployment (one node, or both nodes of a cluster) is killed
//! between two delivery attempts, or in the middle of one, and started again on the same
//! storage; the court gets the package exactly once all the same (see the module docs of
//! `judicial_confirmation` for why the whole deployment).

use std::time::Duration;

use anyhow::{Context, Result, ensure};

use super::court::{HOLD, StandInCourt};
use super::session::{
    Session, audit_verify, ensure_log_clean, ensure_log_file_clean, serve, write_config,
};
use super::world::seed;
use super::{check_delivery, deliveries, remove, sha256_hex, start, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_attempts_delivers_the_package_exactly_once_after_restart() -> Result<()>
{
    let court = StandInCourt::start(&[503]).await?;
    let (seeded, s) = start(Some(&court.endpoint), 4000).await?;
    let config = seeded.root.join("accord.toml");
    let agreement = seeded.case.agreement_id.clone();
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
    let killed_log = s.server.log_path().to_path_buf();
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
        s.audited(&seeded.case.case_id, "confirmation.delivered")
            .await?,
        1
    );
    // The kill left the audit trail whole.
    ensure_log_clean(&s.server)?;
    s.server.stop().await?;
    let (code, output) = audit_verify(&seeded, &config).await?;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("intact"), "{output}");
    remove_killed(&killed_log);
    remove(seeded).await
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
    let agreement = seeded.case.agreement_id.clone();
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
        s.audited(&seeded.case.case_id, "confirmation.delivered")
            .await?,
        1
    );
    // The restarted node recorded no failure: its one attempt delivered.
    assert_eq!(deliveries(&s, "delivered").await?, 1.0);
    assert_eq!(deliveries(&s, "retry").await?, 0.0);
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
    remove_killed(&killed_log);
    remove(seeded).await
}

/// Removes the directory of the killed deployment, whose log is at `log` (`kill_hard` keeps
/// it, for a test that fails after the kill).
fn remove_killed(log: &std::path::Path) {
    if std::env::var_os("ACCORD_TEST_KEEP").is_none()
        && let Some(dir) = log.parent()
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}
