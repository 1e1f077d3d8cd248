//! Accord's configuration: defaults, then a TOML file (unknown keys rejected), then
//! `ACCORD_*` environment variables, then validation. Every default works for a local run.
//!
//! [`Config`] is one struct of per-subsystem sections (`[http]`, `[media]`, `[auth]`,
//! `[notify]`, `[turn]`, `[signaling]`, `[database]`, `[blobs]`, `[cluster]`, `[keys]`, `[log]`), each with its
//! defaults beside it (`sections`). [`Config::load`] layers the file and the environment over the defaults
//! (`load`), then checks every value that has a range or a shape (`validate`), so the service
//! refuses to start on a bad value rather than misbehaving later. Errors name the key
//! (`section.name`, or the environment variable) that is wrong. The crates are handed their
//! own settings, derived here: [`Config::sfu`], [`Config::signaling`], [`Config::database_url`],
//! [`Config::blob_store`].

mod agreements;
mod cluster;
mod confirmation;
mod load;
mod recording;
mod sections;
mod validate;

use std::path::PathBuf;
use std::time::Duration;

use accord_cases::blobs::{BlobStoreConfig, S3Config};
use accord_cases::notify::NotifyConfig;
use accord_sfu::{SfuConfig, TurnConfig};
use accord_signaling::SignalingConfig;

pub use cluster::{ClusterSection, KeysSection};
pub use confirmation::{ConfirmationSection, CourtSection};
pub use sections::{
    AgreementsSection, AuthConfig, BlobBackend, BlobsSection, Config, DatabaseConfig, HttpConfig,
    LogConfig, LogFormat, MediaConfig, NotifySection, SignalingSection, TurnSection,
};

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

impl Config {
    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("accord.db").display())
        } else {
            self.database.url.clone()
        }
    }

    /// Where blobs are kept: hand it to `accord_signaling::storage::open_store`.
    pub fn blob_store(&self) -> BlobStoreConfig {
        match self.blobs.backend {
            BlobBackend::Local if self.blobs.dir.as_os_str().is_empty() => BlobStoreConfig::Local {
                dir: self.data_dir.join("blobs"),
            },
            BlobBackend::Local => BlobStoreConfig::Local {
                dir: self.blobs.dir.clone(),
            },
            BlobBackend::S3 => {
                let s3 = &self.blobs.s3;
                BlobStoreConfig::S3(S3Config {
                    bucket: s3.bucket.trim().to_owned(),
                    endpoint: s3.endpoint.trim().to_owned(),
                    region: s3.region.trim().to_owned(),
                    prefix: s3.prefix.trim_matches('/').to_owned(),
                    ..s3.clone()
                })
            }
        }
    }

    /// The media server's settings.
    pub fn sfu(&self) -> Result<SfuConfig, ConfigError> {
        Ok(SfuConfig {
            listen: self.media.listen,
            announce: self.announce_ips()?,
            shards: self.media.shards,
            shard_fill: self.media.shard_fill,
            media_timeout: Duration::from_secs(self.media.media_timeout_seconds),
            media_lost_after: Duration::from_secs(self.media.lost_after_seconds),
            tcp: self.tcp_listen()?,
            udp_segmentation: self.media.udp_segmentation,
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
            agreement_font: self.agreement_font(),
            // The courts' secrets are read from their files by `Config::confirmation`, which
            // `serve` calls: reading a file can fail, and this cannot.
            confirmation: Default::default(),
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
mod tests;
