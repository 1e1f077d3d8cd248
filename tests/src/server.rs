//! [`TestServer`]: the real `accord` binary as child processes, on ephemeral ports, with
//! fresh folders and random secrets, in the deployment `ACCORD_TEST_DEPLOYMENT` names
//! ([`Deployment`]): one node on SQLite (the default), one node on a PostgreSQL database of
//! its own, or two nodes sharing PostgreSQL and Redis.

mod deployment;
mod front;
mod node;

pub use deployment::{DEPLOYMENT_VAR, Deployment, ONE_PROCESS, redis_url};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::scratch_db::ScratchDatabase;
use node::Node;

/// A running deployment of `accord serve`: one process, or two that share a database and
/// Redis.
///
/// With two nodes, [`TestServer::http_url`] and [`TestServer::ws_url`] are one address in
/// front of both, as a load balancer is, and the nodes' public URL: each connection to it
/// goes to the next node in turn (WebSocket upgrades in a turn of their own), so a session's
/// participants land on both nodes, and the one that does not own the session's room relays
/// them to the one that does. Everything else answers for the deployment as a whole:
/// [`TestServer::metric`] sums the nodes, [`TestServer::log_path`] is one log with each line tagged by its node,
/// [`TestServer::data_dir`] is the folder of keys and blobs the nodes share, stop, kill and
/// SIGTERM reach every node. [`TestServer::media_addr`] and [`TestServer::pid`] are the
/// first node's, which only tests about one process ([`ONE_PROCESS`]) use.
///
/// End a passing test with [`TestServer::stop`]. A server dropped without `stop` (a test that
/// failed with `?` or panicked) is killed too, but keeps its directory and prints where its
/// log is, with the last lines.
///
/// Environment: `ACCORD_BIN` (the binary), `ACCORD_TEST_DEPLOYMENT` (`sqlite`, `postgres`,
/// `cluster`), `ACCORD_TEST_POSTGRES_URL`, `ACCORD_TEST_REDIS_URL`, `ACCORD_TEST_KEEP=1` (keep
/// the directory and database even after a pass), `ACCORD_TEST_LOG` (the servers'
/// `RUST_LOG`, default `info`).
#[derive(Debug)]
pub struct TestServer {
    stopped: bool,
    deployment: Deployment,
    nodes: Vec<Node>,
    database: Option<ScratchDatabase>,
    database_url: String,
    front: Option<front::Front>,
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
    /// Starts the deployment and waits (up to 20 s a node) for each `ACCORD_READY` line.
    ///
    /// The binary is `$ACCORD_BIN`, else `<target>/debug/accord`; build it first with
    /// `cargo build --bins`.
    pub async fn start() -> Result<Self> {
        Self::start_with_env(&[]).await
    }

    /// Like [`TestServer::start`], with extra environment variables (e.g. room limits) for
    /// every node. [`ONE_PROCESS`] among them, or a storage or cluster of the test's own
    /// (`ACCORD_DATA_DIR`, `ACCORD_DATABASE_URL`, `ACCORD_CLUSTER_REDIS_URL`), makes it one
    /// process whatever the deployment.
    pub async fn start_with_env(extra_env: &[(&str, &str)]) -> Result<Self> {
        Self::start_full(&accord_binary()?, extra_env, &[]).await
    }

    /// One process running `bin`, whatever the deployment (the load tool picks a release
    /// build and drives nodes of its own).
    pub async fn start_bin(bin: &Path, extra_env: &[(&str, &str)]) -> Result<Self> {
        let mut env = extra_env.to_vec();
        env.push(ONE_PROCESS);
        Self::start_full(bin, &env, &[]).await
    }

    /// Like [`TestServer::start_with_env`], with extra arguments after `serve` (`--demo`).
    /// An `ACCORD_DATA_DIR` in `extra_env` replaces the fresh data directory, so a test can
    /// start a second server on the first one's data.
    pub async fn start_with_args(extra_env: &[(&str, &str)], args: &[&str]) -> Result<Self> {
        Self::start_full(&accord_binary()?, extra_env, args).await
    }

