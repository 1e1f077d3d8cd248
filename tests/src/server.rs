//! [`TestServer`]: the real `accord` binary as a child process, on ephemeral ports, with a
//! fresh data directory and random secrets.

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// How long `accord serve` may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The line prefix the server prints on stdout once it listens.
const READY_PREFIX: &str = "ACCORD_READY";

/// A running `accord serve`.
///
/// End a passing test with [`TestServer::stop`]. A server dropped without `stop` (a test that
/// failed with `?` or panicked) is killed too, but keeps its directory and prints where its
/// log is, with the last lines.
///
/// Environment: `ACCORD_BIN` (the binary), `ACCORD_TEST_KEEP=1` (keep the directory even
/// after a pass), `ACCORD_TEST_LOG` (the server's `RUST_LOG`, default `info`).
#[derive(Debug)]
pub struct TestServer {
    stopped: bool,
    child: Child,
    http: SocketAddr,
    media: SocketAddr,
    api_key: String,
    token_secret: String,
    dir: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    http_client: reqwest::Client,
}

/// What to put in a join token; [`TokenRequest::new`] fills the usual defaults.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRequest {
    /// Room name.
    pub room: String,
    /// Stable identity (`sub`).
    pub identity: String,
    /// Display name.
    pub name: String,
    /// `mediator`, `party`, `observer` or `guest`.
    pub role: String,
    /// May publish media.
    pub can_publish: bool,
    /// May receive media.
    pub can_subscribe: bool,
    /// Not announced to others.
    pub hidden: bool,
    /// Lifetime of the token.
    pub ttl_seconds: u64,
}

