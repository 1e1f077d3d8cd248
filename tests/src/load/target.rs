//! The server under load: one the tool starts itself (a [`TestServer`] on ephemeral loopback
//! ports with its own data directory and secrets) or one already running on loopback.

use crate::server::{TestServer, TokenRequest};
use anyhow::{Context, Result, bail};
use std::path::Path;
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
    /// Participants with a peer connection.
    pub participants: f64,
    /// RTP packets handed to recorders.
    pub recorded_packets: f64,
}

/// Where the load goes.
pub struct Target {
    http_url: String,
    api_key: String,
    pid: Option<u32>,
    own: Option<TestServer>,
    http: reqwest::Client,
}

impl Target {
    /// Starts `bin serve` on `127.0.0.1:0` with room for `max_participants` per room.
    pub async fn start(bin: &Path, max_participants: usize) -> Result<Self> {
        let max = max_participants.to_string();
        let server =
            TestServer::start_bin(bin, &[("ACCORD_SIGNALING_MAX_PARTICIPANTS", max.as_str())])
                .await?;
        Ok(Self {
            http_url: server.http_url(),
            api_key: server.api_key().to_owned(),
            pid: server.pid(),
            own: Some(server),
            http: http_client()?,
        })
    }

    /// A server already running at `url` (loopback only), optionally with its pid for CPU
    /// and memory figures.
    pub fn external(url: &str, api_key: &str, pid: Option<u32>) -> Result<Self> {
        let parsed = reqwest::Url::parse(url).with_context(|| format!("bad --url {url}"))?;
        let host = parsed.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback || parsed.scheme() != "http" {
            bail!("--url must be http:// on a loopback address (127.0.0.0/8, [::1], localhost)");
        }
        Ok(Self {
            http_url: url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            pid,
            own: None,
            http: http_client()?,
        })
    }

    /// `http://…`.
    pub fn http_url(&self) -> &str {
        &self.http_url
    }

    /// `ws://…/ws`.
    pub fn ws_url(&self) -> String {
        format!(
            "ws{}/ws",
            self.http_url.strip_prefix("http").unwrap_or(&self.http_url)
        )
    }

    /// The server's pid, when known.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Whether the tool started the server.
    pub fn is_own(&self) -> bool {
        self.own.is_some()
    }

    /// Fails if a server we started has exited (crashed).
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(server) = &mut self.own
            && !server.is_running()
        {
            bail!(
                "the server exited during the run; log {}:\n{}",
                server.log_path().display(),
                server.log_tail(30)
            );
        }
        Ok(())
    }

    /// Mints a join token through `POST /api/v1/tokens`.
    pub async fn mint(&self, request: &TokenRequest) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Answer {
            token: String,
        }
        let url = format!("{}/api/v1/tokens", self.http_url);
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

    /// Reads the counters the report needs from `/metrics`.
    pub async fn counters(&self) -> Result<ServerCounters> {
        let url = format!("{}/metrics", self.http_url);
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
            recorded_packets: get("recorded_packets"),
        })
    }

    /// Stops a server we started (and removes its directory); leaves an external one alone.
    pub async fn stop(self) -> Result<()> {
        match self.own {
            Some(server) => server.stop().await,
            None => Ok(()),
        }
    }
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")
}

/// The value of an un-labelled sample `name` in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let mut parts = l.split_whitespace();
        (parts.next() == Some(name))
            .then(|| parts.next().and_then(|v| v.parse().ok()))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls() {
        assert!(Target::external("http://127.0.0.1:8080", "k", None).is_ok());
        assert!(Target::external("http://localhost:8080/", "k", None).is_ok());
        assert!(Target::external("http://10.0.0.1:8080", "k", None).is_err());
        assert!(Target::external("https://127.0.0.1:8080", "k", None).is_err());
        let t = Target::external("http://127.0.0.1:8080/", "k", None).expect("loopback");
        assert_eq!(t.ws_url(), "ws://127.0.0.1:8080/ws");
    }
}