    async fn start_full(bin: &Path, extra_env: &[(&str, &str)], args: &[&str]) -> Result<Self> {
        crate::init_logging();
        let deployment = Deployment::for_test(extra_env)?;
        let dir = crate::fresh_temp_dir("accord-test-server")?;
        let lookup = |name: &str| {
            extra_env
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        };
        let layout = deployment::lay_out(
            deployment,
            &dir,
            lookup("ACCORD_DATA_DIR"),
            lookup("ACCORD_DATABASE_URL"),
        )
        .await?;
        let api_key = format!("test-api-key-{:032x}", rand::random::<u128>());
        let token_secret = format!(
            "{:032x}{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        );
        let log_path = dir.join("server.log");
        let log = node::create_log(&log_path).await?;
        let http_client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        let mut server = Self {
            stopped: false,
            deployment,
            nodes: Vec::new(),
            database: layout.database,
            database_url: layout.database_url,
            front: None,
            api_key,
            token_secret,
            dir,
            data_dir: layout.data_dir,
            log_path,
            http_client,
        };
        let several = layout.nodes.len() > 1;
        let front = match several {
            true => Some(front::Bound::new().await?),
            false => None,
        };
        for node_env in layout.nodes {
            let mut env = node_env;
            if let Some(front) = &front {
                env.push((
                    "ACCORD_HTTP_PUBLIC_URL".into(),
                    format!("http://{}", front.addr()),
                ));
            }
            env.extend([
                ("ACCORD_HTTP_LISTEN".into(), "127.0.0.1:0".into()),
                ("ACCORD_MEDIA_LISTEN".into(), "127.0.0.1:0".into()),
                ("ACCORD_AUTH_API_KEY".into(), server.api_key.clone()),
                (
                    "ACCORD_AUTH_TOKEN_SECRET".into(),
                    server.token_secret.clone(),
                ),
            ]);
            let tag = match env.iter().find(|(key, _)| key == "ACCORD_CLUSTER_NODE_ID") {
                Some((_, id)) if several => format!("{id} "),
                _ => String::new(),
            };
            env.extend(
                extra_env
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            // Started one after another: the first migrates the shared database, so the
            // second never races it.
            let node = Node::start(bin, &env, args, log.clone(), &server.log_path, &tag).await?;
            server.nodes.push(node);
        }
        let nodes = server.nodes.iter().map(Node::http).collect();
        server.front = front.map(|front| front.serve(nodes));
        Ok(server)
    }

    /// Where it runs.
    pub fn deployment(&self) -> Deployment {
        self.deployment
    }

    /// The URL of the store the nodes use (`sqlite://…/accord.db` or `postgres://…`), for
    /// tests that open it to seed or inspect it; its keys are in [`TestServer::data_dir`].
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The data directory (database on SQLite, keys, blobs); with two nodes, the keys and
    /// blobs folder they share.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone()
    }

    /// Where clients connect: the front of a cluster, else the one node.
    fn entry(&self) -> SocketAddr {
        match &self.front {
            Some(front) => front.addr(),
            None => self.first().http(),
        }
    }

    fn first(&self) -> &Node {
        &self.nodes[0]
    }

    /// The HTTP address clients connect to.
    pub fn http_addr(&self) -> SocketAddr {
        self.entry()
    }

    /// The media (UDP) listen address of the first node.
    pub fn media_addr(&self) -> SocketAddr {
        self.first().media()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.entry())
    }

