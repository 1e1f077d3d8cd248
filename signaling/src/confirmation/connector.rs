//! The outbound connector: delivers submitted packages to the court systems that have an
//! endpoint, from the transactional outbox the store writes in the same transaction as the
//! submission. One worker per node.
//!
//! Crash safety comes from the outbox, not from this loop: a row is claimed with a lease
//! (`claim_outbox`), and only `outbox_delivered` / `outbox_failed` release it. A node killed
//! mid-attempt leaves the row claimed until the lease runs out, then this node (after a
//! restart) or another one takes it again. The court may so receive a package twice when a
//! kill lands after its 2xx and before our commit; the `Idempotency-Key` is the same on
//! every attempt so it can drop the duplicate.
//!
//! Answers: 2xx or 409 (the court already has it) deliver; 408, 429, 5xx and network errors
//! retry with exponential backoff; any other 4xx gives up at once (the court refuses the
//! package as such; retrying would not change its mind). Given-up deliveries show on the case
//! page; court users still see the request in Accord's inbox.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use accord_cases::confirmation::model::OutboxItem;
use hmac::{Hmac, Mac};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use sha2::Sha256;
use tokio::io::AsyncReadExt as _;

use super::config::{ConfirmationConfig, CourtEndpoint, MAX_RETRY_DELAY_MS, redact_url};
use crate::AppState;
use crate::error::{Error, Result};

/// The largest package the connector sends: recordings travel as references, so a package
/// is the documents and evidence of one case.
pub const MAX_PACKAGE_BYTES: u64 = 512 * 1024 * 1024;
/// Time to open a connection to a court's system.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for one whole attempt, upload included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of a lease an attempt leaves unused, so the result is stored before the lease
/// runs out and no other node starts the same delivery meanwhile.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// One attempt's time limit: [`ATTEMPT_TIMEOUT`], or less when the lease is shorter.
pub fn attempt_timeout(lease_ms: u64) -> Duration {
    Duration::from_millis(lease_ms)
        .saturating_sub(LEASE_MARGIN)
        .clamp(Duration::from_secs(1), ATTEMPT_TIMEOUT)
}

/// The path court systems call back on, under the public URL.
pub const CALLBACK_PATH: &str = "/api/v1/court-system/callbacks";

/// `HMAC-SHA256(secret, message)` as lowercase hex.
pub fn hmac_hex(secret: &[u8], message: &[u8]) -> String {
    hex::encode(keyed(secret, message).finalize().into_bytes())
}

/// A keyed HMAC over `message`, ready to finalize or verify.
pub(super) fn keyed(secret: &[u8], message: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    mac
}

/// `X-Accord-Signature` of a delivery: `hmac-sha256=<hex of HMAC(secret, "{timestamp}.{package sha256}")>`.
/// The package's hash, not its bytes, is signed: the court hashes the body anyway to check
/// `X-Accord-Package-Sha256`, and the signature then covers the body through it.
pub fn delivery_signature(secret: &[u8], timestamp_s: i64, package_sha256: &str) -> String {
    format!(
        "hmac-sha256={}",
        hmac_hex(secret, format!("{timestamp_s}.{package_sha256}").as_bytes())
    )
}

/// The wait before attempt `attempts_made + 1`: `base × 2^(attempts_made − 1)`, capped at an
/// hour, moved by `jitter` (−1..=1) times 20 % so that many deliveries failing together do
/// not retry together.
pub fn retry_delay_ms(attempts_made: i64, base_ms: u64, jitter: f64) -> u64 {
    let doublings = u32::try_from(attempts_made.saturating_sub(1).clamp(0, 40)).unwrap_or(40);
    let plain = base_ms
        .saturating_mul(1u64.checked_shl(doublings).unwrap_or(u64::MAX))
        .min(MAX_RETRY_DELAY_MS);
    let moved = plain as f64 * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
    moved.max(0.0) as u64
}

/// What one attempt's answer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The court has the package.
    Delivered,
    /// Worth another attempt later.
    Retry,
    /// The court refuses it as such: no more attempts.
    GiveUp,
}

/// Classifies an HTTP status (`None`: no answer: a network error or a timeout).
pub fn classify(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299 | 409) => Verdict::Delivered,
        None | Some(408 | 429 | 500..=599) => Verdict::Retry,
        Some(_) => Verdict::GiveUp,
    }
}

// What `/metrics` reports of deliveries: process-wide, as every node has one connector.
static DELIVERED: AtomicU64 = AtomicU64::new(0);
static RETRIED: AtomicU64 = AtomicU64::new(0);
static GIVEN_UP: AtomicU64 = AtomicU64::new(0);
static PENDING: AtomicI64 = AtomicI64::new(0);

