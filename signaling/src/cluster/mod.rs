//! # The cluster: which node owns which room, which nodes are alive, and what they tell
//! each other
//!
//! One [`Cluster`] handle per node (cheap to clone), with two backends behind one interface:
//! - **local** (`[cluster] redis_url` empty): a single node. Every placement is this node's,
//!   events are delivered in-process, limits stay in memory. Nothing leaves the process.
//! - **Redis**: the node registers under `<prefix>:node:<id>` with a lease and refreshes it
//!   every lease/3 ([`redis`]); a node that stops refreshing is gone once its lease runs
//!   out. Placements (`<prefix>:place:<key>`) name their owner; a placement whose owner is
//!   gone is taken over atomically (a Lua script) by the least-loaded live node, and the
//!   caller learns the dead owner (`moved_from`) to record the interruption. Events go over
//!   one pub/sub channel per deployment (`<prefix>:events`).
//!
//! The placement key is the session id for case sessions, else the room name (see
//! [`placement_key`]). A node that is draining is never chosen for a new placement but
//! keeps what it owns.
//!
//! Events ([`ClusterEvent`]) are delivered to this node's subscribers at once and to other
//! nodes over Redis; a node skips its own messages coming back from Redis, so each node
//! applies each event once. [`apply`] is the one subscriber that turns events into frames
//! for the seats on this node.
//!
//! A session's evidence share is counted in Redis too (`evidence.rs`), since uploads are HTTP
//! and land on any node.

pub mod apply;
mod evidence;
mod load;
mod local;
pub mod redis;
pub mod relay;
pub mod send_on;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

pub use load::CpuSampler;

/// How many events a slow subscriber may fall behind before it misses some (it is told how
/// many it missed; the events are hints to refetch, so missing one costs a stale view until
/// the next, never data).
pub const EVENT_QUEUE: usize = 1024;

/// A cluster's settings, derived from `[cluster]` by the binary.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// This node (`N_…`, stable across restarts).
    pub node_id: String,
    /// Redis, or `None` for a single node.
    pub redis_url: Option<String>,
    /// Where other nodes reach this one's HTTP (and, next, its WebSockets).
    pub internal_url: String,
    /// The UDP address clients send this node's media to (`ip:port`), as announced.
    pub media_addr: String,
    /// Rooms this node takes at most; 0 = no limit.
    pub max_rooms: u32,
    /// How long a node counts as alive after its last heartbeat.
    pub lease: Duration,
    /// Keys in Redis begin with this, so deployments can share one Redis.
    pub prefix: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_id: new_node_id(),
            redis_url: None,
            internal_url: "http://127.0.0.1:8080".into(),
            media_addr: String::new(),
            max_rooms: 0,
            lease: Duration::from_secs(10),
            prefix: "accord".into(),
        }
    }
}

/// A new random node id: `N_` and 16 letters and digits.
pub fn new_node_id() -> String {
    format!("N_{}", accord_sfu::random_token(16))
}

/// Whether `id` can name a node: 1–64 letters, digits, `_` and `-` (it goes into Redis keys
/// and the recordings table).
pub fn valid_node_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The key a room is placed by: the session for a case session (its rooms all live
/// together), else the room's name.
pub fn placement_key(session: Option<&str>, room: &str) -> String {
    match session {
        Some(session) if !session.is_empty() => format!("session:{session}"),
        _ => format!("room:{room}"),
    }
}

/// How busy a node is, as it last reported.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// Rooms with someone in them.
    pub rooms: u32,
    /// Participants with a peer connection.
    pub participants: u32,
    /// RTP packets forwarded per second.
    pub forwarded_pps: f64,
    /// CPU used by the process, in percent of the whole machine (0–100).
    pub cpu_percent: f64,
}

impl Load {
    /// Lower is less busy. A room costs as much as two participants (its SFU state and its
    /// signaling), forwarding 1000 packets a second as one participant, and 10 % of CPU as
    /// one room: CPU is the resource that runs out first (docs/benchmarks.md), so a node
    /// running hot loses even with fewer rooms.
    pub fn score(&self) -> f64 {
        f64::from(self.rooms) * 2.0
            + f64::from(self.participants)
            + self.forwarded_pps / 1000.0
            + self.cpu_percent / 5.0
    }

