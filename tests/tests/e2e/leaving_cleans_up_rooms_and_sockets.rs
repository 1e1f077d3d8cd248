//! When everyone has gone, whether with `leave` or by just closing the socket, the server holds
//! nothing for them any more: `/metrics` shows no rooms, participants, tracks or signaling
//! sessions, and the server process has no more file descriptors open than before anyone came.
//! A leak here is what makes a long-running server fall over after weeks of mediations.

use accord_tests::scenario::{MediaExpectation, expect_full_mesh};
use accord_tests::{ClientOptions, TestClient, TestServer, TokenRequest};
use anyhow::{Context, Result, ensure};
use std::collections::BTreeMap;
use std::time::Duration;

/// A dropped socket's seat is held this long for a resume (the default is 15 s).
const RESUME_GRACE_SECONDS: u64 = 1;
/// How long the server may take to give everything back after the last participant went.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(10);
/// The gauges that must return to zero.
const GAUGES: [&str; 4] = [
    "accord_rooms",
    "accord_participants",
    "accord_tracks",
    "accord_signaling_sessions",
];

/// The server's open file descriptors by kind (`socket`, `pipe`, `anon_inode:[eventfd]`, a
/// path, ...), counted. Kinds rather than numbers, because the kernel reuses numbers.
fn open_fds(pid: u32) -> Result<BTreeMap<String, usize>> {
    let dir = format!("/proc/{pid}/fd");
    let mut kinds = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {dir}"))? {
        let entry = entry.with_context(|| format!("reading {dir}"))?;
        // An fd closed between listing and reading is simply gone.
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        // `socket:[12345]` → `tcp ESTABLISHED` (or `udp`, `socket` if not an inet one):
        // the inode differs for every socket, the protocol and state tell what leaked.
        let kind = match target.split_once(":[") {
            Some(("socket", inode)) => socket_kind(pid, inode.trim_end_matches(']')),
            Some((kind, _)) => kind.to_owned(),
            None => target,
        };
        *kinds.entry(kind).or_insert(0) += 1;
    }
    Ok(kinds)
}

/// `tcp <state> <local>-><remote>` (or `udp`) for an inet socket inode of `pid`, else `socket`.
fn socket_kind(pid: u32, inode: &str) -> String {
    const TCP_STATES: [&str; 12] = [
        "?",
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
    ];
    for proto in ["tcp", "tcp6", "udp", "udp6"] {
        let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/{proto}")) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.get(9) != Some(&inode) {
                continue;
            }
            let state = usize::from_str_radix(cols.get(3).unwrap_or(&"0"), 16).unwrap_or(0);
            let port = |c: Option<&&str>| {
                c.and_then(|a| a.rsplit_once(':'))
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                    .unwrap_or(0)
            };
            return if proto.starts_with("tcp") {
                format!(
                    "tcp {} :{}->:{}",
                    TCP_STATES.get(state).unwrap_or(&"?"),
                    port(cols.get(1)),
                    port(cols.get(2))
                )
            } else {
                format!("udp :{}", port(cols.get(1)))
            };
        }
    }
    "socket".to_owned()
}

fn total(fds: &BTreeMap<String, usize>) -> usize {
    fds.values().sum()
}

/// HTTP to the server without keep-alive, so the harness itself holds no connection between
/// requests and the descriptor baseline means "nobody here". (The harness's pooled client
/// may open a second connection under it at any time, which would look like a leak.)
struct Http {
    client: reqwest::Client,
}

impl Http {
    fn new() -> Result<Self> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .context("building an HTTP client")?;
        Ok(Self { client })
    }

    async fn mint(&self, server: &TestServer, room: &str, who: &str, role: &str) -> Result<String> {
        let url = format!("{}/api/v1/tokens", server.http_url());
        let response = self
            .client
            .post(&url)
            .bearer_auth(server.api_key())
            .header(reqwest::header::CONNECTION, "close")
            .json(&TokenRequest::new(room, who, role))
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.context("reading a token")?;
        ensure!(status.is_success(), "POST {url} answered {status}: {body}");
        body.get("token")
            .and_then(|t| t.as_str())
            .map(str::to_owned)
            .with_context(|| format!("no token in {body}"))
    }

    async fn gauges(&self, server: &TestServer) -> Result<Vec<(&'static str, f64)>> {
        let url = format!("{}/metrics", server.http_url());
        let text = self
            .client
            .get(&url)
            .header(reqwest::header::CONNECTION, "close")
            .send()
            .await
            .with_context(|| format!("GET {url}"))?
            .text()
            .await
            .context("reading /metrics")?;
        let mut values = Vec::new();
        for name in GAUGES {
            let value = accord_tests::server::parse_metric(&text, name)
                .with_context(|| format!("/metrics has no {name}:\n{text}"))?;
            values.push((name, value));
        }
        Ok(values)
    }
}

