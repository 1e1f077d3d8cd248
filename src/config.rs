//! Accord's configuration: defaults, then a TOML file (unknown keys rejected), then
//! `ACCORD_*` environment variables, then validation. Every default works for a local run.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use accord_protocol::IceServer;
use accord_sfu::{SfuConfig, TcpListen};
use accord_signaling::SignalingConfig;
use accord_signaling::notify::NotifyConfig;
use accord_signaling::turn::TurnConfig;
use serde::Deserialize;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for our schema (unknown keys included).
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: Box<toml::de::Error>,
    },
    /// A value (from the file or the environment) is not acceptable.
    #[error("{key}: {message}")]
    Invalid {
        /// The key, as `section.name` or the environment variable.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

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
    /// Seconds without packets before a participant is asked to restart ICE.
    pub media_timeout_seconds: u64,
    /// Seconds without packets before a participant's seat is given up.
    pub lost_after_seconds: u64,
    /// ICE over TCP for networks that block UDP: "" takes the UDP listen address and port
    /// over TCP, "off" disables it, anything else is the address to listen on.
    pub tcp_listen: String,
}

/// `[auth]`
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Secret that signs join tokens (32+ bytes). Empty: one is generated on first run and
    /// kept in `<data_dir>/token_secret`.
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
            media_timeout_seconds: 4,
            lost_after_seconds: 20,
            tcp_listen: String::new(),
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

fn parse_env<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| invalid(key, e.to_string()))
}