    /// What one new placement adds to a node's score until its load reports it: a room with
    /// the two people a mediation has at least.
    pub fn placement_weight() -> f64 {
        Load {
            rooms: 1,
            participants: 2,
            ..Load::default()
        }
        .score()
    }
}

/// A node as the registry lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// `N_…`.
    pub id: String,
    /// Where other nodes reach it.
    pub internal_url: String,
    /// Where clients send its media.
    pub media_addr: String,
    /// Its last reported load.
    pub load: Load,
    /// Whether it is draining (takes no new rooms).
    pub draining: bool,
    /// Rooms it takes at most; 0 = no limit.
    pub max_rooms: u32,
    /// When it last reported (Unix ms, its own clock).
    pub updated_at: i64,
}

impl NodeInfo {
    /// Whether a new room may go to this node.
    pub fn accepts_rooms(&self) -> bool {
        !self.draining && (self.max_rooms == 0 || self.load.rooms < self.max_rooms)
    }
}

/// Where a placement key lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The owning node.
    pub owner: String,
    /// Where to reach it.
    pub internal_url: String,
    /// Whether the owner is this node.
    pub local: bool,
    /// A previous owner that is gone: the caller records the interruption.
    pub moved_from: Option<String>,
}

/// What nodes tell each other. Each is a hint to look again (the database holds the
/// truth), so a missed one leaves a view stale until the next, never wrong data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClusterEvent {
    /// A case's agreement changed: its live seats fetch it again.
    AgreementChanged {
        /// `CA_…`.
        case_id: String,
    },
    /// A comment on a clause: shown to the case's moderators and its author.
    CommentAdded {
        /// `CA_…`.
        case_id: String,
        /// Who wrote it (`ST_…`, `PT_…`): their own seat sees it too.
        author_identity: String,
        /// The comment as the frames carry it.
        comment: CommentInfo,
    },
    /// A staff account was disabled: its seats go at once, wherever they are.
    StaffDisabled {
        /// `ST_…`.
        staff_id: String,
    },
    /// An agreement draft grew: nodes holding it in memory catch up.
    DraftUpdated {
        /// `AG_…`.
        agreement_id: String,
        /// The document (`main` or a private draft).
        doc: String,
    },
    /// A node began draining.
    NodeDraining {
        /// `N_…`.
        node_id: String,
    },
}

/// [`accord_protocol::DraftCommentInfo`], which the protocol only serialises.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CommentInfo {
    pub id: String,
    pub agreement_id: String,
    pub clause_id: String,
    pub author_name: String,
    pub author_role: String,
    pub text: String,
    pub at: i64,
}

impl From<accord_protocol::DraftCommentInfo> for CommentInfo {
    fn from(c: accord_protocol::DraftCommentInfo) -> Self {
        Self {
            id: c.id,
            agreement_id: c.agreement_id,
            clause_id: c.clause_id,
            author_name: c.author_name,
            author_role: c.author_role,
            text: c.text,
            at: c.at,
        }
    }
}

impl From<CommentInfo> for accord_protocol::DraftCommentInfo {
    fn from(c: CommentInfo) -> Self {
        Self {
            id: c.id,
            agreement_id: c.agreement_id,
            clause_id: c.clause_id,
            author_name: c.author_name,
            author_role: c.author_role,
            text: c.text,
            at: c.at,
        }
    }
}

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No live node takes new rooms (all draining or full).
    #[error("no node can take a new room (all are draining or full)")]
    NoNodeAvailable,
    /// Redis could not be reached or answered with an error.
    #[error("redis: {0}")]
    Redis(String),
    /// Redis did not answer in time.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// One handle on the cluster, for this node. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClusterConfig,
    draining: AtomicBool,
    load: Mutex<Load>,
    events: broadcast::Sender<ClusterEvent>,
    backend: Backend,
    /// Dropped with the handle: every background task watches it and ends.
    stop: watch::Sender<bool>,
}

enum Backend {
    Local(local::Local),
    Redis(Box<redis::Redis>),
}

