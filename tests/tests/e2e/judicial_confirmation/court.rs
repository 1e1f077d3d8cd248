//! A stand-in for a court's own system on 127.0.0.1: it takes package POSTs, answers them
//! as a test scripts, and keeps what it got, so a test counts the POSTs a court would see.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, ensure};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::Notify;

/// In a stand-in court's script: read the whole body, then hold the response open without
/// answering, as a court system hanging mid-request does. In [`Received::answered`]: no
/// answer was given.
pub const HOLD: u16 = 0;
/// How long a held response stays open at most: longer than any test waits, so it is never
/// answered while the test looks, and still bounded.
const HOLD_FOR: Duration = Duration::from_secs(180);
/// How long a gated POST waits for the others (see [`StandInCourt::start_gated`]).
pub const GATE_FOR: Duration = Duration::from_secs(60);

/// One POST the stand-in court received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Its headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// What the stand-in answered ([`HOLD`]: nothing, yet).
    pub answered: u16,
}

impl Received {
    /// The value of header `name` (lower case), or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct CourtLog {
    script: VecDeque<u16>,
    received: Vec<Received>,
    /// The packages taken (answered 2xx), by Idempotency-Key: a repeat is not stored again.
    stored: BTreeMap<String, Vec<u8>>,
}

/// A court's system on 127.0.0.1: answers POSTs with the scripted statuses (or [`HOLD`]s
/// them), then 200, keeps every request, and stores each package it takes once per
/// Idempotency-Key, as docs/court-integration.md asks of a court.
#[derive(Clone)]
pub struct StandInCourt {
    log: Arc<Mutex<CourtLog>>,
    seen: Arc<Notify>,
    /// Where it takes packages.
    pub endpoint: String,
}

impl CourtLog {
    /// Records `post` and decides its answer: (status or [`HOLD`], its index).
    fn take(&mut self, mut post: Received) -> (u16, usize) {
        let status = self.script.pop_front().unwrap_or(200);
        post.answered = status;
        if (200..300).contains(&status) {
            self.stored
                .entry(post.header("idempotency-key").to_owned())
                .or_insert_with(|| post.body.clone());
        }
        self.received.push(post);
        (status, self.received.len() - 1)
    }
}

impl StandInCourt {
    /// Starts it; the first POSTs are answered with `script`, in order.
    pub async fn start(script: &[u16]) -> Result<StandInCourt> {
        Self::start_gated(script, 1).await
    }

    /// Like [`StandInCourt::start`], but no POST is answered before `together` have arrived
    /// (or [`GATE_FOR`] has passed: then it is answered 503). A node sends one package at a
    /// time, so with `together` = 2 the first POST stays open until another node sends one.
    pub async fn start_gated(script: &[u16], together: usize) -> Result<StandInCourt> {
        let log = Arc::new(Mutex::new(CourtLog {
            script: script.iter().copied().collect(),
            ..CourtLog::default()
        }));
        let seen = Arc::new(Notify::new());
        let (handler_log, handler_seen) = (log.clone(), seen.clone());
        let app = axum::Router::new().route(
            "/packages",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (log, seen) = (handler_log.clone(), handler_seen.clone());
                async move {
                    let post = Received {
                        headers: headers
                            .iter()
                            .map(|(n, v)| {
                                (
                                    n.as_str().to_owned(),
                                    v.to_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect(),
                        body: body.to_vec(),
                        answered: HOLD,
                    };
                    let (status, index) = log.lock().unwrap_or_else(|e| e.into_inner()).take(post);
                    seen.notify_waiters();
                    if status == HOLD {
                        // Bounded whether or not the server drops this future when the
                        // sender's socket closes (as a SIGKILL does).
                        tokio::time::sleep(HOLD_FOR).await;
                        log.lock().unwrap_or_else(|e| e.into_inner()).received[index].answered =
                            504;
                        return StatusCode::GATEWAY_TIMEOUT;
                    }
                    if !gate(&log, &seen, together).await {
                        log.lock().unwrap_or_else(|e| e.into_inner()).received[index].answered =
                            503;
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}/packages", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(StandInCourt {
            log,
            seen,
            endpoint,
        })
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .received
            .clone()
    }

    /// The packages it took, by Idempotency-Key.
    pub fn stored(&self) -> BTreeMap<String, Vec<u8>> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stored
            .clone()
    }

    /// Waits until at least `n` POSTs arrived, for up to `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<Received>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.seen.notified();
            let received = self.received();
            if received.len() >= n {
                return Ok(received);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            ensure!(
                !left.is_zero(),
                "the stand-in court got {} POST(s) within {timeout:?}, expected {n}",
                received.len()
            );
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }
}

/// Waits until `together` POSTs have arrived; `false` if they did not within [`GATE_FOR`].
async fn gate(log: &Mutex<CourtLog>, seen: &Notify, together: usize) -> bool {
    let deadline = tokio::time::Instant::now() + GATE_FOR;
    loop {
        let notified = seen.notified();
        if log.lock().unwrap_or_else(|e| e.into_inner()).received.len() >= together {
            return true;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return false;
        }
    }
}