impl TokenRequest {
    /// A visible participant who may publish and subscribe, with a one-hour token.
    pub fn new(room: &str, identity: &str, role: &str) -> Self {
        Self {
            room: room.to_owned(),
            identity: identity.to_owned(),
            name: identity.to_owned(),
            role: role.to_owned(),
            can_publish: true,
            can_subscribe: true,
            hidden: false,
            ttl_seconds: 3600,
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token: String,
}

impl TestServer {
    /// Starts `accord serve` and waits (up to 20 s) for its `ACCORD_READY` line.
    ///
    /// The binary is `$ACCORD_BIN`, else `<target>/debug/accord`; build it first with
    /// `cargo build --bins`.
    pub async fn start() -> Result<Self> {
        Self::start_with_env(&[]).await
    }

    /// Like [`TestServer::start`], with extra environment variables (e.g. room limits).
    pub async fn start_with_env(extra_env: &[(&str, &str)]) -> Result<Self> {
        Self::start_bin(&accord_binary()?, extra_env).await
    }

    /// Like [`TestServer::start_with_env`], running `bin` (the load tool picks a release
    /// build without touching its own environment).
    pub async fn start_bin(bin: &Path, extra_env: &[(&str, &str)]) -> Result<Self> {
        Self::start_full(bin, extra_env, &[]).await
    }

    /// Like [`TestServer::start_with_env`], with extra arguments after `serve` (`--demo`).
    /// An `ACCORD_DATA_DIR` in `extra_env` replaces the fresh data directory, so a test can
    /// start a second server on the first one's data.
    pub async fn start_with_args(extra_env: &[(&str, &str)], args: &[&str]) -> Result<Self> {
        Self::start_full(&accord_binary()?, extra_env, args).await
    }

    async fn start_full(bin: &Path, extra_env: &[(&str, &str)], args: &[&str]) -> Result<Self> {
        crate::init_logging();
        let bin = bin.to_path_buf();
        let dir = crate::fresh_temp_dir("accord-test-server")?;
        let data_dir = dir.join("data");
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let log_path = dir.join("server.log");
        let api_key = format!("test-api-key-{:032x}", rand::random::<u128>());
        let token_secret = format!(
            "{:032x}{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        );

        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .args(args)
            .env("ACCORD_DATA_DIR", &data_dir)
            .env("ACCORD_HTTP_LISTEN", "127.0.0.1:0")
            .env("ACCORD_MEDIA_LISTEN", "127.0.0.1:0")
            .env("ACCORD_AUTH_API_KEY", &api_key)
            .env("ACCORD_AUTH_TOKEN_SECRET", &token_secret)
            .env(
                "RUST_LOG",
                std::env::var("ACCORD_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            // Harness-only variables would only earn an "unknown ACCORD_ variable" warning.
            .env_remove("ACCORD_BIN")
            .env_remove("ACCORD_TEST_KEEP")
            .env_remove("ACCORD_TEST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in extra_env {
            cmd.env(key, value);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {} serve", bin.display()))?;

        let log = tokio::fs::File::create(&log_path)
            .await
            .with_context(|| format!("creating {}", log_path.display()))?;
        let log = std::sync::Arc::new(tokio::sync::Mutex::new(log));
        let (ready_tx, ready_rx) = oneshot::channel();
        let stdout = child.stdout.take().context("child stdout not piped")?;
        let stderr = child.stderr.take().context("child stderr not piped")?;
        tokio::spawn(drain(stdout, "out", log.clone(), Some(ready_tx)));
        tokio::spawn(drain(stderr, "err", log, None));

        let line = match tokio::time::timeout(READY_TIMEOUT, ready_rx).await {
            Ok(Ok(line)) => line,
            Ok(Err(_)) => {
                let status = child.wait().await.ok();
                bail!(
                    "accord serve exited before printing {READY_PREFIX} (status {status:?}); \
                     log {}:\n{}",
                    log_path.display(),
                    crate::tail_of_file(&log_path, 40)
                );
            }
            Err(_) => {
                let _ = child.start_kill();
                bail!(
                    "accord serve printed no {READY_PREFIX} line within {READY_TIMEOUT:?}; \
                     log {}:\n{}",
                    log_path.display(),
                    crate::tail_of_file(&log_path, 40)
                );
            }
        };
        let (http, media) = parse_ready_line(&line)?;
        let http_client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            stopped: false,
            child,
            http,
            media,
            api_key,
            token_secret,
            data_dir: extra_env
                .iter()
                .find(|(key, _)| *key == "ACCORD_DATA_DIR")
                .map_or_else(|| dir.join("data"), |(_, value)| PathBuf::from(value)),
            dir,
            log_path,
            http_client,
        })
    }

    /// The server's data directory (database, keys, blobs).
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone()
    }

    /// The HTTP listen address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The media (UDP) listen address.
    pub fn media_addr(&self) -> SocketAddr {
        self.media
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// `ws://127.0.0.1:PORT/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.http)
    }

    /// The API key the server was started with.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The secret the server signs join tokens with, for tests that forge their own tokens
    /// (expired ones, say), which `POST /api/v1/tokens` rightly refuses to mint.
    pub fn token_secret(&self) -> &str {
        &self.token_secret
    }

    /// The file the server's stdout and stderr go to.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        crate::tail_of_file(&self.log_path, lines)
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Mints a join token through `POST /api/v1/tokens`.
    pub async fn mint_token(
        &self,
        room: &str,
        identity: &str,
        name: &str,
        role: &str,
        can_publish: bool,
        can_subscribe: bool,
    ) -> Result<String> {
        let mut request = TokenRequest::new(room, identity, role);
        request.name = name.to_owned();
        request.can_publish = can_publish;
        request.can_subscribe = can_subscribe;
        self.mint(&request).await
    }

    /// Mints a join token with every field under the caller's control.
    pub async fn mint(&self, request: &TokenRequest) -> Result<String> {
        let url = format!("{}/api/v1/tokens", self.http_url());
        let response = self
            .http_client
            .post(&url)
            .bearer_auth(&self.api_key)
            .json(request)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .context("reading the token response")?;
        if !status.is_success() {
            bail!("POST {url} answered {status}: {body}");
        }
        let parsed: TokenResponse = serde_json::from_str(&body)
            .with_context(|| format!("POST {url} answered {status} with {body}"))?;
        Ok(parsed.token)
    }

    /// The Prometheus text from `GET /metrics`.
    pub async fn metrics_text(&self) -> Result<String> {
        let url = format!("{}/metrics", self.http_url());
        let response = self
            .http_client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let body = response.text().await.context("reading /metrics")?;
        if !status.is_success() {
            bail!("GET {url} answered {status}: {body}");
        }
        Ok(body)
    }

    /// Stops the server at the end of a passing test and removes its directory. Fails if the
    /// server exited on its own during the test (a crash), keeping the log.
    pub async fn stop(mut self) -> Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            bail!(
                "accord serve exited during the test ({status}); log {}:\n{}",
                self.log_path.display(),
                self.log_tail(40)
            );
        }
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        self.stopped = true;
        if std::env::var_os("ACCORD_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        Ok(())
    }

    /// Kills the server with SIGKILL (`kill -9`: no shutdown code runs, as in a power cut or
    /// an out-of-memory kill) and waits until it is gone. Its directory, data included, is
    /// kept: the point is to start the next server on the same data
    /// (`ACCORD_DATA_DIR` in [`TestServer::start_with_args`]). Returns the data directory.
    pub async fn kill_hard(mut self) -> Result<PathBuf> {
        let pid = self.pid().context("the server has already exited")?;
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .context("running kill -9")?;
        ensure!(status.success(), "kill -9 {pid} failed ({status})");
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .context("the killed server did not exit within 10 s")?
            .context("waiting for the killed server")?;
        self.stopped = true;
        Ok(self.data_dir.clone())
    }

    /// Sends the server SIGTERM (what an orchestrator sends to stop a node): the first one
    /// drains it, the second moves everyone off it. The server keeps running until it has
    /// drained; see [`TestServer::wait_exit`].
    pub fn terminate(&self) -> Result<()> {
        let pid = self.pid().context("the server has already exited")?;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .context("running kill -TERM")?;
        ensure!(status.success(), "kill -TERM {pid} failed ({status})");
        Ok(())
    }

    /// Waits up to `within` for the server to exit by itself (after [`TestServer::terminate`])
    /// and returns its exit code; fails (keeping the server and its log) if it is still
    /// running then or was killed by a signal. The directory is kept (the data and log may
    /// still be wanted): [`TestServer::remove_dir`] removes it.
    pub async fn wait_exit(&mut self, within: Duration) -> Result<i32> {
        let status = match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.context("waiting for the server to exit")?,
            Err(_) => bail!(
                "accord serve did not exit within {within:?}; log {}:\n{}",
                self.log_path.display(),
                self.log_tail(40)
            ),
        };
        self.stopped = true;
        let code = status.code().with_context(|| {
            format!(
                "accord serve was killed by a signal ({status}); log {}:\n{}",
                self.log_path.display(),
                self.log_tail(40)
            )
        })?;
        Ok(code)
    }

    /// Removes the server's directory (after [`TestServer::wait_exit`]), unless
    /// `ACCORD_TEST_KEEP` is set.
    pub fn remove_dir(&self) {
        if std::env::var_os("ACCORD_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// The value of one sample from `/metrics` (e.g. `accord_participants` or, for a counter,
    /// `accord_forwarded_packets_total`; labels other than `node` as exposed, see
    /// [`parse_metric`]); `None` if the server does not export it.
    pub async fn metric(&self, name: &str) -> Result<Option<f64>> {
        let text = self.metrics_text().await?;
        Ok(parse_metric(&text, name))
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        let _ = self.child.start_kill();
        // Dropped without `stop`: the test failed. Keep the directory, the log is the first
        // thing to read.
        eprintln!(
            "accord server log: {}\n--- last lines ---\n{}",
            self.log_path.display(),
            self.log_tail(60)
        );
    }
}

/// The `accord` binary under test: `$ACCORD_BIN`, else `<target>/debug/accord`.
pub fn accord_binary() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("ACCORD_BIN") {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            bail!(
                "ACCORD_BIN points at {}, which does not exist",
                bin.display()
            );
        }
        return Ok(bin);
    }
    let bin = crate::target_dir()?.join("debug").join("accord");
    if !bin.is_file() {
        bail!(
            "the accord binary is missing at {}: run `cargo build --bins` first \
             (or set ACCORD_BIN)",
            bin.display()
        );
    }
    Ok(bin)
}

/// Parses `ACCORD_READY http=127.0.0.1:PORT media=127.0.0.1:PORT`.
fn parse_ready_line(line: &str) -> Result<(SocketAddr, SocketAddr)> {
    let mut http = None;
    let mut media = None;
    for word in line.split_whitespace().skip(1) {
        if let Some(v) = word.strip_prefix("http=") {
            http = Some(
                v.parse()
                    .with_context(|| format!("bad http address in {line:?}"))?,
            );
        } else if let Some(v) = word.strip_prefix("media=") {
            media = Some(
                v.parse()
                    .with_context(|| format!("bad media address in {line:?}"))?,
            );
        }
    }
    match (http, media) {
        (Some(h), Some(m)) => Ok((h, m)),
        _ => Err(anyhow!("ready line lacks http= or media=: {line:?}")),
    }
}

/// Finds the sample `series` in Prometheus text exposition: a name (`accord_tracks`) or a
/// name with labels as exposed (`accord_x_total{result="ok"}`). The `node` label every
/// series carries is not part of what is matched, so a series is named as on one node.
pub fn parse_metric(text: &str, series: &str) -> Option<f64> {
    let (name, labels) = split_series(series);
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (sample, value) = l.rsplit_once(' ')?;
        let (sample_name, sample_labels) = split_series(sample);
        let sample_labels: Vec<&str> = sample_labels
            .into_iter()
            .filter(|label| !label.starts_with("node="))
            .collect();
        (sample_name == name && sample_labels == labels)
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// `name{a="1",b="2"}` as its name and its labels in order.
fn split_series(series: &str) -> (&str, Vec<&str>) {
    match series.split_once('{') {
        Some((name, labels)) => (
            name,
            labels
                .trim_end_matches('}')
                .split(',')
                .filter(|l| !l.is_empty())
                .collect(),
        ),
        None => (series, Vec::new()),
    }
}

/// Copies one output stream of the child into the log, handing the ready line to `ready`.
async fn drain(
    stream: impl AsyncRead + Unpin,
    tag: &'static str,
    log: std::sync::Arc<tokio::sync::Mutex<tokio::fs::File>>,
    mut ready: Option<oneshot::Sender<String>>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.starts_with(READY_PREFIX)
            && let Some(tx) = ready.take()
        {
            let _ = tx.send(line.clone());
        }
        let mut file = log.lock().await;
        let _ = file.write_all(format!("[{tag}] {line}\n").as_bytes()).await;
        let _ = file.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line() {
        let (h, m) = parse_ready_line("ACCORD_READY http=127.0.0.1:4000 media=127.0.0.1:5000")
            .expect("parses");
        assert_eq!(h.port(), 4000);
        assert_eq!(m.port(), 5000);
        assert!(parse_ready_line("ACCORD_READY http=127.0.0.1:4000").is_err());
    }

    #[test]
    fn metric_lines() {
        let text = "# HELP accord_tracks Published tracks\n# TYPE accord_tracks gauge\n\
                    accord_tracks 4\naccord_x_total{a=\"b\"} 3\naccord_y_total 7\n";
        assert_eq!(parse_metric(text, "accord_tracks"), Some(4.0));
        assert_eq!(parse_metric(text, "accord_y_total"), Some(7.0));
        assert_eq!(parse_metric(text, "accord_x_total"), None);
        assert_eq!(parse_metric(text, r#"accord_x_total{a="b"}"#), Some(3.0));
        let labelled = "accord_tracks{node=\"N_a\"} 2\n\
                        accord_x_total{node=\"N_a\",result=\"ok\"} 5\n";
        assert_eq!(parse_metric(labelled, "accord_tracks"), Some(2.0));
        assert_eq!(
            parse_metric(labelled, r#"accord_x_total{result="ok"}"#),
            Some(5.0)
        );
        assert_eq!(parse_metric(labelled, "accord_x_total"), None);
    }
}