impl Cluster {
    /// A single node, with nothing shared.
    pub fn local(mut config: ClusterConfig) -> Self {
        config.redis_url = None;
        Self::with_backend(config, |_| Backend::Local(local::Local::default()))
    }

    /// The cluster `config` describes: local without a Redis URL; with one, registers this
    /// node and starts its heartbeat and event relay. Fails when Redis cannot be reached at
    /// start: a node that believes it is alone would place rooms another node also owns.
    pub async fn start(config: ClusterConfig) -> Result<Self, ClusterError> {
        let Some(url) = config.redis_url.clone().filter(|u| !u.is_empty()) else {
            return Ok(Self::local(config));
        };
        let connection = redis::Redis::connect(&url, &config).await?;
        let cluster = Self::with_backend(config, |_| Backend::Redis(Box::new(connection)));
        if let Backend::Redis(r) = &cluster.inner.backend {
            r.register(&cluster).await?;
        }
        // Subscribed before anyone is told this node exists, so no event sent to it after
        // `start` returns is missed.
        let subscribed = redis::spawn_tasks(&cluster);
        if tokio::time::timeout(redis::OP_TIMEOUT, subscribed)
            .await
            .is_err()
        {
            tracing::warn!(
                "not yet subscribed to the cluster's events; retrying in the background"
            );
        }
        Ok(cluster)
    }