/// `confirmation_deliveries_total{result}`: (result, count) for delivered, retry, given_up.
pub fn deliveries_total() -> [(&'static str, u64); 3] {
    [
        ("delivered", DELIVERED.load(Ordering::Relaxed)),
        ("retry", RETRIED.load(Ordering::Relaxed)),
        ("given_up", GIVEN_UP.load(Ordering::Relaxed)),
    ]
}

/// `confirmation_outbox_pending`: deliveries neither delivered nor given up, as last counted.
pub fn outbox_pending() -> i64 {
    PENDING.load(Ordering::Relaxed)
}

/// Puts the connector's counters on `/metrics` (registered by [`crate::metrics::Metrics`]).
#[derive(Debug, Default)]
pub struct DeliveryCollector;

impl Collector for DeliveryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        let mut family = encoder.encode_descriptor(
            "confirmation_deliveries",
            "Package delivery attempts to courts' systems, by result",
            None,
            MetricType::Counter,
        )?;
        for (result, count) in deliveries_total() {
            ConstCounter::new(count).encode(family.encode_family(&[("result", result)])?)?;
        }
        let pending = ConstGauge::new(outbox_pending());
        pending.encode(encoder.encode_descriptor(
            "confirmation_outbox_pending",
            "Package deliveries neither made nor given up",
            None,
            pending.metric_type(),
        )?)?;
        Ok(())
    }
}

/// The HTTP client of deliveries.
pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(ATTEMPT_TIMEOUT)
        // A court system that redirects elsewhere is misconfigured; following would send
        // the package to an address nobody configured.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the connector's HTTP client: {e}")))
}

/// Starts this node's connector; it runs until the process ends.
pub fn spawn(state: AppState) -> Result<tokio::task::JoinHandle<()>> {
    let client = client()?;
    let owner = format!("node-{}", accord_sfu::random_token(12));
    Ok(tokio::spawn(async move {
        run(state, client, owner).await;
    }))
}

async fn run(state: AppState, client: reqwest::Client, owner: String) {
    let poll = Duration::from_millis(state.config().confirmation.poll_ms);
    loop {
        // A draining node starts no delivery: a claimed one would hold its lease, and the
        // node's exit, for up to an attempt's timeout. Another node (or this one, restarted)
        // takes the outbox on.
        if crate::drain::is_draining(&state) {
            tracing::info!("the confirmation connector stopped: the node is draining");
            return;
        }
        let attempt = state.drain().hold(crate::drain::Work::Delivering);
        let delivered = deliver_next(&state, &client, &owner).await;
        drop(attempt);
        match delivered {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "the confirmation connector failed a round"),
        }
        if let Ok(pending) = state.store().outbox_pending().await {
            PENDING.store(pending, Ordering::Relaxed);
        }
        tokio::time::sleep(poll).await;
    }
}

/// Claims one due delivery and attempts it; `false` when none was due. Public for tests,
/// which drive the connector a step at a time.
pub async fn deliver_next(state: &AppState, client: &reqwest::Client, owner: &str) -> Result<bool> {
    let settings = &state.config().confirmation;
    let now = state.now_ms();
    let lease_ms = i64::try_from(settings.lease_ms).unwrap_or(i64::MAX);
    let Some(item) = state.store().claim_outbox(owner, now, lease_ms).await? else {
        return Ok(false);
    };
    let (status, error) = match settings.court(&item.court) {
        Some(court) => attempt(state, client, court, &item).await,
        // The court was taken out of the configuration after the package was queued: keep
        // the delivery, so putting the court back delivers it.
        None => (None, "this court is no longer configured".to_owned()),
    };
    finish(state, settings, owner, &item, status, &error).await?;
    Ok(true)
}

async fn finish(
    state: &AppState,
    settings: &ConfirmationConfig,
    owner: &str,
    item: &OutboxItem,
    status: Option<u16>,
    error: &str,
) -> Result<()> {
    let now = state.now_ms();
    // The claim counted this attempt.
    let attempts_made = item.attempts;
    let court = item.court.as_str();
    match classify(status) {
        Verdict::Delivered => {
            let status = status.unwrap_or(200);
            state
                .store()
                .outbox_delivered(&item.id, owner, status, now)
                .await?;
            DELIVERED.fetch_add(1, Ordering::Relaxed);
            tracing::info!(request = %item.request_id, court, status, attempts = attempts_made, "package delivered to the court's system");
            if let Ok(request) = state.store().confirmation_request(&item.request_id).await {
                super::notices::status_changed(state, &request);
            }
        }
        Verdict::Retry if attempts_made < i64::from(settings.max_attempts) => {
            let jitter = rand::random_range(-1.0..=1.0);
            let delay = retry_delay_ms(attempts_made, settings.retry_base_ms, jitter);
            let next = now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
            state
                .store()
                .outbox_failed(&item.id, owner, status, error, Some(next), now)
                .await?;
            RETRIED.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(request = %item.request_id, court, status, attempts = attempts_made, retry_in_ms = delay, error, "package delivery failed; retrying");
        }
        Verdict::Retry | Verdict::GiveUp => {
            state
                .store()
                .outbox_failed(&item.id, owner, status, error, None, now)
                .await?;
            GIVEN_UP.fetch_add(1, Ordering::Relaxed);
            tracing::error!(request = %item.request_id, court, status, attempts = attempts_made, error, "package delivery given up");
        }
    }
    Ok(())
}

