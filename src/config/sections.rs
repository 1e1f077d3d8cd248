//! The sections of the configuration file and their defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use accord_cases::blobs::S3Config;
use accord_protocol::IceServer;
use serde::Deserialize;

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the database, secrets and recordings live.
    pub data_dir: PathBuf,
    /// The HTTP listener.
    pub http: HttpConfig,
    /// The media port.
    pub media: MediaConfig,
    /// Tokens and keys.
    pub auth: AuthConfig,
    /// Invite notifications.
    pub notify: NotifySection,
    /// TURN credentials handed out with each join.
    pub turn: TurnSection,
    /// Rooms and sessions.
    pub signaling: SignalingSection,
    /// Where case records are kept.
    pub database: DatabaseConfig,
    /// Where evidence files and recordings are kept.
    pub blobs: BlobsSection,
    /// Recording sessions.
    pub recording: RecordingSection,
    /// Agreements (the PDF's font).
    pub agreements: AgreementsSection,
    /// Judicial confirmation: the window's sweep, the connector, the court systems.
    pub confirmation: super::confirmation::ConfirmationSection,
    /// Several nodes: Redis, this node's id and limits.
    pub cluster: super::cluster::ClusterSection,
    /// The folder of secrets every node shares.
    pub keys: super::cluster::KeysSection,
    /// Logging.
    pub log: LogConfig,
}

/// `[http]`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the HTTP and WebSocket listener.
    pub listen: SocketAddr,
    /// The address people reach Accord at, used in invite links and QR codes
    /// (`https://mediation.example.cn`). Empty: the listen address (`localhost` for all
    /// interfaces), never a request's `Host` header, which whoever sends it chooses.
    pub public_url: String,
    /// Behind a reverse proxy: take the client's address (for rate limits) from the last
    /// `X-Forwarded-For` entry. Only with a proxy that sets it; otherwise clients choose it.
    pub trust_forwarded_for: bool,
}

/// `[media]`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// The one UDP address all media uses.
    pub listen: SocketAddr,
    /// Public IPs or host names to announce in ICE candidates (NAT 1:1); empty announces
    /// the local addresses.
    pub announce: Vec<String>,
    /// Media worker threads; 0 is one per core.
    pub shards: usize,
    /// Participants a media worker takes (while under half busy) before new rooms go to the
    /// next; 0 spreads every new room to the worker with the fewest participants.
    pub shard_fill: usize,
    /// Seconds without packets before a participant is asked to restart ICE.
    pub media_timeout_seconds: u64,
    /// Seconds without packets before a participant's seat is given up.
    pub lost_after_seconds: u64,
    /// ICE over TCP for networks that block UDP: "" takes the UDP listen address and port
    /// over TCP, "off" disables it, anything else is the address to listen on.
    pub tcp_listen: String,
    /// Send the packets of a frame to one participant as one segmented datagram (UDP
    /// generic segmentation offload). Off only for a network card or driver that mangles
    /// such sends; a kernel that refuses them is detected and falls back by itself.
    pub udp_segmentation: bool,
}

/// `[auth]`
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Secret that signs join tokens (32+ bytes). Empty: one is generated on first run and
    /// kept in `<keys dir>/token_secret` (`[keys] dir`, by default the data directory).
    pub token_secret: String,
    /// Bearer key for `POST /api/v1/tokens`. Empty disables that endpoint.
    pub api_key: String,
}

/// `[notify]`: where invite messages (SMS / WeChat templates) go.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySection {
    /// Empty: messages are written to the log and staff copy them from the invite. A URL:
    /// each message is POSTed there as JSON for an SMS or WeChat gateway to deliver.
    pub gateway_url: String,
    /// Sent to the gateway as a bearer token; set it through the environment
    /// (`ACCORD_NOTIFY_GATEWAY_TOKEN`), not in a file under version control.
    pub gateway_token: String,
}