    fn with_backend(
        config: ClusterConfig,
        backend: impl FnOnce(&ClusterConfig) -> Backend,
    ) -> Self {
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let (stop, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                backend: backend(&config),
                config,
                draining: AtomicBool::new(false),
                load: Mutex::new(Load::default()),
                events,
                stop,
            }),
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.inner.config.node_id
    }

    /// The settings it runs with.
    pub fn config(&self) -> &ClusterConfig {
        &self.inner.config
    }

    /// Whether other nodes may exist (a Redis backend).
    pub fn clustered(&self) -> bool {
        matches!(self.inner.backend, Backend::Redis(_))
    }

    /// This node as it reports itself now.
    pub fn this_node(&self) -> NodeInfo {
        let config = &self.inner.config;
        NodeInfo {
            id: config.node_id.clone(),
            internal_url: config.internal_url.clone(),
            media_addr: config.media_addr.clone(),
            load: self.load(),
            draining: self.draining(),
            max_rooms: config.max_rooms,
            updated_at: accord_cases::store::now_ms(),
        }
    }

    /// The live nodes, this one included, by id. On a Redis error: this node alone (and
    /// the error is logged), which is what placement falls back to.
    pub async fn live_nodes(&self) -> Vec<NodeInfo> {
        match &self.inner.backend {
            Backend::Local(_) => vec![self.this_node()],
            Backend::Redis(r) => match r.live_nodes().await {
                Ok(nodes) => nodes,
                Err(e) => {
                    r.unreachable(&e);
                    vec![self.this_node()]
                }
            },
        }
    }

    /// Whether node `id` is alive. This node always is; with Redis unreachable, other nodes
    /// count as alive, so nothing of theirs is taken over on a guess.
    pub async fn is_live(&self, id: &str) -> bool {
        if id == self.node_id() {
            return true;
        }
        match &self.inner.backend {
            Backend::Local(_) => false,
            Backend::Redis(r) => match r.is_live(id).await {
                Ok(live) => live,
                Err(e) => {
                    r.unreachable(&e);
                    true
                }
            },
        }
    }

    /// Records this node's load; the next heartbeat carries it.
    pub fn report_load(&self, load: Load) {
        *self.inner.load.lock().unwrap_or_else(|e| e.into_inner()) = load;
    }

    /// This node's last reported load.
    pub fn load(&self) -> Load {
        self.inner
            .load
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts (or stops) draining: no new placements come here; what is here stays. Other
    /// nodes hear of it at once ([`ClusterEvent::NodeDraining`]) and the registry says so
    /// from the next heartbeat.
    pub fn set_draining(&self, draining: bool) {
        let was = self.inner.draining.swap(draining, Ordering::SeqCst);
        if draining && !was {
            self.publish(ClusterEvent::NodeDraining {
                node_id: self.node_id().to_owned(),
            });
        }
        if let Backend::Redis(r) = &self.inner.backend {
            r.wake_heartbeat();
        }
    }

    /// Whether this node is draining.
    pub fn draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Where `key` lives: its current owner if that node is alive; else a live node that
    /// takes new rooms, the least loaded (ties by id), claimed atomically so two nodes
    /// placing the same key at once agree. `moved_from` names a previous owner that is gone.
    /// With Redis unreachable, the key stays here (logged): rooms already here keep
    /// working, and a new one is served rather than refused.
    pub async fn place(&self, key: &str) -> Result<Placement, ClusterError> {
        match &self.inner.backend {
            Backend::Local(l) => l.place(self, key),
            Backend::Redis(r) => match r.place(self, key).await {
                Err(e @ (ClusterError::Redis(_) | ClusterError::Timeout(_))) => {
                    r.unreachable(&e);
                    Ok(self.here(None))
                }
                other => other,
            },
        }
    }

    /// Who owns `key` now (alive or not), without placing it.
    pub async fn owner_of(&self, key: &str) -> Result<Option<Placement>, ClusterError> {
        match &self.inner.backend {
            Backend::Local(l) => Ok(l.owns(key).then(|| self.here(None))),
            Backend::Redis(r) => r.owner_of(self, key).await,
        }
    }

    /// Gives `key` up, if this node still owns it (a room that emptied here).
    pub async fn release(&self, key: &str) -> Result<(), ClusterError> {
        match &self.inner.backend {
            Backend::Local(l) => {
                l.release(key);
                Ok(())
            }
            Backend::Redis(r) => r.release(self, key).await,
        }
    }

    /// Tells every node, this one included (at once, in-process), of `event`.
    pub fn publish(&self, event: ClusterEvent) {
        // No subscriber yet is not an error: nothing here needs to hear it.
        let _ = self.inner.events.send(event.clone());
        if let Backend::Redis(r) = &self.inner.backend {
            r.publish(self.node_id(), event);
        }
    }

    /// Events from every node, this one's included, each once.
    pub fn subscribe(&self) -> broadcast::Receiver<ClusterEvent> {
        self.inner.events.subscribe()
    }

    /// Pushes the hits of shared `limiters` to the other nodes and reads their totals back
    /// (what the node's flush task does every 200 ms; see [`crate::limits`]). Nothing to do
    /// for a single node.
    pub async fn flush_limits(
        &self,
        limiters: &[&crate::limits::Limiter],
    ) -> Result<(), ClusterError> {
        match self.redis() {
            Some(redis) => redis.flush_limits(limiters).await,
            None => Ok(()),
        }
    }

    /// Leaves the cluster on a clean stop: this node's registration and placements go at
    /// once, rather than when the lease runs out.
    pub async fn leave(&self) {
        let _ = self.inner.stop.send(true);
        if let Backend::Redis(r) = &self.inner.backend
            && let Err(e) = r.leave(self).await
        {
            tracing::warn!(error = %e, "cannot deregister this node from the cluster");
        }
    }

    /// Stops heartbeating without deregistering, as a node that died would: its lease runs
    /// out and its placements are taken over. For tests of failover.
    #[doc(hidden)]
    pub fn halt(&self) {
        let _ = self.inner.stop.send(true);
    }

    fn stopped(&self) -> watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    fn weak(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    fn from_weak(weak: &std::sync::Weak<Inner>) -> Option<Self> {
        weak.upgrade().map(|inner| Self { inner })
    }

    /// The Redis backend, if this node has one.
    pub(crate) fn redis(&self) -> Option<&redis::Redis> {
        match &self.inner.backend {
            Backend::Redis(r) => Some(r),
            Backend::Local(_) => None,
        }
    }

    /// A placement on this node.
    fn here(&self, moved_from: Option<String>) -> Placement {
        Placement {
            owner: self.node_id().to_owned(),
            internal_url: self.inner.config.internal_url.clone(),
            local: true,
            moved_from,
        }
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node_id", &self.node_id())
            .field("clustered", &self.clustered())
            .finish()
    }
}
