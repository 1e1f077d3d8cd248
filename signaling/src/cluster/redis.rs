//! The Redis backend: the node registry, placements, events and shared rate limits.
//!
//! Keys, all under `[cluster] prefix` (`p`):
//! - `p:node:<id>`: the node's [`NodeInfo`] as JSON, expiring after the lease. Refreshed
//!   every lease/3 (and at once when draining starts); a node is alive while its key is.
//! - `p:nodes`: the set of registered node ids; ids whose key expired are pruned when the
//!   set is listed, and the set itself expires an hour after the last heartbeat.
//! - `p:place:<key>`: the owner of a placement. Renewed with the owner's heartbeat; it
//!   outlives the owner's lease ([`PLACEMENT_TTL`]) so the next placement can say whom the
//!   room moved from, then expires.
//! - `p:recent:<id>`: the placements node `<id>` was given within the last lease (a sorted
//!   set by time). Its reported load is up to a heartbeat and a load sample old (two thirds
//!   of a lease), so without these a burst of new sessions (a morning's first hearings) all
//!   went to whichever node looked idlest when it last reported: 10 rooms of 4 joining
//!   within 4 s went 10 to 0 (`accord-load --nodes 2`). Each recent placement weighs
//!   [`Load::placement_weight`] on top of the reported load.
//! - `p:events`: the pub/sub channel of [`ClusterEvent`]s, each wrapped with its origin so
//!   a node skips its own.
//! - `p:rl:<limiter>:<hash of key>:<window>`: shared rate-limit counts (see
//!   [`crate::limits`]).
//! - `p:evidence:<session>`: a session's evidence share, files and bytes (see
//!   `cluster/evidence.rs`).
//!
//! Assumes one Redis (or a primary with replicas/Sentinel), not Redis Cluster: the
//! placement script reads node keys it is not handed.
//!
//! Every call has a timeout ([`OP_TIMEOUT`]); the connection manager reconnects by itself.
//! When Redis is unreachable after start, the node logs it once (and once when it is back),
//! keeps what it has and serves new rooms locally ([`super::Cluster::place`]).

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};

use super::{Cluster, ClusterConfig, ClusterError, ClusterEvent, Load, NodeInfo, Placement};

/// How long any one Redis call may take.
pub const OP_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a placement is remembered past its owner's last heartbeat.
pub const PLACEMENT_TTL: Duration = Duration::from_secs(3600);
/// Events waiting to be published; past it new ones are dropped (and logged): events are
/// hints, and a node that cannot publish for long has Redis trouble anyway.
pub const OUTBOX: usize = 1024;
/// How often shared rate-limit counts are pushed and read back.
pub const LIMIT_FLUSH: Duration = Duration::from_millis(200);

/// Claims `KEYS[1]` for the live candidate with the lowest score unless its owner is alive.
/// A candidate's score is its reported load's plus `weight` for each placement it was given
/// within the last `window` ms (kept in `<recent prefix><node>`, a sorted set by time).
/// ARGV: node key prefix, placement TTL (ms), recent prefix, now (ms), window (ms), weight,
/// then each candidate's id and reported score, in order of preference for equal scores.
/// Returns {owner or "", previous owner or ""}.
const PLACE: &str = r#"
local current = redis.call('GET', KEYS[1])
if current and redis.call('EXISTS', ARGV[1] .. current) == 1 then
  return {current, ''}
end
local now = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local weight = tonumber(ARGV[6])
local best, best_score
for i = 7, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then
    local recent = ARGV[3] .. id
    redis.call('ZREMRANGEBYSCORE', recent, '-inf', now - window)
    local score = tonumber(ARGV[i + 1]) + weight * redis.call('ZCARD', recent)
    if best == nil or score < best_score then
      best, best_score = id, score
    end
  end
end
if best == nil then
  return {'', current or ''}
end
redis.call('SET', KEYS[1], best, 'PX', ARGV[2])
local recent = ARGV[3] .. best
redis.call('ZADD', recent, now, KEYS[1])
redis.call('PEXPIRE', recent, window)
return {best, current or ''}
"#;

/// Extends each of KEYS still owned by ARGV[1] by ARGV[2] ms; returns the ones lost.
const RENEW: &str = r#"
local lost = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  else
    table.insert(lost, KEYS[i])
  end
