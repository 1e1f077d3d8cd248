//! Validation: every value with a range or a shape is checked once, at load, and a bad one
//! is named by its key.

use std::net::{IpAddr, ToSocketAddrs};

use accord_sfu::TcpListen;

use super::{BlobBackend, Config, ConfigError, invalid};

impl Config {
    /// Checks every value that has a range or a shape; the first bad one is named.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
        // A notice people cannot read and hear out is no notice; a minute is plenty. Tests
        // shorten it.
        if self.recording.notice_ms > 60_000 {
            return Err(invalid("recording.notice_ms", "0–60000"));
        }
        if !(160..=7680).contains(&self.recording.video_width)
            || !(90..=4320).contains(&self.recording.video_height)
        {
            return Err(invalid(
                "recording.video_width",
                "160–7680 by 90–4320 (recording.video_height)",
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
        self.validate_blobs()?;
        self.validate_agreements()?;
        self.validate_confirmation()?;
        self.validate_cluster()?;
        Ok(())
    }

    /// `[blobs]`: an S3 backend needs a bucket, a web endpoint (plain HTTP only when
    /// allowed) and a prefix of plain path segments.
    fn validate_blobs(&self) -> Result<(), ConfigError> {
        let s3 = &self.blobs.s3;
        if self.blobs.backend != BlobBackend::S3 {
            return Ok(());
        }
        if s3.bucket.trim().is_empty() {
            return Err(invalid(
                "blobs.s3.bucket",
                "the bucket's name (backend is s3)",
            ));
        }
        let endpoint = s3.endpoint.trim();
        if !endpoint.is_empty() && !endpoint.starts_with("https://") {
            if !endpoint.starts_with("http://") {
                return Err(invalid(
                    "blobs.s3.endpoint",
                    "http://… or https://… (or empty for AWS)",
                ));
            }
            if !s3.allow_http {
                return Err(invalid(
                    "blobs.s3.endpoint",
                    "http:// sends data unencrypted; set blobs.s3.allow_http = true to allow it",
                ));
            }
        }
        let plain_segment = |segment: &str| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        let prefix = s3.prefix.trim_matches('/');
        if !prefix.is_empty() && !prefix.split('/').all(plain_segment) {
            return Err(invalid(
                "blobs.s3.prefix",
                "path segments of letters, digits, '-', '_' and '.' (accord/prod)",
            ));
        }
        if s3.access_key_id.is_empty() != s3.secret_access_key.is_empty() {
            return Err(invalid(
                "blobs.s3.secret_access_key",
                "both ACCORD_S3_ACCESS_KEY_ID and ACCORD_S3_SECRET_ACCESS_KEY, or neither",
            ));
        }
        Ok(())
    }

    /// Where ICE-TCP listens (see `MediaConfig::tcp_listen`).
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
}