/// The descriptors once two reads 100 ms apart agree (a connection we just closed may take a
/// moment to be closed on the server's side too).
async fn settled_fds(pid: u32) -> Result<BTreeMap<String, usize>> {
    let mut previous = open_fds(pid)?;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = open_fds(pid)?;
        if now == previous {
            break;
        }
        previous = now;
    }
    Ok(previous)
}

#[tokio::test(flavor = "multi_thread")]
async fn rooms_participants_and_sockets_are_released_after_everyone_leaves() -> Result<()> {
    let grace = RESUME_GRACE_SECONDS.to_string();
    let server = TestServer::start_with_env(&[
        // The file descriptors of one process.
        accord_tests::ONE_PROCESS,
        ("ACCORD_SIGNALING_RESUME_GRACE_SECONDS", &grace),
    ])
    .await?;
    let pid = server.pid().context("the server has no pid")?;
    let http = Http::new()?;
    let idle = http.gauges(&server).await?;
    ensure!(
        idle.iter().all(|(_, v)| *v == 0.0),
        "an idle server reports activity: {idle:?}"
    );
    let baseline = settled_fds(pid).await?;

    let mut clients = Vec::new();
    for (room, who, role) in [
        ("cleanup-a", "a-mediator", "mediator"),
        ("cleanup-a", "a-party-1", "party"),
        ("cleanup-a", "a-party-2", "party"),
        ("cleanup-b", "b-mediator", "mediator"),
        ("cleanup-b", "b-party", "party"),
    ] {
        let token = http.mint(&server, room, who, role).await?;
        let options = ClientOptions::new(who, role);
        clients.push(TestClient::connect(&server.ws_url(), &token, options).await?);
    }
    let [a1, a2, a3, b1, b2] = <[TestClient; 5]>::try_from(clients)
        .map_err(|_| anyhow::anyhow!("five clients were joined"))?;
    let quick = MediaExpectation {
        audio_packets: 25,
        video_packets: 15,
        ..MediaExpectation::default()
    };
    expect_full_mesh(&[&a1, &a2, &a3], &quick).await?;
    expect_full_mesh(&[&b1, &b2], &quick).await?;

    // While they are all here the gauges and the descriptors count them; otherwise "back to
    // zero" below would prove nothing.
    let busy = http.gauges(&server).await?;
    ensure!(
        busy == [
            ("accord_rooms", 2.0),
            ("accord_participants", 5.0),
            ("accord_tracks", 10.0),
            ("accord_signaling_sessions", 5.0),
        ],
        "with five participants in two rooms the server reports {busy:?}"
    );
    let during = open_fds(pid)?;
    ensure!(
        total(&during) >= total(&baseline) + 5,
        "five WebSockets should hold at least five more descriptors: before {baseline:?}, \
         during {during:?}"
    );

    // Both ways out, in both rooms: `leave` (answered with `left`), and a socket that just
    // closes (the seat is held for the grace period, then given up).
    a1.leave().await?;
    a2.close().await?;
    b1.close().await?;
    b2.leave().await?;
    a3.leave().await?;

    // Poll until clean; `wait_until` takes a synchronous check, and /metrics is async. The
    // descriptors are read before each request, after the previous one had 100 ms to close.
    let deadline = tokio::time::Instant::now() + CLEANUP_TIMEOUT;
    loop {
        let fds = open_fds(pid)?;
        let values = http.gauges(&server).await?;
        if values.iter().all(|(_, v)| *v == 0.0) && total(&fds) <= total(&baseline) {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{CLEANUP_TIMEOUT:?} after everyone left, the server still reports {values:?} and \
             holds {} descriptors {fds:?}, against {} {baseline:?} before anyone joined",
            total(&fds),
            total(&baseline)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await
}
