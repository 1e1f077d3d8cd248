//! # accord: the binary that wires Accord together
//!
//! `accord serve` loads the [`config`], starts the media server ([`accord_sfu`]) and the
//! HTTP/WebSocket service ([`accord_signaling`]), and prints where to find them.
//! `accord token create` mints a join token offline with the same secret.

pub mod config;
pub mod demo;

use std::net::SocketAddr;
use std::path::Path;

use accord_sfu::Sfu;
use accord_signaling::AppState;

use config::Config;

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The media server could not start.
    #[error(transparent)]
    Media(#[from] accord_sfu::Error),
    /// The database could not be opened or migrated, or its audit trail is broken.
    #[error("database: {0}")]
    Store(#[from] accord_signaling::Error),
    /// The cluster's Redis could not be reached at start (`[cluster] redis_url`).
    #[error("cluster: {0}")]
    Cluster(#[from] accord_signaling::cluster::ClusterError),
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// The case store's errors reach startup the way they reach a request: through signaling's
/// one mapping, so both describe a failure alike.
impl From<accord_cases::Error> for Error {
    fn from(e: accord_cases::Error) -> Self {
        Error::Store(e.into())
    }
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Opens the case store named by the config (creating the SQLite file in the data directory
/// and the store's keys in the keys folder on first run) and applies its migrations.
pub async fn open_store(config: &Config) -> Result<accord_cases::store::Store, Error> {
    create_data_dir(config)?;
    create_keys_dir(config)?;
    let keys = accord_cases::store::StoreKeys::load_or_create(&config.keys_dir())?;
    Ok(accord_cases::store::Store::open(&config.database_url(), keys).await?)
}

/// The join-token secret: from config, else the one kept in the keys folder (`[keys] dir`,
/// by default the data directory), else a new one written there (readable by the owner
/// only).
pub fn token_secret(config: &Config) -> Result<String, Error> {
    if !config.auth.token_secret.is_empty() {
        return Ok(config.auth.token_secret.clone());
    }
    let path = config.keys_dir().join("token_secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(existing);
        }
    }
    create_keys_dir(config)?;
    let secret = accord_sfu::random_token(48);
    write_private(&path, &secret).map_err(io(format!("writing {}", path.display())))?;
    Ok(secret)
}

/// The data directory holds the database, keys and evidence: created for its owner alone.
fn create_data_dir(config: &Config) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .map_err(io(format!("creating {}", config.data_dir.display())))
}

/// The keys folder, when it is not the data directory: created for its owner alone if
/// missing. A folder that exists (a read-only mounted secret) is left as it is.
fn create_keys_dir(config: &Config) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = config.keys_dir();
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io(format!("creating {}", dir.display())))
}

/// This node's id: `[cluster] node_id`, else the one kept in `<data_dir>/node_id`, else a
/// new `N_…` written there (0600), so a restarted node is the same node and takes back its
/// own work (recordings, placements).
pub fn node_id(config: &Config) -> Result<String, Error> {
    use accord_signaling::cluster::{new_node_id, valid_node_id};
    if !config.cluster.node_id.is_empty() {
        return Ok(config.cluster.node_id.clone());
    }
    let path = config.data_dir.join("node_id");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if valid_node_id(existing) {
            return Ok(existing.to_owned());
        }
        tracing::warn!(file = %path.display(), "the node id kept there is not one; a new one replaces it");
    }
    create_data_dir(config)?;
    let id = new_node_id();
    write_private(&path, &id).map_err(io(format!("writing {}", path.display())))?;
    Ok(id)
}

pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// Where invite links point when `http.public_url` is empty: the address the server listens
/// on (`localhost` for all interfaces), never the `Host` of a request, which its sender
/// chooses.
pub fn derived_public_url(listening: SocketAddr) -> String {
    if listening.ip().is_unspecified() {
        format!("http://localhost:{}", listening.port())
    } else {
        format!("http://{listening}")
    }
}

