//! # accord-signaling: the edge
//!
//! Everything a client talks to except media packets. A handler extracts who is calling,
//! calls the domain ([`accord_cases`]: ids, model, store, access rules, forms, tokens) or
//! the SFU ([`accord_sfu`], one handle per participant) and answers; the rules live in the
//! domain crate and the frames in [`accord_protocol`]. Every error is mapped once, in [`error`].
//!
//! ## Modules, by who calls
//! - Participants: [`session`] (one WebSocket from join to leave: wire, join, waiting room,
//!   resume, relay), [`rooms`] (who is in which room, admission, moderation, what each side
//!   is shown), [`room_api`] (consent and sharing a file over HTTP), [`whip`] (WHIP/WHEP).
//! - Staff: [`staff`] (sign-in and the role extractors), [`casework`] (cases, parties,
//!   sessions, evidence, invites, the session record), [`recording`] (recording sessions,
//!   and the review of recordings by court users and mediators).
//! - The public: [`intake`] (the online application, 一站式自主申报), [`web`] (the embedded
//!   browser app), [`openapi`] (the API description).
//! - Shared: [`auth`] (extractors of join tokens and the API key), [`evidence`] (streaming
//!   uploads into the blob store), [`limits`] (rate limits), [`notify`] (the SMS/WeChat
//!   gateway), [`storage`] (opening the blob store; its S3 client), [`metrics`]
//!   (Prometheus), [`http`] (the router that joins them all), [`cluster`] (the other
//!   nodes: placement of rooms, liveness, events between nodes).
//!
//! `docs/layout.md` says which crate new code belongs in.

pub mod agreements;
pub mod auth;
pub mod casework;
pub mod cluster;
pub mod confirmation;
pub mod drain;
pub mod error;
pub mod evidence;
pub mod failover;
pub mod http;
pub mod intake;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod recording;
pub mod room_api;
pub mod rooms;
pub mod session;
pub mod staff;
pub mod storage;
pub mod web;
pub mod whip;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use accord_cases::{blobs, store};
use accord_protocol::IceServer;
use accord_sfu::Sfu;

pub use error::{Error, Result};

/// Signaling settings (from Accord's config file and environment).
#[derive(Clone, Debug)]
pub struct SignalingConfig {
    /// Bearer key for `POST /api/v1/tokens`; `None` disables the endpoint.
    pub api_key: Option<String>,
    /// ICE servers handed to clients in `joined`.
    pub ice_servers: Vec<IceServer>,
    /// Seats per room (many-to-many sessions are up to 20 people).
    pub max_participants: usize,
    /// How long a seat whose socket dropped is held for a resume.
    pub resume_grace: Duration,
    /// Largest evidence file a party may upload.
    pub max_evidence_bytes: u64,
    /// The address people open invite links at (`https://mediation.example.cn`); `None`
    /// takes the scheme and host of the staff member's request.
    pub public_url: Option<String>,
    /// Where invite notifications go.
    pub notify: accord_cases::notify::NotifyConfig,
    /// Take the client's address from `X-Forwarded-For` (behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
    /// A TURN server to hand out time-limited credentials for.
    pub turn: Option<accord_sfu::TurnConfig>,
    /// What one participant may do in a room per second or minute, and the evidence one
    /// session takes.
    pub room_limits: limits::RoomLimits,
    /// The font agreement PDFs are set in.
    pub agreement_font: agreements::pdf::AgreementFont,
    /// Judicial confirmation: the window's sweep, the connector and the court systems.
    pub confirmation: confirmation::config::ConfirmationConfig,
}

impl Default for SignalingConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            ice_servers: Vec::new(),
            max_participants: 20,
            resume_grace: Duration::from_secs(15),
            max_evidence_bytes: evidence::DEFAULT_MAX_FILE_BYTES,
            public_url: None,
            notify: accord_cases::notify::NotifyConfig::Log,
            trust_forwarded_for: false,
            turn: None,
            room_limits: limits::RoomLimits::default(),
            agreement_font: agreements::pdf::AgreementFont::default(),
            confirmation: confirmation::config::ConfirmationConfig::default(),
        }
    }
}

/// Shared state of every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    sfu: Sfu,
    keys: accord_cases::tokens::TokenKeys,
    rooms: rooms::Rooms,
    resources: whip::Resources,
    metrics: metrics::Metrics,
    config: SignalingConfig,
    store: store::Store,
    blobs: Arc<dyn blobs::BlobStore>,
    notifier: Box<dyn accord_cases::notify::Notifier>,
    limits: limits::Limits,
    recorders: recording::Recorders,
    drafts: agreements::drafts::Drafts,
    cluster: cluster::Cluster,
    ready: AtomicBool,
    drain: drain::Drain,
    /// Added to the system clock by [`AppState::now_ms`]; tests move time with it.
    clock_offset_ms: Arc<AtomicI64>,
}

