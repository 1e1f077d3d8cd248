//! Bounded waiting: every wait in these tests has a deadline and, when it expires, says what
//! it expected and what it saw instead.

use anyhow::{Result, bail};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// How often [`wait_until`] re-evaluates its condition.
const POLL: Duration = Duration::from_millis(50);

/// Polls `check` until it returns `Ok(Some(value))` or `timeout` passes.
///
/// `check` returns `Ok(None)` to keep waiting and `Err` to fail at once. On timeout the error
/// reads "timed out after T waiting for `<what>`; last state: `<describe()>`", so the failure
/// explains itself without a debugger.
pub async fn wait_until<T, F, D>(
    timeout: Duration,
    what: &str,
    mut check: F,
    describe: D,
) -> Result<T>
where
    F: FnMut() -> Result<Option<T>>,
    D: Fn() -> String,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check()? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!(
                "timed out after {timeout:?} waiting for {what}; last state: {}",
                describe()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Runs `fut` with a deadline, turning expiry into an error that names `what`.
pub async fn within<T>(timeout: Duration, what: &str, fut: impl Future<Output = T>) -> Result<T> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(value) => Ok(value),
        Err(_) => bail!("timed out after {timeout:?} waiting for {what}"),
    }
}