/// Deletes recordings the retention policy no longer keeps, once an hour.
async fn apply_retention(state: AppState) {
    let mut every = tokio::time::interval(accord_signaling::recording::finish::RETENTION_INTERVAL);
    loop {
        every.tick().await;
        match accord_signaling::recording::finish::retention(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(recordings = n, "deleted recordings past their retention"),
            Err(e) => tracing::error!(error = %e, "cannot apply the recording retention policy"),
        }
    }
}

/// Where a running service listens.
#[derive(Clone, Copy, Debug)]
pub struct Listening {
    /// HTTP and WebSocket.
    pub http: SocketAddr,
    /// Media (UDP).
    pub media: SocketAddr,
}

/// Runs the service until it has drained. Each value on `stop_signals` is one stop signal
/// (SIGTERM, SIGINT): the first starts the drain, the second (or the passing of
/// `cluster.drain_deadline_seconds`) moves everyone off this node, a third stops waiting for
/// recordings to be stored (see [`accord_signaling::drain`]). `on_ready` is called once both
/// listeners are bound.
pub async fn serve(
    config: Config,
    mut stop_signals: tokio::sync::mpsc::Receiver<()>,
    on_ready: impl FnOnce(Listening),
) -> Result<(), Error> {
    create_data_dir(&config)?;
    let secret = token_secret(&config)?;
    let store = open_store(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(io(format!("listening on {}", config.http.listen)))?;
    let http = listener
        .local_addr()
        .map_err(io("reading the HTTP address"))?;
    let mut signaling = config.signaling();
    if signaling.public_url.is_none() {
        let derived = derived_public_url(http);
        if !http.ip().is_loopback() {
            tracing::warn!(
                links = %derived,
                "http.public_url is not set: invite links point at this machine's listen \
                 address; set it to the address people reach Accord at"
            );
        }
        signaling.public_url = Some(derived);
    }
    signaling.confirmation = config.confirmation()?;
    let sfu = Sfu::start(config.sfu()?)?;
    let blobs = accord_signaling::storage::open_store(&config.blob_store()).await?;
    // With a Redis URL, an unreachable Redis stops the start here: a node that believed it
    // was alone would place rooms another node also holds.
    let cluster = accord_signaling::cluster::Cluster::start(config.cluster(
        node_id(&config)?,
        http,
        sfu.local_addr(),
    ))
    .await?;
    tracing::info!(node = %cluster.node_id(), clustered = cluster.clustered(), "this node's id");
    let state = AppState::new_in_cluster(
        sfu.clone(),
        secret.as_bytes(),
        signaling,
        store,
        blobs,
        config.recording(),
        cluster,
    )?;
    // What a crash cut short is finalised before anything new is recorded: as `interrupted`,
    // never silently lost.
    match accord_signaling::recording::finish::recover_at_start(&state).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            recordings = n,
            "finalised recordings a crash had interrupted"
        ),
        Err(e) => tracing::error!(error = %e, "cannot recover interrupted recordings"),
    }
    tokio::spawn(apply_retention(state.clone()));
    accord_signaling::confirmation::spawn_background(&state);
    let app = accord_signaling::http::router(state.clone());
    state.set_ready(true);
    on_ready(Listening {
        http,
        media: sfu.local_addr(),
    });
    // HTTP keeps serving while the node drains: resumes, joins into live rooms, the
    // mediator's API and `/readyz` (503 `draining`) are all still wanted.
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel();
    let draining = state.clone();
    let deadline = config.drain_deadline();
    tokio::spawn(async move {
        if stop_signals.recv().await.is_none() {
            // Nobody can ask this node to stop: it serves until the process is killed.
            return std::future::pending::<()>().await;
        }
        let ended = accord_signaling::drain::run(&draining, &mut stop_signals, deadline).await;
        let _ = drained_tx.send(ended);
    });
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = drained_rx.await;
    })
    .await
    .map_err(io("serving HTTP"));
    state.set_ready(false);
    state.cluster().leave().await;
    sfu.shutdown();
    tracing::info!("stopped");
    served
}