impl Config {
    /// Loads defaults, then `file` (if given, or `./accord.toml` if present), then the
    /// environment `env`, and validates the result. Returns the config and the names of
    /// unknown `ACCORD_*` variables (likely typos) for the caller to warn about.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let from_env = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let path = file
            .map(Path::to_path_buf)
            .or_else(|| from_env("ACCORD_CONFIG").map(PathBuf::from))
            .or_else(|| {
                let default = PathBuf::from("accord.toml");
                default.exists().then_some(default)
            });
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path,
                    source: Box::new(source),
                })?
            }
            None => Config::default(),
        };
        // The conventional name, as hosting platforms set it; ACCORD_DATABASE_URL wins.
        if let Some(url) = from_env("DATABASE_URL") {
            config.database.url = url;
        }
        let mut unknown = Vec::new();
        for (key, value) in &env {
            if !key.starts_with("ACCORD_") {
                continue;
            }
            match key.as_str() {
                "ACCORD_CONFIG" => {}
                "ACCORD_DATA_DIR" => config.data_dir = PathBuf::from(value),
                "ACCORD_HTTP_LISTEN" => config.http.listen = parse_env(key, value)?,
                "ACCORD_MEDIA_LISTEN" => config.media.listen = parse_env(key, value)?,
                "ACCORD_MEDIA_ANNOUNCE" => {
                    config.media.announce = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                "ACCORD_MEDIA_SHARDS" => config.media.shards = parse_env(key, value)?,
                "ACCORD_MEDIA_TIMEOUT_SECONDS" => {
                    config.media.media_timeout_seconds = parse_env(key, value)?;
                }
                "ACCORD_MEDIA_LOST_AFTER_SECONDS" => {
                    config.media.lost_after_seconds = parse_env(key, value)?;
                }
                "ACCORD_MEDIA_TCP_LISTEN" => config.media.tcp_listen = value.clone(),
                "ACCORD_AUTH_TOKEN_SECRET" => config.auth.token_secret = value.clone(),
                "ACCORD_AUTH_API_KEY" => config.auth.api_key = value.clone(),
                "ACCORD_HTTP_PUBLIC_URL" => config.http.public_url = value.clone(),
                "ACCORD_HTTP_TRUST_FORWARDED_FOR" => {
                    config.http.trust_forwarded_for = parse_env(key, value)?;
                }
                "ACCORD_NOTIFY_GATEWAY_URL" => config.notify.gateway_url = value.clone(),
                "ACCORD_NOTIFY_GATEWAY_TOKEN" => config.notify.gateway_token = value.clone(),
                "ACCORD_TURN_URLS" => {
                    config.turn.urls = value
                        .split(',')
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                "ACCORD_TURN_SHARED_SECRET" => config.turn.shared_secret = value.clone(),
                "ACCORD_TURN_TTL_SECONDS" => config.turn.ttl_seconds = parse_env(key, value)?,
                "ACCORD_SIGNALING_MAX_PARTICIPANTS" => {
                    config.signaling.max_participants = parse_env(key, value)?;
                }
                "ACCORD_SIGNALING_RESUME_GRACE_SECONDS" => {
                    config.signaling.resume_grace_seconds = parse_env(key, value)?;
                }
                "ACCORD_SIGNALING_MAX_EVIDENCE_MIB" => {
                    config.signaling.max_evidence_mib = parse_env(key, value)?;
                }
                "ACCORD_SIGNALING_CHAT_PER_SECOND" => {
                    config.signaling.chat_per_second = parse_env(key, value)?;
                }
                "ACCORD_SIGNALING_CHAT_PER_MINUTE" => {
                    config.signaling.chat_per_minute = parse_env(key, value)?;
                }
                "ACCORD_SIGNALING_EVIDENCE_PER_SESSION" => {
                    config.signaling.evidence_per_session = parse_env(key, value)?;
                }
                "ACCORD_SIGNALING_EVIDENCE_SESSION_MIB" => {
                    config.signaling.evidence_session_mib = parse_env(key, value)?;
                }
                "ACCORD_DATABASE_URL" => config.database.url = value.clone(),
                "ACCORD_LOG_LEVEL" => config.log.level = value.clone(),
                "ACCORD_LOG_FORMAT" => {
                    config.log.format = match value.trim() {
                        "pretty" => LogFormat::Pretty,
                        "json" => LogFormat::Json,
                        _ => return Err(invalid(key, "pretty or json")),
                    };
                }
                _ => unknown.push(key.clone()),
            }
        }
        config.validate()?;
        Ok((config, unknown))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(2..=100).contains(&self.signaling.max_participants) {
            return Err(invalid("signaling.max_participants", "2–100"));
        }
        if !(1..=100).contains(&self.signaling.max_evidence_mib) {
            return Err(invalid("signaling.max_evidence_mib", "1–100"));
        }
        if !(1..=10_000).contains(&self.signaling.chat_per_second) {
            return Err(invalid("signaling.chat_per_second", "1–10000"));
        }
        if !(1..=100_000).contains(&self.signaling.chat_per_minute) {
            return Err(invalid("signaling.chat_per_minute", "1–100000"));
        }
        if !(1..=10_000).contains(&self.signaling.evidence_per_session) {
            return Err(invalid("signaling.evidence_per_session", "1–10000"));
        }
        if !(1..=100_000).contains(&self.signaling.evidence_session_mib) {
            return Err(invalid("signaling.evidence_session_mib", "1–100000"));
        }
        if !(1..=300).contains(&self.media.media_timeout_seconds) {
            return Err(invalid("media.media_timeout_seconds", "1–300"));
        }
        if !(self.media.media_timeout_seconds..=600).contains(&self.media.lost_after_seconds) {
            return Err(invalid(
                "media.lost_after_seconds",
                "from media.media_timeout_seconds to 600",
            ));
        }
        self.tcp_listen()?;
        if !self.auth.token_secret.is_empty() && self.auth.token_secret.len() < 32 {
            return Err(invalid(
                "auth.token_secret",
                "at least 32 characters (or empty to generate one)",
            ));
        }
        if !self.auth.api_key.is_empty() && self.auth.api_key.len() < 16 {
            return Err(invalid("auth.api_key", "at least 16 characters"));
        }
        let is_web_url = |url: &str| url.starts_with("http://") || url.starts_with("https://");
        if !self.http.public_url.is_empty() && !is_web_url(&self.http.public_url) {
            return Err(invalid(
                "http.public_url",
                "http://… or https://… (or empty)",
            ));
        }
        if !self.notify.gateway_url.is_empty() && !is_web_url(&self.notify.gateway_url) {
            return Err(invalid(
                "notify.gateway_url",
                "http://… or https://… (or empty)",
            ));
        }
        if !self.database.url.is_empty()
            && accord_cases::store::Backend::of_url(&self.database.url).is_err()
        {
            return Err(invalid(
                "database.url",
                "sqlite://… or postgres://… (or empty for <data_dir>/accord.db)",
            ));
        }
        self.announce_ips()?;
        Ok(())
    }

    /// Where ICE-TCP listens (see [`MediaConfig::tcp_listen`]).
    pub fn tcp_listen(&self) -> Result<TcpListen, ConfigError> {
        match self.media.tcp_listen.trim() {
            "" => Ok(TcpListen::SamePortAsUdp),
            "off" => Ok(TcpListen::Off),
            addr => addr.parse().map(TcpListen::At).map_err(|_| {
                invalid(
                    "media.tcp_listen",
                    "\"\" (the UDP address over TCP), \"off\", or an address like 0.0.0.0:443",
                )
            }),
        }
    }

    /// The announced addresses, host names resolved.
    pub fn announce_ips(&self) -> Result<Vec<IpAddr>, ConfigError> {
        let mut ips = Vec::new();
        for entry in &self.media.announce {
            if let Ok(ip) = entry.parse::<IpAddr>() {
                ips.push(ip);
                continue;
            }
            let resolved = (entry.as_str(), 0)
                .to_socket_addrs()
                .map_err(|e| invalid("media.announce", format!("{entry}: {e}")))?;
            let before = ips.len();
            ips.extend(resolved.map(|a| a.ip()).filter(IpAddr::is_ipv4));
            if ips.len() == before {
                return Err(invalid(
                    "media.announce",
                    format!("{entry}: no IPv4 address"),
                ));
            }
        }
        Ok(ips)
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("accord.db").display())
        } else {
            self.database.url.clone()
        }
    }

    /// The media server's settings.
    pub fn sfu(&self) -> Result<SfuConfig, ConfigError> {
        Ok(SfuConfig {
            listen: self.media.listen,
            announce: self.announce_ips()?,
            shards: self.media.shards,
            media_timeout: Duration::from_secs(self.media.media_timeout_seconds),
            media_lost_after: Duration::from_secs(self.media.lost_after_seconds),
            tcp: self.tcp_listen()?,
            ..SfuConfig::default()
        })
    }

    /// Signaling's settings.
    pub fn signaling(&self) -> SignalingConfig {
        SignalingConfig {
            api_key: (!self.auth.api_key.is_empty()).then(|| self.auth.api_key.clone()),
            ice_servers: self.signaling.ice_servers.clone(),
            max_participants: self.signaling.max_participants,
            resume_grace: Duration::from_secs(self.signaling.resume_grace_seconds),
            max_evidence_bytes: self.signaling.max_evidence_mib * 1024 * 1024,
            room_limits: accord_signaling::limits::RoomLimits {
                chat_per_second: self.signaling.chat_per_second,
                chat_per_minute: self.signaling.chat_per_minute,
                evidence_per_session: self.signaling.evidence_per_session,
                evidence_bytes_per_session: self.signaling.evidence_session_mib * 1024 * 1024,
                ..Default::default()
            },
            public_url: (!self.http.public_url.is_empty())
                .then(|| self.http.public_url.trim_end_matches('/').to_owned()),
            trust_forwarded_for: self.http.trust_forwarded_for,
            turn: (!self.turn.urls.is_empty() && !self.turn.shared_secret.is_empty()).then(|| {
                TurnConfig {
                    urls: self.turn.urls.clone(),
                    shared_secret: self.turn.shared_secret.clone(),
                    ttl: Duration::from_secs(self.turn.ttl_seconds),
                }
            }),
            notify: if self.notify.gateway_url.is_empty() {
                NotifyConfig::Log
            } else {
                NotifyConfig::Http {
                    url: self.notify.gateway_url.clone(),
                    bearer_token: (!self.notify.gateway_token.is_empty())
                        .then(|| self.notify.gateway_token.clone()),
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::with(text)
    }

    /// A file that removes itself; enough for these tests without another dependency.
    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn with(text: &str) -> Self {
                static NEXT: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path = std::env::temp_dir()
                    .join(format!("accord-config-{}-{n}.toml", std::process::id()));
                std::fs::write(&path, text).expect("temp dir is writable");
                Self(path)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn defaults_run_locally_with_nothing_configured() {
        let (c, unknown) = Config::load(None, Vec::new()).expect("defaults are valid");
        assert_eq!(c.http.listen.port(), 8080);
        assert_eq!(c.media.listen.port(), 40000);
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert!(unknown.is_empty());
        assert!(c.signaling().api_key.is_none());
    }

    #[test]
    fn the_file_then_the_environment_override_defaults() {
        let f = write("[http]\nlisten = \"127.0.0.1:9000\"\n[media]\nshards = 3\n");
        let env = vec![
            ("ACCORD_MEDIA_SHARDS".to_owned(), "1".to_owned()),
            ("ACCORD_TYPO".to_owned(), "x".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ];
        let (c, unknown) = Config::load(Some(&f.0), env).expect("valid");
        assert_eq!(
            c.http.listen,
            "127.0.0.1:9000".parse::<SocketAddr>().expect("addr")
        );
        assert_eq!(c.media.shards, 1);
        assert_eq!(unknown, ["ACCORD_TYPO"]);
    }

    #[test]
    fn turn_is_handed_out_only_with_urls_and_a_secret_from_the_environment() {
        let f = write("[turn]\nurls = [\"turn:127.0.0.1:3478\"]\n");
        let (c, _) = Config::load(Some(&f.0), Vec::new()).expect("valid");
        assert!(c.signaling().turn.is_none(), "no secret, no TURN");
        let env = vec![
            ("ACCORD_TURN_SHARED_SECRET".to_owned(), "s3cret".to_owned()),
            (
                "ACCORD_TURN_URLS".to_owned(),
                "turn:127.0.0.1:3478?transport=udp, turn:127.0.0.1:3478?transport=tcp".to_owned(),
            ),
        ];
        let (c, _) = Config::load(Some(&f.0), env).expect("valid");
        let turn = c.signaling().turn.expect("TURN configured");
        assert_eq!(turn.urls.len(), 2);
        assert_eq!(turn.ttl, Duration::from_secs(6 * 3600));
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        let f = write("[media]\nport = 5\n");
        let err = Config::load(Some(&f.0), Vec::new()).expect_err("unknown key");
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn the_sample_config_in_deploy_is_valid_and_matches_the_defaults() {
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/accord.toml");
        let (c, _) = Config::load(Some(Path::new(sample)), Vec::new()).expect("sample loads");
        assert_eq!(c, Config::default());
    }

    #[test]
    fn bad_values_name_their_key() {
        let env = vec![("ACCORD_HTTP_LISTEN".to_owned(), "nowhere".to_owned())];
        let err = Config::load(None, env).expect_err("bad address");
        assert!(err.to_string().starts_with("ACCORD_HTTP_LISTEN"), "{err}");
        let env = vec![("ACCORD_AUTH_TOKEN_SECRET".to_owned(), "short".to_owned())];
        assert!(Config::load(None, env).is_err());
    }
}