/// `[turn]`: a TURN server (coturn with `use-auth-secret`) for networks that block UDP to
/// the media port; each join gets its own time-limited credential.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TurnSection {
    /// `turn:` / `turns:` URLs; empty: no TURN.
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`; set it through the environment
    /// (`ACCORD_TURN_SHARED_SECRET`), not in a file under version control.
    pub shared_secret: String,
    /// How long a credential stays valid.
    pub ttl_seconds: u64,
}

impl Default for TurnSection {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            shared_secret: String::new(),
            // A long session, with room to spare.
            ttl_seconds: 6 * 3600,
        }
    }
}

/// `[signaling]`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SignalingSection {
    /// Seats per room.
    pub max_participants: usize,
    /// Seconds a dropped participant's seat is held for a resume.
    pub resume_grace_seconds: u64,
    /// STUN/TURN servers handed to clients.
    pub ice_servers: Vec<IceServer>,
    /// Largest evidence file (photo or PDF) a party may upload, in MiB.
    pub max_evidence_mib: u64,
    /// Chat messages one participant may send per second (bursts of twice this).
    pub chat_per_second: u32,
    /// Chat messages one participant may send per minute.
    pub chat_per_minute: u32,
    /// Evidence files one session takes.
    pub evidence_per_session: u32,
    /// Evidence one session takes, in MiB.
    pub evidence_session_mib: u64,
}

/// `[database]`
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/accord.db` or `postgres://user@host/db`. Empty: an SQLite file at
    /// `<data_dir>/accord.db`, created on first run.
    pub url: String,
}

/// `[blobs]`: where evidence files and recordings are kept.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BlobsSection {
    /// `local` (a folder) or `s3` (an S3-compatible bucket, `[blobs.s3]`).
    pub backend: BlobBackend,
    /// The folder for `local`; empty: `<data_dir>/blobs`.
    pub dir: PathBuf,
    /// The bucket for `s3` (`[blobs.s3]`: bucket, endpoint, region, prefix, allow_http; the
    /// keys from `ACCORD_S3_ACCESS_KEY_ID` and `ACCORD_S3_SECRET_ACCESS_KEY`).
    pub s3: S3Config,
}

/// Which blob store `[blobs]` uses.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum BlobBackend {
    /// A folder on this machine.
    #[default]
    Local,
    /// An S3-compatible bucket.
    S3,
}

/// `[recording]`: how sessions are recorded.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingSection {
    /// Where recordings are written while they run; empty: `<data_dir>/recordings`. Finished
    /// recordings go to the blob store.
    pub dir: PathBuf,
    /// How long everyone sees and hears the notice before recording begins.
    pub notice_ms: u64,
    /// Free space (MiB) below which a recording does not start; a running one stops at half.
    pub min_free_mib: u64,
    /// The video size recorded: the simulcast layer nearest it.
    pub video_width: u32,
    /// See `video_width`.
    pub video_height: u32,
}

impl Default for RecordingSection {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            notice_ms: 5000,
            min_free_mib: 512,
            video_width: 640,
            video_height: 360,
        }
    }
}

/// `[agreements]`: how agreement PDFs are made.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AgreementsSection {
    /// The OpenType CJK font agreements are set in; empty: Debian's `fonts-noto-cjk`
    /// (`/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc`, face 2, Simplified Chinese).
    pub font_path: PathBuf,
    /// The face of a font collection; unset: 2 for the default collection, 0 for a font of
    /// one's own.
    pub font_index: Option<u32>,
}

/// `[log]`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter (`info`, `accord_sfu=debug,info`); `RUST_LOG` overrides it.
    pub level: String,
    /// `pretty` for people, `json` for log collectors.
    pub format: LogFormat,
}

/// How log lines look.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            http: HttpConfig::default(),
            media: MediaConfig::default(),
            auth: AuthConfig::default(),
            notify: NotifySection::default(),
            turn: TurnSection::default(),
            signaling: SignalingSection::default(),
            database: DatabaseConfig::default(),
            blobs: BlobsSection::default(),
            recording: RecordingSection::default(),
            agreements: AgreementsSection::default(),
            confirmation: Default::default(),
            cluster: Default::default(),
            keys: Default::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            public_url: String::new(),
            trust_forwarded_for: false,
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 40000)),
            announce: Vec::new(),
            shards: 0,
            shard_fill: 48,
            media_timeout_seconds: 4,
            lost_after_seconds: 20,
            tcp_listen: String::new(),
            udp_segmentation: true,
        }
    }
}

impl Default for SignalingSection {
    fn default() -> Self {
        Self {
            max_participants: 20,
            resume_grace_seconds: 15,
            ice_servers: Vec::new(),
            max_evidence_mib: 10,
            chat_per_second: 5,
            chat_per_minute: 60,
            evidence_per_session: 50,
            evidence_session_mib: 200,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            // Browsers' DTLS ClientHellos carry extensions the engine does not know; it warns
            // about each one on every connection, which is noise, not news. The engine's ICE
            // transport writes a client's own host candidate (its address) at info.
            level: "info,rtc_dtls::handshake=error,rtc::peer_connection::transport::ice=warn"
                .into(),
            format: LogFormat::Pretty,
        }
    }
}