/// One POST; the answer's status (`None` without one) and what went wrong, for the record.
async fn attempt(
    state: &AppState,
    client: &reqwest::Client,
    court: &CourtEndpoint,
    item: &OutboxItem,
) -> (Option<u16>, String) {
    let Some(secret) = court.hmac_secret.as_deref() else {
        return (None, "the court has no shared secret configured".into());
    };
    let package = match read_blob(state, &item.package_sha256, MAX_PACKAGE_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => return (None, format!("the package cannot be read: {e}")),
    };
    let timestamp = state.now_ms().div_euclid(1000);
    let public_url = state.config().public_url.as_deref().unwrap_or_default();
    let sent = client
        .post(&item.endpoint)
        .timeout(attempt_timeout(state.config().confirmation.lease_ms))
        .header(reqwest::header::CONTENT_TYPE, "application/zip")
        .header("Idempotency-Key", &item.idempotency_key)
        .header("X-Accord-Request-Id", item.request_id.to_string())
        .header("X-Accord-Package-Sha256", &item.package_sha256)
        .header("X-Accord-Timestamp", timestamp.to_string())
        .header(
            "X-Accord-Signature",
            delivery_signature(secret, timestamp, &item.package_sha256),
        )
        .header(
            "X-Accord-Callback-Url",
            format!("{public_url}{CALLBACK_PATH}"),
        )
        .body(package)
        .send()
        .await;
    match sent {
        Ok(answer) => {
            let status = answer.status();
            let error = if status.is_success() {
                String::new()
            } else {
                format!("the court's system answered {status}")
            };
            (Some(status.as_u16()), error)
        }
        // reqwest's errors name the URL; ours is logged without its query.
        Err(e) => (
            None,
            format!("{} ({})", describe(&e), redact_url(&item.endpoint)),
        ),
    }
}

fn describe(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    }
}

/// A whole blob, refused past `max` bytes.
pub async fn read_blob(state: &AppState, sha256: &str, max: u64) -> Result<Vec<u8>> {
    let Some(reader) = state.blobs().open(sha256).await? else {
        return Err(Error::NotFound("the stored file is missing"));
    };
    let mut bytes = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| Error::Internal(format!("reading a blob: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(Error::PayloadTooLarge(format!(
            "the stored file is larger than {max} bytes"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_an_hour_within_a_fifth() {
        assert_eq!(retry_delay_ms(1, 10_000, 0.0), 10_000);
        assert_eq!(retry_delay_ms(2, 10_000, 0.0), 20_000);
        assert_eq!(retry_delay_ms(3, 10_000, 0.0), 40_000);
        assert_eq!(retry_delay_ms(30, 10_000, 0.0), MAX_RETRY_DELAY_MS);
        assert_eq!(retry_delay_ms(1, 10_000, 1.0), 12_000);
        assert_eq!(retry_delay_ms(1, 10_000, -1.0), 8_000);
        assert_eq!(retry_delay_ms(i64::MAX, u64::MAX, 0.0), MAX_RETRY_DELAY_MS);
    }

    #[test]
    fn an_attempt_ends_before_its_lease() {
        assert_eq!(attempt_timeout(60_000), Duration::from_secs(55));
        assert_eq!(attempt_timeout(600_000), ATTEMPT_TIMEOUT);
        assert_eq!(attempt_timeout(0), Duration::from_secs(1));
    }

    #[test]
    fn answers_are_classified_as_the_court_integration_guide_says() {
        for ok in [200, 201, 202, 204, 409] {
            assert_eq!(classify(Some(ok)), Verdict::Delivered, "{ok}");
        }
        for again in [408, 429, 500, 502, 503, 504] {
            assert_eq!(classify(Some(again)), Verdict::Retry, "{again}");
        }
        assert_eq!(classify(None), Verdict::Retry);
        for refused in [400, 401, 403, 404, 413, 422, 301] {
            assert_eq!(classify(Some(refused)), Verdict::GiveUp, "{refused}");
        }
    }

    #[test]
    fn the_delivery_signature_is_the_worked_example_of_the_integration_guide() {
        // docs/court-integration.md; the expected value was computed with Python's hmac.
        let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(
            delivery_signature(b"example-shared-secret-0123456789", 1_796_522_400, sha),
            "hmac-sha256=47c3bbfa5d074e621c7520e0478a7c6ee798aaf9197191a7881801abbb511d2c"
        );
    }
}
