//! The confirmation settings the edge runs with: how often the window warnings are swept,
//! how the outbound connector retries, and the court systems Accord delivers packages to and
//! takes signed callbacks from. Loaded by the binary from `[confirmation]`.

use std::time::Duration;

/// `[confirmation]` as the edge uses it.
#[derive(Clone, Debug)]
pub struct ConfirmationConfig {
    /// How often the 30-day window is swept for 7- and 2-day warnings.
    pub window_sweep: Duration,
    /// The first retry's delay; each later one doubles, capped at [`MAX_RETRY_DELAY_MS`].
    pub retry_base_ms: u64,
    /// Attempts before a delivery is given up and shown as such on the case page.
    pub max_attempts: u32,
    /// How long a node holds a claimed delivery before another node may take it over.
    pub lease_ms: u64,
    /// How long the connector sleeps when no delivery is due.
    pub poll_ms: u64,
    /// The court systems with an endpoint or callback keys.
    pub courts: Vec<CourtEndpoint>,
}

/// The longest wait between two delivery attempts.
pub const MAX_RETRY_DELAY_MS: u64 = 60 * 60 * 1000;

impl Default for ConfirmationConfig {
    fn default() -> Self {
        Self {
            window_sweep: Duration::from_secs(3600),
            retry_base_ms: 10_000,
            max_attempts: 30,
            lease_ms: 60_000,
            poll_ms: 1000,
            courts: Vec::new(),
        }
    }
}

impl ConfirmationConfig {
    /// The configured system of the court named `name` (the court's full name, as requests
    /// carry it).
    pub fn court(&self, name: &str) -> Option<&CourtEndpoint> {
        self.courts.iter().find(|c| c.name == name)
    }
}

/// One court's system. `Debug` never shows the secret, and shows the endpoint without its
/// query string (which may carry a key of the court's).
#[derive(Clone)]
pub struct CourtEndpoint {
    /// The court's name, exactly as requests name it.
    pub name: String,
    /// Where packages are POSTed; `None`: the court only uses the inbox inside Accord (it
    /// may still call back, when it has a key).
    pub endpoint: Option<String>,
    /// The shared secret of HMAC-SHA256 signatures, both ways.
    pub hmac_secret: Option<Vec<u8>>,
    /// The court's Ed25519 public key (base64 of 32 bytes), for callbacks it signs.
    pub public_key: Option<String>,
}

impl CourtEndpoint {
    /// The endpoint as logs may show it: scheme, host and path, never the query.
    pub fn endpoint_for_logs(&self) -> String {
        self.endpoint.as_deref().map(redact_url).unwrap_or_default()
    }
}

impl std::fmt::Debug for CourtEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CourtEndpoint")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint_for_logs())
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "<secret>"),
            )
            .field("public_key", &self.public_key)
            .finish()
    }
}

/// `url` without its query, fragment or credentials: what a log line may carry.
pub fn redact_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit('@').next().unwrap_or_default();
            if path.is_empty() {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => without_query.to_owned(),
    }
}

/// The 32 bytes of an Ed25519 public key given as base64, or `None` if it is not one.
pub fn ed25519_public_key(b64: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_see_no_query_and_no_credentials() {
        assert_eq!(
            redact_url("https://user:pw@court.example.cn/accord/in?key=abc#x"),
            "https://court.example.cn/accord/in"
        );
        assert_eq!(redact_url("http://h:8080"), "http://h:8080");
        let court = CourtEndpoint {
            name: "某某区人民法院".into(),
            endpoint: Some("https://c.example/in?token=s3cret".into()),
            hmac_secret: Some(b"s3cret-hmac".to_vec()),
            public_key: None,
        };
        let shown = format!("{court:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
