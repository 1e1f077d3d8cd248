//! Loading: the file over the defaults, then the environment over both.

use std::path::{Path, PathBuf};

use super::{BlobBackend, Config, ConfigError, LogFormat, invalid};

pub(super) fn parse_env<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError>
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
                "ACCORD_MEDIA_SHARD_FILL" => config.media.shard_fill = parse_env(key, value)?,
                "ACCORD_MEDIA_TIMEOUT_SECONDS" => {
                    config.media.media_timeout_seconds = parse_env(key, value)?;
                }
                "ACCORD_MEDIA_LOST_AFTER_SECONDS" => {
                    config.media.lost_after_seconds = parse_env(key, value)?;
                }
                "ACCORD_MEDIA_TCP_LISTEN" => config.media.tcp_listen = value.clone(),
                "ACCORD_MEDIA_UDP_SEGMENTATION" => {
                    config.media.udp_segmentation = parse_env(key, value)?;
                }
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
                "ACCORD_BLOBS_BACKEND" => {
                    config.blobs.backend = match value.trim() {
                        "local" => BlobBackend::Local,
                        "s3" => BlobBackend::S3,
                        _ => return Err(invalid(key, "local or s3")),
                    };
                }
                "ACCORD_BLOBS_DIR" => config.blobs.dir = PathBuf::from(value),
                "ACCORD_BLOBS_S3_BUCKET" => config.blobs.s3.bucket = value.clone(),
                "ACCORD_BLOBS_S3_ENDPOINT" => config.blobs.s3.endpoint = value.clone(),
                "ACCORD_BLOBS_S3_REGION" => config.blobs.s3.region = value.clone(),
                "ACCORD_BLOBS_S3_PREFIX" => config.blobs.s3.prefix = value.clone(),
                "ACCORD_BLOBS_S3_ALLOW_HTTP" => {
                    config.blobs.s3.allow_http = parse_env(key, value)?;
                }
                "ACCORD_S3_ACCESS_KEY_ID" => config.blobs.s3.access_key_id = value.clone(),
                "ACCORD_S3_SECRET_ACCESS_KEY" => {
                    config.blobs.s3.secret_access_key = value.clone();
                }
                "ACCORD_RECORDING_DIR" => config.recording.dir = PathBuf::from(value),
                "ACCORD_RECORDING_NOTICE_MS" => {
                    config.recording.notice_ms = parse_env(key, value)?;
                }
                "ACCORD_RECORDING_MIN_FREE_MIB" => {
                    config.recording.min_free_mib = parse_env(key, value)?;
                }
                "ACCORD_AGREEMENT_FONT" => config.agreements.font_path = PathBuf::from(value),
                "ACCORD_AGREEMENT_FONT_INDEX" => {
                    config.agreements.font_index = Some(parse_env(key, value)?);
                }
                "ACCORD_LOG_LEVEL" => config.log.level = value.clone(),
                "ACCORD_LOG_FORMAT" => {
                    config.log.format = match value.trim() {
                        "pretty" => LogFormat::Pretty,
                        "json" => LogFormat::Json,
                        _ => return Err(invalid(key, "pretty or json")),
                    };
                }
                _ if config.confirmation_env(key, value)? => {}
                _ if config.cluster_env(key, value)? => {}
                _ => unknown.push(key.clone()),
            }
        }
        config.validate()?;
        Ok((config, unknown))
    }
}
