//! The servers under load: `accord` processes the tool starts itself ([`TestServer`]s on
//! ephemeral ports with their own data directories and secrets; one, or two nodes of a
//! cluster on 127.0.0.2 and 127.0.0.3), or ones already running on loopback.

use crate::scratch_db::ScratchDatabase;
use crate::server::{TestServer, TokenRequest, parse_metric as metric};
use crate::shared_nodes::{SharedNodes, env_refs};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Counters read from `/metrics` at one moment.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ServerCounters {
    /// RTP packets written to subscribers.
    pub forwarded_packets: f64,
    /// Datagrams the reader dropped because a shard's queue was full.
    pub receive_dropped: f64,
    /// Datagrams dropped because the socket's send buffer was full.
    pub send_dropped: f64,
    /// PLIs sent to publishers.
    pub keyframe_requests: f64,
    /// Subscriber streams started on or moved to a layer.
    pub layer_switches: f64,
    /// Participants with a peer connection (a gauge).
    pub participants: f64,
    /// Media rooms with someone in them (a gauge).
    pub rooms: f64,
    /// RTP packets handed to recorders.
    pub recorded_packets: f64,
    /// Datagrams sent in segmented sends (UDP GSO).
    pub segmented: f64,
    /// Batches of received media the server forwarded (its forwarding-delay histogram).
    pub forward_batches: f64,
    /// Of those, the ones whose last copy left within 1, 2 and 3 ms of being read.
    pub forward_batches_within_ms: [f64; 3],
}

impl ServerCounters {
    /// The counters' change from `before` to `self`, with the gauges as they are now.
    pub fn since(&self, before: &ServerCounters) -> ServerCounters {
        ServerCounters {
            forwarded_packets: self.forwarded_packets - before.forwarded_packets,
            receive_dropped: self.receive_dropped - before.receive_dropped,
            send_dropped: self.send_dropped - before.send_dropped,
            keyframe_requests: self.keyframe_requests - before.keyframe_requests,
            layer_switches: self.layer_switches - before.layer_switches,
            participants: self.participants,
            rooms: self.rooms,
            recorded_packets: self.recorded_packets - before.recorded_packets,
            segmented: self.segmented - before.segmented,
            forward_batches: self.forward_batches - before.forward_batches,
            forward_batches_within_ms: std::array::from_fn(|i| {
                self.forward_batches_within_ms[i] - before.forward_batches_within_ms[i]
            }),
        }
    }

    /// Counters and gauges of several nodes added up.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a ServerCounters>) -> ServerCounters {
        all.into_iter()
            .fold(ServerCounters::default(), |t, c| ServerCounters {
                forwarded_packets: t.forwarded_packets + c.forwarded_packets,
                receive_dropped: t.receive_dropped + c.receive_dropped,
                send_dropped: t.send_dropped + c.send_dropped,
                keyframe_requests: t.keyframe_requests + c.keyframe_requests,
                layer_switches: t.layer_switches + c.layer_switches,
                participants: t.participants + c.participants,
                rooms: t.rooms + c.rooms,
                recorded_packets: t.recorded_packets + c.recorded_packets,
                segmented: t.segmented + c.segmented,
                forward_batches: t.forward_batches + c.forward_batches,
                forward_batches_within_ms: std::array::from_fn(|i| {
                    t.forward_batches_within_ms[i] + c.forward_batches_within_ms[i]
                }),
            })
    }
}

/// One `accord` process under load.
struct Node {
    http_url: String,
    pid: Option<u32>,
    own: Option<TestServer>,
}

/// Where the load goes: one node or several of one cluster.
pub struct Target {
    nodes: Vec<Node>,
    api_key: String,
    http: reqwest::Client,
    /// The database nodes the tool started share, dropped at the end.
    database: Option<ScratchDatabase>,
    /// Their shared keys and blobs, removed at the end.
    shared_dir: Option<PathBuf>,
}

/// The loopback addresses two nodes listen on (HTTP and media): two hosts, as far as the
/// clients' ICE and the nodes' registry can tell.
pub const NODE_ADDRESSES: [&str; 2] = ["127.0.0.2", "127.0.0.3"];

impl Target {
    /// Starts `bin serve` on `127.0.0.1:0` with room for `max_participants` per room.
    pub async fn start(bin: &Path, max_participants: usize) -> Result<Self> {
        let max = max_participants.to_string();
        let server =
            TestServer::start_bin(bin, &[("ACCORD_SIGNALING_MAX_PARTICIPANTS", max.as_str())])
                .await?;
        Ok(Self {
            api_key: server.api_key().to_owned(),
            nodes: vec![Node::own(server)],
            http: http_client()?,
            database: None,
            shared_dir: None,
        })
    }