end
return lost
"#;

/// Deletes KEYS[1] if ARGV[1] still owns it.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// What goes over the channel: the event and the node it came from.
#[derive(Serialize, Deserialize)]
struct Envelope {
    origin: String,
    event: ClusterEvent,
}

/// A connection to the cluster's Redis.
pub(crate) struct Redis {
    client: ::redis::Client,
    pub(super) conn: ConnectionManager,
    pub(super) prefix: String,
    outbox: mpsc::Sender<String>,
    outbox_rx: Mutex<Option<mpsc::Receiver<String>>>,
    beat: std::sync::Arc<Notify>,
    /// Held while a heartbeat writes, so [`Redis::leave`] deletes after the last one.
    beat_lock: tokio::sync::Mutex<()>,
    down: AtomicBool,
    /// Placements this node holds, renewed with each heartbeat.
    placed: Mutex<HashSet<String>>,
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

pub(super) async fn timed<T>(
    f: impl std::future::Future<Output = ::redis::RedisResult<T>>,
) -> Result<T, ClusterError> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ClusterError::Redis(e.to_string())),
        Err(_) => Err(ClusterError::Timeout(OP_TIMEOUT)),
    }
}

impl Redis {
    /// Connects and checks that Redis answers.
    pub(super) async fn connect(url: &str, _config: &ClusterConfig) -> Result<Self, ClusterError> {
        let unreachable = |e: ClusterError| {
            let why = match e {
                ClusterError::Redis(why) => why,
                other => other.to_string(),
            };
            ClusterError::Redis(format!("cannot reach {}: {why}", redacted(url)))
        };
        let client = ::redis::Client::open(url).map_err(|e| {
            ClusterError::Redis(format!("{} is not a Redis URL: {e}", redacted(url)))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let mut conn = timed(ConnectionManager::new_with_config(client.clone(), config))
            .await
            .map_err(unreachable)?;
        let _: String = timed(::redis::cmd("PING").query_async(&mut conn))
            .await
            .map_err(unreachable)?;
        let (outbox, outbox_rx) = mpsc::channel(OUTBOX);
        Ok(Self {
            client,
            conn,
            prefix: _config.prefix.clone(),
            outbox,
            outbox_rx: Mutex::new(Some(outbox_rx)),
            beat: std::sync::Arc::new(Notify::new()),
            beat_lock: tokio::sync::Mutex::new(()),
            down: AtomicBool::new(false),
            placed: Mutex::new(HashSet::new()),
        })
    }

    fn node_key(&self, id: &str) -> String {
        format!("{}:node:{id}", self.prefix)
    }
    fn nodes_key(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
    fn place_key(&self, key: &str) -> String {
        format!("{}:place:{key}", self.prefix)
    }
    fn recent_key(&self, id: &str) -> String {
        format!("{}:recent:{id}", self.prefix)
    }
    fn channel(&self) -> String {
        format!("{}:events", self.prefix)
    }
    /// The shared count of one limiter's key in one window.
    fn limit_key(&self, limiter: &str, key_hash: &str, window: u64) -> String {
        format!("{}:rl:{limiter}:{key_hash}:{window}", self.prefix)
    }

    /// Writes this node's entry (and its id into the set of nodes).
    pub(super) async fn register(&self, cluster: &Cluster) -> Result<(), ClusterError> {
        let info = serde_json::to_string(&cluster.this_node())
            .map_err(|e| ClusterError::Redis(e.to_string()))?;
        let lease = u64::try_from(cluster.config().lease.as_millis()).unwrap_or(u64::MAX);
        let mut conn = self.conn.clone();
        timed(
            ::redis::pipe()
                .cmd("SET")
                .arg(self.node_key(cluster.node_id()))
                .arg(info)
                .arg("PX")
                .arg(lease)
                .ignore()
                .sadd(self.nodes_key(), cluster.node_id())
                .ignore()
                // Gone with the last node, like everything else of a deployment.
                .pexpire(
                    self.nodes_key(),
                    i64::try_from(PLACEMENT_TTL.as_millis()).unwrap_or(i64::MAX),
                )
                .ignore()
                .query_async::<()>(&mut conn),
        )
        .await
    }

    /// One heartbeat: the node's entry, then the renewal of its placements.
    async fn heartbeat(&self, cluster: &Cluster) -> Result<(), ClusterError> {
        self.register(cluster).await?;
        let keys: Vec<String> = self
            .placed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let script = Script::new(RENEW);
        let mut invocation = script.prepare_invoke();
        for key in &keys {
            invocation.key(self.place_key(key));
        }
        invocation
            .arg(cluster.node_id())
            .arg(u64::try_from(PLACEMENT_TTL.as_millis()).unwrap_or(u64::MAX));
        let mut conn = self.conn.clone();
        let lost: Vec<String> = timed(invocation.invoke_async(&mut conn)).await?;
        if !lost.is_empty() {
            // Another node took them while this one was out of touch: the rooms there are
            // the real ones now.
            tracing::warn!(
                placements = lost.len(),
                "placements of this node were taken over by other nodes"
            );
            let mut placed = self.placed.lock().unwrap_or_else(|e| e.into_inner());
            let prefix = self.place_key("");
            for key in lost {
                if let Some(key) = key.strip_prefix(&prefix) {
                    placed.remove(key);
                }
            }
        }
        Ok(())
    }

    pub(super) async fn live_nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        let mut conn = self.conn.clone();
        let mut ids: Vec<String> = timed(conn.smembers(self.nodes_key())).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        ids.sort();
        let keys: Vec<String> = ids.iter().map(|id| self.node_key(id)).collect();
        let entries: Vec<Option<String>> =
            timed(::redis::cmd("MGET").arg(&keys).query_async(&mut conn)).await?;
        let mut nodes = Vec::new();
        let mut gone = Vec::new();
        for (id, entry) in ids.into_iter().zip(entries) {
            match entry.and_then(|json| serde_json::from_str::<NodeInfo>(&json).ok()) {
                Some(node) => nodes.push(node),
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            // A node that comes back registers itself again.
            let _: Result<(), _> = timed(conn.srem(self.nodes_key(), gone)).await;
        }
        Ok(nodes)
    }

    pub(super) async fn is_live(&self, id: &str) -> Result<bool, ClusterError> {
        let mut conn = self.conn.clone();
        timed(conn.exists(self.node_key(id))).await
    }

    pub(super) async fn place(
        &self,
        cluster: &Cluster,
        key: &str,
    ) -> Result<Placement, ClusterError> {
        let nodes = self.live_nodes().await?;
        let mut candidates: Vec<&NodeInfo> = nodes
            .iter()
            .filter(|n| {
                // This node's own view of itself is fresher than its last heartbeat.
                if n.id == cluster.node_id() {
                    !cluster.draining() && n.accepts_rooms()
                } else {
                    n.accepts_rooms()
                }
            })
            .collect();
        candidates.sort_by(|a, b| {
            a.load
                .score()
                .total_cmp(&b.load.score())
                .then_with(|| a.id.cmp(&b.id))
        });
        let script = Script::new(PLACE);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.place_key(key))
            .arg(self.node_key(""))
            .arg(u64::try_from(PLACEMENT_TTL.as_millis()).unwrap_or(u64::MAX))
            .arg(self.recent_key(""))
            .arg(accord_cases::store::now_ms())
            .arg(u64::try_from(cluster.config().lease.as_millis()).unwrap_or(u64::MAX))
            .arg(Load::placement_weight());
        for node in &candidates {
            let score = node.load.score();
            // A load no one can read (a NaN from a broken sample) counts as very busy.
            let score = if score.is_finite() { score } else { 1e12 };
            invocation.arg(&node.id).arg(score);
        }
        let mut conn = self.conn.clone();
        let (owner, previous): (String, String) = timed(invocation.invoke_async(&mut conn)).await?;
        if owner.is_empty() {
            return Err(ClusterError::NoNodeAvailable);
        }
        let moved_from = (!previous.is_empty() && previous != owner).then_some(previous);
        if let Some(from) = &moved_from {
            tracing::info!(from = %from, to = %owner, "a room's node is gone: placed again");
        }
        if owner == cluster.node_id() {
            self.placed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.to_owned());
            return Ok(cluster.here(moved_from));
        }
        let internal_url = match nodes.iter().find(|n| n.id == owner) {
            Some(node) => node.internal_url.clone(),
            None => self
                .node(&owner)
                .await?
                .map(|n| n.internal_url)
                .unwrap_or_default(),
        };
        Ok(Placement {
            owner,
            internal_url,
            local: false,
            moved_from,
        })
    }

    async fn node(&self, id: &str) -> Result<Option<NodeInfo>, ClusterError> {
        let mut conn = self.conn.clone();
        let json: Option<String> = timed(conn.get(self.node_key(id))).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    pub(super) async fn owner_of(
        &self,
        cluster: &Cluster,
        key: &str,
    ) -> Result<Option<Placement>, ClusterError> {
        let mut conn = self.conn.clone();
        let owner: Option<String> = timed(conn.get(self.place_key(key))).await?;
        let Some(owner) = owner else { return Ok(None) };
        if owner == cluster.node_id() {
            return Ok(Some(cluster.here(None)));
        }
        let internal_url = self
            .node(&owner)
            .await?
            .map(|n| n.internal_url)
            .unwrap_or_default();
        Ok(Some(Placement {
            owner,
            internal_url,
            local: false,
            moved_from: None,
        }))
    }

    pub(super) async fn release(&self, cluster: &Cluster, key: &str) -> Result<(), ClusterError> {
        self.placed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        let mut conn = self.conn.clone();
        let _: i64 = timed(
            Script::new(RELEASE)
                .key(self.place_key(key))
                .arg(cluster.node_id())
                .invoke_async(&mut conn),
        )
        .await?;
        Ok(())
    }

    pub(super) fn publish(&self, node: &str, event: ClusterEvent) {
        let envelope = Envelope {
            origin: node.to_owned(),
            event,
        };
        let Ok(json) = serde_json::to_string(&envelope) else {
            return;
        };
        if self.outbox.try_send(json).is_err() {
            tracing::warn!("cluster events are not getting out: one was dropped");
        }
    }

    /// Deregisters: the node's entry and its placements go at once.
    pub(super) async fn leave(&self, cluster: &Cluster) -> Result<(), ClusterError> {
        // The heartbeat is told to stop before this; one already writing finishes first.
        let _no_more_beats = self.beat_lock.lock().await;
        let keys: Vec<String> = self
            .placed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for key in keys {
            let mut conn = self.conn.clone();
            let _: i64 = timed(
                Script::new(RELEASE)
                    .key(self.place_key(&key))
                    .arg(cluster.node_id())
                    .invoke_async(&mut conn),
            )
            .await?;
        }
        let mut conn = self.conn.clone();
        timed(
            ::redis::pipe()
                .del(self.node_key(cluster.node_id()))
                .ignore()
                .srem(self.nodes_key(), cluster.node_id())
                .ignore()
                .query_async::<()>(&mut conn),
        )
        .await
    }

    /// Logs that Redis cannot be reached, once until it can again.
    pub(crate) fn unreachable(&self, e: &ClusterError) {
        if !self.down.swap(true, Ordering::SeqCst) {
            tracing::error!(error = %e,
                "Redis is unreachable: this node keeps its rooms and serves new ones itself \
                 until it is back");
        }
    }

    pub(crate) fn reachable(&self) {
        if self.down.swap(false, Ordering::SeqCst) {
            tracing::info!("Redis is reachable again");
        }
    }

    pub(super) fn wake_heartbeat(&self) {
        self.beat.notify_one();
    }

    /// Pushes the hits shared limiters counted since the last flush and reads every node's
    /// totals back into them. Keys are hashed: client addresses and phone numbers stay out
    /// of Redis.
    pub(crate) async fn flush_limits(
        &self,
        limiters: &[&crate::limits::Limiter],
    ) -> Result<(), ClusterError> {
        use sha2::Digest;
        let mut pushed = Vec::new();
        let mut pipe = ::redis::pipe();
        for limiter in limiters {
            let Some(name) = limiter.shared_name() else {
                continue;
            };
            let window_ms = i64::try_from(limiter.window_ms()).unwrap_or(i64::MAX);
            for hits in limiter.take_pending() {
                let digest = sha2::Sha256::digest(hits.key.as_bytes());
                let key = self.limit_key(name, &hex::encode(&digest[..16]), hits.window);
                pipe.incr(&key, hits.hits).pexpire(&key, window_ms).ignore();
                pushed.push((*limiter, hits));
            }
        }
        if pushed.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let totals: Vec<u64> = timed(pipe.query_async(&mut conn)).await?;
        for ((limiter, hits), total) in pushed.into_iter().zip(totals) {
            limiter.record_total(&hits.key, hits.window, total);
        }
        Ok(())
    }
}

/// Resolves once the subscriber first listens.
pub(super) fn spawn_tasks(cluster: &Cluster) -> impl std::future::Future<Output = ()> + use<> {
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel::<()>();
    let ready = async move {
        let _ = subscribed_rx.await;
    };
    let Some(redis) = cluster.redis() else {
        return ready;
    };
    let weak = cluster.weak();
    // Heartbeat.
    {
        let weak = weak.clone();
        let mut stopped = cluster.stopped();
        let every = cluster.config().lease / 3;
        tokio::spawn(async move {
            loop {
                let Some(cluster) = Cluster::from_weak(&weak) else {
                    return;
                };
                let Some(redis) = cluster.redis() else { return };
                {
                    let _writing = redis.beat_lock.lock().await;
                    if *stopped.borrow() {
                        return;
                    }
                    match redis.heartbeat(&cluster).await {
                        Ok(()) => redis.reachable(),
                        Err(e) => redis.unreachable(&e),
                    }
                }
                let beat = redis.beat.clone();
                // The task must not keep the node alive while it sleeps.
                drop(cluster);
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = beat.notified() => {}
                    _ = stopped.changed() => return,
                }
                if *stopped.borrow() {
                    return;
                }
            }
        });
    }
    // Publisher.
    if let Some(mut outbox) = redis
        .outbox_rx
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        let mut conn = redis.conn.clone();
        let channel = redis.channel();
        let mut stopped = cluster.stopped();
        tokio::spawn(async move {
            loop {
                let json = tokio::select! {
                    json = outbox.recv() => match json { Some(j) => j, None => return },
                    _ = stopped.changed() => return,
                };
                if let Err(e) = timed(conn.publish::<_, _, i64>(&channel, json)).await {
                    tracing::warn!(error = %e, "a cluster event could not be published");
                }
            }
        });
    }
    // Subscriber: a dedicated connection, reopened with backoff when it drops.
    {
        let client = redis.client.clone();
        let channel = redis.channel();
        let me = cluster.node_id().to_owned();
        let events = cluster.inner.events.clone();
        let mut stopped = cluster.stopped();
        let mut subscribed_tx = Some(subscribed_tx);
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut delay = Duration::from_millis(200);
            loop {
                let subscribed = async {
                    let mut pubsub = timed(client.get_async_pubsub()).await?;
                    timed(pubsub.subscribe(&channel)).await?;
                    Ok::<_, ClusterError>(pubsub)
                };
                let pubsub = tokio::select! {
                    s = subscribed => s,
                    _ = stopped.changed() => return,
                };
                match pubsub {
                    Ok(pubsub) => {
                        delay = Duration::from_millis(200);
                        if let Some(tx) = subscribed_tx.take() {
                            let _ = tx.send(());
                        }
                        let mut messages = pubsub.into_on_message();
                        loop {
                            let message = tokio::select! {
                                m = messages.next() => m,
                                _ = stopped.changed() => return,
                            };
                            let Some(message) = message else { break };
                            let Ok(payload) = message.get_payload::<String>() else {
                                continue;
                            };
                            match serde_json::from_str::<Envelope>(&payload) {
                                // This node delivered its own at once.
                                Ok(envelope) if envelope.origin == me => {}
                                Ok(envelope) => {
                                    let _ = events.send(envelope.event);
                                }
                                Err(e) => tracing::warn!(error = %e, "an unreadable cluster event"),
                            }
                        }
                        tracing::warn!("the cluster's event channel closed; reopening it");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot subscribe to the cluster's events")
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stopped.changed() => return,
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        });
    }
    ready
}
