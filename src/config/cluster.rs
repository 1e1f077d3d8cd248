//! `[cluster]` (several nodes behind one address: their shared Redis, this node's identity
//! and limits) and `[keys]` (the folder of secrets every node must share).
//!
//! Without `redis_url` the node is alone and nothing here changes how it runs. With one,
//! the nodes share PostgreSQL, the blob store (S3), Redis and the keys folder.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use accord_signaling::cluster::{ClusterConfig, valid_node_id};

use super::load::parse_env;
use super::{Config, ConfigError, invalid};

/// `[cluster]`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    /// This node's id; empty: a random `N_…` kept in `<data_dir>/node_id`, so a restarted
    /// node is the same node and takes back its own work.
    pub node_id: String,
    /// `redis://[user:password@]host:port[/db]`; empty: a single node.
    pub redis_url: String,
    /// Where the other nodes reach this one (`http://10.0.0.5:8080`); empty: the HTTP
    /// listen address (0.0.0.0 as 127.0.0.1, which only suits nodes on one machine).
    pub internal_url: String,
    /// Rooms this node takes at most; 0: no limit.
    pub max_rooms: u32,
    /// Seconds a node counts as alive after its last heartbeat (sent every third of it).
    pub lease_seconds: u64,
    /// Seconds a stopping node waits for its sessions to end before it moves them.
    pub drain_deadline_seconds: u64,
    /// Every Redis key and channel begins with this, so deployments can share a Redis.
    pub prefix: String,
}

impl Default for ClusterSection {
    fn default() -> Self {
        Self {
            node_id: String::new(),
            redis_url: String::new(),
            internal_url: String::new(),
            max_rooms: 0,
            lease_seconds: 10,
            // Four hours: a mediation session rarely runs longer; orchestrators' grace
            // periods are set to match (deploy/).
            drain_deadline_seconds: 4 * 3600,
            prefix: "accord".into(),
        }
    }
}

/// `[keys]`
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSection {
    /// The folder of the PII and audit keys, the token secret and the platform signing
    /// keys (each created there on first use); empty: `data_dir`. Nodes of one deployment
    /// mount the same folder, or what one writes another cannot read or check.
    pub dir: PathBuf,
}

impl Config {
    /// Applies an `ACCORD_CLUSTER_*` or `ACCORD_KEYS_DIR` variable; `false` if `key` is
    /// neither.
    pub(super) fn cluster_env(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let section = &mut self.cluster;
        match key {
            "ACCORD_CLUSTER_NODE_ID" => section.node_id = value.trim().to_owned(),
            "ACCORD_CLUSTER_REDIS_URL" => section.redis_url = value.trim().to_owned(),
            "ACCORD_CLUSTER_INTERNAL_URL" => section.internal_url = value.trim().to_owned(),
            "ACCORD_CLUSTER_MAX_ROOMS" => section.max_rooms = parse_env(key, value)?,
            "ACCORD_CLUSTER_LEASE_SECONDS" => section.lease_seconds = parse_env(key, value)?,
            "ACCORD_CLUSTER_DRAIN_DEADLINE_SECONDS" => {
                section.drain_deadline_seconds = parse_env(key, value)?;
            }
            "ACCORD_CLUSTER_PREFIX" => section.prefix = value.trim().to_owned(),
            "ACCORD_KEYS_DIR" => self.keys.dir = PathBuf::from(value),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `[cluster]`'s ranges and shapes.
    pub(super) fn validate_cluster(&self) -> Result<(), ConfigError> {
        let c = &self.cluster;
        if !c.node_id.is_empty() && !valid_node_id(&c.node_id) {
            return Err(invalid(
                "cluster.node_id",
                "1–64 letters, digits, '_' and '-' (or empty for a generated one)",
            ));
        }
        let url = c.redis_url.as_str();
        if url.starts_with("rediss://") {
            return Err(invalid(
                "cluster.redis_url",
                "TLS to Redis (rediss://) is not built in; reach Redis over a private network \
                 or a TLS tunnel with redis://",
            ));
        }
        if !url.is_empty() && !url.starts_with("redis://") {
            return Err(invalid("cluster.redis_url", "redis://… (or empty)"));
        }
        let internal = c.internal_url.as_str();
        let web = internal.starts_with("http://") || internal.starts_with("https://");
        if !internal.is_empty() && !web {
            return Err(invalid(
                "cluster.internal_url",
                "http://… or https://… (or empty)",
            ));
        }
        // Under 3 s a heartbeat every third of the lease meets ordinary network jitter, and
        // live nodes would be declared dead.
        if !(3..=300).contains(&c.lease_seconds) {
            return Err(invalid("cluster.lease_seconds", "3–300"));
        }
        if !(1..=7 * 24 * 3600).contains(&c.drain_deadline_seconds) {
            return Err(invalid("cluster.drain_deadline_seconds", "1–604800"));
        }
        let plain = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !plain(&c.prefix) {
            return Err(invalid(
                "cluster.prefix",
                "1–64 letters, digits, '-', '_' and '.'",
            ));
        }
        Ok(())
    }

    /// The folder of shared secrets (`[keys] dir`, else `data_dir`).
    pub fn keys_dir(&self) -> PathBuf {
        if self.keys.dir.as_os_str().is_empty() {
            self.data_dir.clone()
        } else {
            self.keys.dir.clone()
        }
    }

    /// How long a draining node waits for its sessions before moving them.
    pub fn drain_deadline(&self) -> Duration {
        Duration::from_secs(self.cluster.drain_deadline_seconds)
    }

    /// The cluster's settings for node `node_id`, listening for HTTP at `http` and for
    /// media at `media` (both as bound).
    pub fn cluster(&self, node_id: String, http: SocketAddr, media: SocketAddr) -> ClusterConfig {
        let c = &self.cluster;
        let loopback_if_any = |addr: SocketAddr| {
            if addr.ip().is_unspecified() {
                SocketAddr::from(([127, 0, 0, 1], addr.port()))
            } else {
                addr
            }
        };
        let internal_url = if c.internal_url.is_empty() {
            format!("http://{}", loopback_if_any(http))
        } else {
            c.internal_url.trim_end_matches('/').to_owned()
        };
        // What clients are told in ICE candidates: the first announced address, else the
        // bound one.
        let media_addr = match self
            .announce_ips()
            .ok()
            .and_then(|ips| ips.first().copied())
        {
            Some(ip) => SocketAddr::new(ip, media.port()).to_string(),
            None => loopback_if_any(media).to_string(),
        };
        ClusterConfig {
            node_id,
            redis_url: (!c.redis_url.is_empty()).then(|| c.redis_url.clone()),
            internal_url,
            media_addr,
            max_rooms: c.max_rooms,
            lease: Duration::from_secs(c.lease_seconds),
            prefix: c.prefix.clone(),
        }
    }
}