    /// Starts two nodes of one cluster, on [`NODE_ADDRESSES`]: a fresh PostgreSQL database
    /// ([`ScratchDatabase`]), Redis at `redis_url` under a fresh key prefix, one keys and blob
    /// folder, one token secret and API key. The second starts once the first has migrated
    /// the database.
    pub async fn start_pair(bin: &Path, max_participants: usize, redis_url: &str) -> Result<Self> {
        let database = ScratchDatabase::create("accord_load")
            .await
            .context("a scratch PostgreSQL database for the nodes")?;
        let shared = crate::fresh_temp_dir("accord-load-shared")?;
        let mut target = Self {
            nodes: Vec::new(),
            api_key: String::new(),
            http: http_client()?,
            database: Some(database),
            shared_dir: Some(shared.clone()),
        };
        match target
            .start_nodes(bin, max_participants, redis_url, &shared)
            .await
        {
            Ok(()) => Ok(target),
            Err(err) => {
                if let Err(cleanup) = target.stop().await {
                    tracing::warn!("cleaning up after a failed start: {cleanup:#}");
                }
                Err(err)
            }
        }
    }

    async fn start_nodes(
        &mut self,
        bin: &Path,
        max_participants: usize,
        redis_url: &str,
        shared: &Path,
    ) -> Result<()> {
        let database_url = self
            .database
            .as_ref()
            .map(|d| d.url.clone())
            .context("the scratch database")?;
        let nodes = SharedNodes::new(&database_url, shared, "load").with_redis_url(redis_url);
        let max = max_participants.to_string();
        let mut secrets: Option<(String, String)> = None;
        for (n, address) in NODE_ADDRESSES.iter().enumerate() {
            let listen = format!("{address}:0");
            let mut env = nodes.node_env(&format!("N_load{}", n + 1));
            env.extend([
                ("ACCORD_SIGNALING_MAX_PARTICIPANTS", max.clone()),
                ("ACCORD_HTTP_LISTEN", listen.clone()),
                ("ACCORD_MEDIA_LISTEN", listen),
            ]);
            if let Some((api_key, token_secret)) = &secrets {
                env.push(("ACCORD_AUTH_API_KEY", api_key.clone()));
                env.push(("ACCORD_AUTH_TOKEN_SECRET", token_secret.clone()));
            }
            let env = env_refs(&env);
            let server = TestServer::start_bin(bin, &env)
                .await
                .with_context(|| format!("starting the node on {address}"))?;
            if secrets.is_none() {
                self.api_key = server.api_key().to_owned();
                secrets = Some((
                    server.api_key().to_owned(),
                    server.token_secret().to_owned(),
                ));
            }
            self.nodes.push(Node::own(server));
        }
        Ok(())
    }

    /// Servers already running at `urls` (loopback only; several are nodes of one
    /// cluster), optionally with their pids for CPU and memory figures.
    pub fn external(urls: &[String], api_key: &str, pids: &[u32]) -> Result<Self> {
        let mut nodes = Vec::new();
        for (n, url) in urls.iter().enumerate() {
            let parsed = reqwest::Url::parse(url).with_context(|| format!("bad --url {url}"))?;
            let host = parsed.host_str().unwrap_or_default();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback || parsed.scheme() != "http" {
                bail!(
                    "--url must be http:// on a loopback address (127.0.0.0/8, [::1], localhost)"
                );
            }
            nodes.push(Node {
                http_url: url.trim_end_matches('/').to_owned(),
                pid: pids.get(n).copied(),
                own: None,
            });
        }
        if nodes.is_empty() {
            bail!("no --url given");
        }
        Ok(Self {
            nodes,
            api_key: api_key.to_owned(),
            http: http_client()?,
            database: None,
            shared_dir: None,
        })
    }

    /// How many nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// `http://…` of the first node.
    pub fn http_url(&self) -> &str {
        &self.nodes[0].http_url
    }

    /// `http://…` of node `n`.
    pub fn http_url_of(&self, n: usize) -> &str {
        &self.nodes[n % self.nodes.len()].http_url
    }

    /// `ws://…/ws` of the first node.
    pub fn ws_url(&self) -> String {
        self.ws_url_of(0)
    }

    /// `ws://…/ws` of node `n`.
    pub fn ws_url_of(&self, n: usize) -> String {
        let http = self.http_url_of(n);
        format!("ws{}/ws", http.strip_prefix("http").unwrap_or(http))
    }

    /// Each node's pid, when known.
    pub fn pids(&self) -> Vec<Option<u32>> {
        self.nodes.iter().map(|n| n.pid).collect()
    }