    /// `ws://127.0.0.1:PORT/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.entry())
    }

    /// `http://127.0.0.1:PORT` of every node, in order.
    pub fn node_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("http://{}", n.http()))
            .collect()
    }

    /// The API key the nodes were started with.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The secret the nodes sign join tokens with, for tests that forge their own tokens
    /// (expired ones, say), which `POST /api/v1/tokens` rightly refuses to mint.
    pub fn token_secret(&self) -> &str {
        &self.token_secret
    }

    /// The file the nodes' stdout and stderr go to.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        crate::tail_of_file(&self.log_path, lines)
    }

    /// The first node's process id.
    pub fn pid(&self) -> Option<u32> {
        self.first().pid()
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

    /// The Prometheus text from `GET /metrics` of every node, one after the other.
    pub async fn metrics_text(&self) -> Result<String> {
        let mut all = String::new();
        for node in &self.nodes {
            all.push_str(&self.node_metrics(node).await?);
        }
        Ok(all)
    }

    async fn node_metrics(&self, node: &Node) -> Result<String> {
        let url = format!("http://{}/metrics", node.http());
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

    /// The value of one sample from `/metrics` (e.g. `accord_participants` or, for a counter,
    /// `accord_forwarded_packets_total`; labels other than `node` as exposed, see
    /// [`parse_metric`]), summed over the nodes; `None` if no node exports it.
    pub async fn metric(&self, name: &str) -> Result<Option<f64>> {
        let mut sum = None;
        for node in &self.nodes {
            let text = self.node_metrics(node).await?;
            if let Some(value) = parse_metric(&text, name) {
                sum = Some(sum.unwrap_or(0.0) + value);
            }
        }
        Ok(sum)
    }

    /// The exit status of a node that ended on its own, if any.
    fn crashed(&mut self) -> Option<std::process::ExitStatus> {
        self.nodes.iter_mut().find_map(Node::exited)
    }

    /// Stops the nodes at the end of a passing test, drops the database the harness made and
    /// removes the directory. Fails if a node exited on its own during the test (a crash),
    /// keeping the log.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(status) = self.crashed() {
            bail!(
                "accord serve exited during the test ({status}); log {}:\n{}",
                self.log_path.display(),
                self.log_tail(40)
            );
        }
        for node in &mut self.nodes {
            node.stop().await;
        }
        self.stopped = true;
        self.drop_database().await?;
        self.remove_dir();
        Ok(())
    }

    async fn drop_database(&mut self) -> Result<()> {
        match self.database.take() {
            Some(database) if std::env::var_os("ACCORD_TEST_KEEP").is_none() => {
                database.drop().await
            }
            Some(database) => {
                eprintln!("kept the test database {}", database.name());
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Kills every node with SIGKILL (`kill -9`: no shutdown code runs, as in a power cut or
    /// an out-of-memory kill) and waits until they are gone. The directory, data included,
    /// is kept: the point is to start the next server on the same data (`ACCORD_DATA_DIR`
    /// in [`TestServer::start_with_args`], one process on SQLite: such tests are
    /// [`ONE_PROCESS`]); a database the harness made is dropped. Returns the data directory.
    pub async fn kill_hard(mut self) -> Result<PathBuf> {
        for node in &mut self.nodes {
            node.kill_hard().await?;
        }
        self.stopped = true;
        self.drop_database().await?;
        Ok(self.data_dir.clone())
    }

    /// Sends every node SIGTERM (what an orchestrator sends to stop a node): the first one
    /// drains it, the second moves everyone off it. The nodes keep running until they have
    /// drained; see [`TestServer::wait_exit`].
    pub fn terminate(&self) -> Result<()> {
        for node in &self.nodes {
            node.terminate()?;
        }
        Ok(())
    }

    /// Waits up to `within` for every node to exit by itself (after
    /// [`TestServer::terminate`]) and returns the first non-zero exit code, else 0; fails
    /// (keeping the nodes and the log) if one is still running then or was killed by a
    /// signal. The directory is kept (the data and log may still be wanted):
    /// [`TestServer::remove_dir`] removes it.
    pub async fn wait_exit(&mut self, within: Duration) -> Result<i32> {
        let deadline = tokio::time::Instant::now() + within;
        let mut worst = 0;
        for node in &mut self.nodes {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(status) = node.wait_exit(left).await else {
                bail!(
                    "accord serve did not exit within {within:?}; log {}:\n{}",
                    self.log_path.display(),
                    crate::tail_of_file(&self.log_path, 40)
                );
            };
            let status = status?;
            let code = status.code().with_context(|| {
                format!(
                    "accord serve was killed by a signal ({status}); log {}:\n{}",
                    self.log_path.display(),
                    crate::tail_of_file(&self.log_path, 40)
                )
            })?;
            if worst == 0 {
                worst = code;
            }
        }
        self.stopped = true;
        self.drop_database().await?;
        Ok(worst)
    }

    /// Removes the directory (after [`TestServer::wait_exit`]), unless `ACCORD_TEST_KEEP`
    /// is set.
    pub fn remove_dir(&self) {
        if std::env::var_os("ACCORD_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Whether every node is still running.
    pub fn is_running(&mut self) -> bool {
        self.crashed().is_none()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        for node in &mut self.nodes {
            node.start_kill();
        }
        // Dropped without `stop`: the test failed. Keep the directory, the log is the first
        // thing to read; the database goes (unless kept on purpose), or a failing suite would
        // pile them up.
        if let Some(database) = self.database.take() {
            if std::env::var_os("ACCORD_TEST_KEEP").is_none() {
                database.drop_detached();
            } else {
                eprintln!("kept the test database {}", database.name());
            }
        }
        eprintln!(
            "accord server log ({}): {}\n--- last lines ---\n{}",
            self.deployment,
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

#[cfg(test)]
mod tests {
    use super::*;

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