impl AppState {
    /// State around a running SFU, an open store and a blob store, signing tokens with
    /// `token_secret` and recording as `recording` says. Fails if the notification channel or
    /// the recorder's signing keys cannot be set up.
    pub fn new(
        sfu: Sfu,
        token_secret: &[u8],
        config: SignalingConfig,
        store: store::Store,
        blobs: Arc<dyn blobs::BlobStore>,
        recording: recording::RecordingSettings,
    ) -> Result<Self> {
        let cluster = cluster::Cluster::local(cluster::ClusterConfig::default());
        Self::new_in_cluster(sfu, token_secret, config, store, blobs, recording, cluster)
    }

    /// [`AppState::new`] for a node of `cluster` (its node id, placement, events and shared
    /// limits). Starts the node's event subscriber and load sampler, which end with the state.
    pub fn new_in_cluster(
        sfu: Sfu,
        token_secret: &[u8],
        config: SignalingConfig,
        store: store::Store,
        blobs: Arc<dyn blobs::BlobStore>,
        recording: recording::RecordingSettings,
        cluster: cluster::Cluster,
    ) -> Result<Self> {
        let recorders = recording::Recorders::open(recording, token_secret)?;
        let notifier = notify::notifier(&config.notify)?;
        let limits = limits::Limits::new(&config.room_limits);
        let state = Self {
            inner: Arc::new(Inner {
                metrics: metrics::Metrics::new(
                    sfu.clone(),
                    recorders.metrics_arc(),
                    cluster.node_id(),
                ),
                sfu,
                keys: accord_cases::tokens::TokenKeys::new(token_secret),
                rooms: rooms::Rooms::new(accord_cases::minutes::Minutes::start(store.clone())),
                resources: whip::Resources::default(),
                config,
                store,
                blobs,
                notifier,
                limits,
                recorders,
                drafts: agreements::drafts::Drafts::default(),
                cluster,
                ready: AtomicBool::new(false),
                drain: drain::Drain::default(),
                clock_offset_ms: Arc::new(AtomicI64::new(0)),
            }),
        };
        cluster::apply::spawn(&state);
        cluster::apply::spawn_limit_flush(&state);
        Ok(state)
    }

    /// A handle that does not keep the state alive (background tasks hold this).
    pub(crate) fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// The state behind a [`AppState::downgrade`] handle, while it lives.
    pub(crate) fn upgrade(weak: &std::sync::Weak<Inner>) -> Option<Self> {
        weak.upgrade().map(|inner| Self { inner })
    }

    /// This node in the cluster: its id, placement, events and liveness of other nodes.
    pub fn cluster(&self) -> &cluster::Cluster {
        &self.inner.cluster
    }

    /// The media server.
    pub fn sfu(&self) -> &Sfu {
        &self.inner.sfu
    }
    /// Join-token keys.
    pub fn keys(&self) -> &accord_cases::tokens::TokenKeys {
        &self.inner.keys
    }
    /// Case records.
    pub fn store(&self) -> &store::Store {
        &self.inner.store
    }
    /// Evidence and other files.
    pub fn blobs(&self) -> &dyn blobs::BlobStore {
        &*self.inner.blobs
    }
    /// Where invite notifications go.
    pub fn notifier(&self) -> &dyn accord_cases::notify::Notifier {
        &*self.inner.notifier
    }
    /// Rate limits of the public endpoints.
    pub fn limits(&self) -> &limits::Limits {
        &self.inner.limits
    }
    /// Room membership.
    pub fn rooms(&self) -> &rooms::Rooms {
        &self.inner.rooms
    }
    /// Open WHIP and WHEP sessions.
    pub fn resources(&self) -> &whip::Resources {
        &self.inner.resources
    }
    /// Metrics.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }
    /// Recordings running on this node, and the signing keys.
    pub fn recorders(&self) -> &recording::Recorders {
        &self.inner.recorders
    }
    /// Agreement drafts being edited, in memory.
    pub fn drafts(&self) -> &agreements::drafts::Drafts {
        &self.inner.drafts
    }
    /// Settings.
    pub fn config(&self) -> &SignalingConfig {
        &self.inner.config
    }
    /// Marks the service ready (after the listener is bound); `/readyz` reports it.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Relaxed);
    }
    /// Whether `/readyz` says ready.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }
    /// The work a draining node waits for before it stops ([`drain`]).
    pub fn drain(&self) -> &drain::Drain {
        &self.inner.drain
    }
    /// Now, in Unix milliseconds, as every time-dependent rule of the confirmation sees it:
    /// the system clock plus the offset tests set with [`AppState::set_clock_offset_ms`].
    pub fn now_ms(&self) -> i64 {
        store::now_ms().saturating_add(self.inner.clock_offset_ms.load(Ordering::Relaxed))
    }
    /// Moves [`AppState::now_ms`] by `ms` from the system clock (tests of windows and clocks).
    pub fn set_clock_offset_ms(&self, ms: i64) {
        self.inner.clock_offset_ms.store(ms, Ordering::Relaxed);
    }
}