    /// Whether the tool started the servers.
    pub fn is_own(&self) -> bool {
        self.nodes.iter().all(|n| n.own.is_some())
    }

    /// Fails if a server we started has exited (crashed).
    pub fn check_alive(&mut self) -> Result<()> {
        for node in &mut self.nodes {
            if let Some(server) = &mut node.own
                && !server.is_running()
            {
                bail!(
                    "the server at {} exited during the run; log {}:\n{}",
                    node.http_url,
                    server.log_path().display(),
                    server.log_tail(30)
                );
            }
        }
        Ok(())
    }

    /// Mints a join token through `POST /api/v1/tokens`.
    pub async fn mint(&self, request: &TokenRequest) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Answer {
            token: String,
        }
        let url = format!("{}/api/v1/tokens", self.http_url());
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.api_key)
            .json(request)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let body = response.text().await.context("reading the token answer")?;
        if !status.is_success() {
            bail!("POST {url} answered {status}: {body}");
        }
        let answer: Answer =
            serde_json::from_str(&body).with_context(|| format!("token answer {body}"))?;
        Ok(answer.token)
    }

    /// Reads the counters the report needs from each node's `/metrics`, in node order.
    pub async fn node_counters(&self) -> Result<Vec<ServerCounters>> {
        let mut all = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            all.push(self.counters_of(&node.http_url).await?);
        }
        Ok(all)
    }

    async fn counters_of(&self, http_url: &str) -> Result<ServerCounters> {
        let url = format!("{http_url}/metrics");
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let text = response.text().await.context("reading /metrics")?;
        if !status.is_success() {
            bail!("GET {url} answered {status}");
        }
        let get = |name: &str| metric(&text, &format!("accord_{name}_total")).unwrap_or(0.0);
        let forwarded = metric(&text, "accord_forwarded_packets_total")
            .or_else(|| metric(&text, "accord_forwarded_packets"))
            .context("/metrics has no accord_forwarded_packets")?;
        Ok(ServerCounters {
            forwarded_packets: forwarded,
            receive_dropped: get("receive_dropped_datagrams"),
            send_dropped: get("send_dropped_datagrams"),
            keyframe_requests: get("keyframe_requests"),
            layer_switches: get("layer_switches"),
            participants: metric(&text, "accord_participants").unwrap_or(0.0),
            rooms: metric(&text, "accord_rooms").unwrap_or(0.0),
            recorded_packets: get("recorded_packets"),
            segmented: get("segmented_datagrams"),
            forward_batches: metric(&text, "accord_forward_delay_seconds_count").unwrap_or(0.0),
            forward_batches_within_ms: ["0.001", "0.002", "0.003"].map(|le| {
                metric(
                    &text,
                    &format!("accord_forward_delay_seconds_bucket{{le=\"{le}\"}}"),
                )
                .unwrap_or(0.0)
            }),
        })
    }

    /// Stops the servers we started (removing their directories, the database and the shared
    /// folder); leaves external ones alone.
    pub async fn stop(self) -> Result<()> {
        let mut first_error = None;
        for node in self.nodes {
            if let Some(server) = node.own
                && let Err(err) = server.stop().await
            {
                first_error.get_or_insert(err);
            }
        }
        if let Some(database) = self.database
            && let Err(err) = database.drop().await
        {
            first_error.get_or_insert(err.context("dropping the scratch database"));
        }
        if let Some(dir) = self.shared_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl Node {
    fn own(server: TestServer) -> Self {
        Self {
            http_url: server.http_url(),
            pid: server.pid(),
            own: Some(server),
        }
    }
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls() {
        let one = |url: &str| Target::external(&[url.to_owned()], "k", &[]);
        assert!(one("http://127.0.0.1:8080").is_ok());
        assert!(one("http://localhost:8080/").is_ok());
        assert!(one("http://10.0.0.1:8080").is_err());
        assert!(one("https://127.0.0.1:8080").is_err());
        let t = one("http://127.0.0.1:8080/").expect("loopback");
        assert_eq!(t.ws_url(), "ws://127.0.0.1:8080/ws");
        let urls = [
            "http://127.0.0.2:8080".to_owned(),
            "http://127.0.0.3:8080".to_owned(),
        ];
        let pair = Target::external(&urls, "k", &[11, 12]).expect("two nodes");
        assert_eq!(pair.node_count(), 2);
        assert_eq!(pair.ws_url_of(1), "ws://127.0.0.3:8080/ws");
        assert_eq!(pair.ws_url_of(2), "ws://127.0.0.2:8080/ws");
        assert_eq!(pair.pids(), [Some(11), Some(12)]);
    }
}
