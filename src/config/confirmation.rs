//! `[confirmation]`: the 30-day window's sweep, the outbound connector's retries, and the
//! court systems packages are delivered to (`[[confirmation.courts]]`). A court's HMAC secret
//! is best kept in a file of its own (`hmac_secret_file`, read once at start, readable by
//! Accord's user only); `hmac_secret` in this file, or the environment variable
//! `ACCORD_CONFIRMATION_COURT_<N>_HMAC_SECRET` (N = the court's position in the file, from
//! 1), also work.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use accord_signaling::confirmation::config::{
    ConfirmationConfig, CourtEndpoint, ed25519_public_key,
};

use super::{Config, ConfigError, invalid};

/// `[confirmation]`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConfirmationSection {
    /// Seconds between sweeps of the application window (7- and 2-day warnings).
    pub window_sweep_seconds: u64,
    /// The first retry's delay in ms; each later one doubles, up to an hour, ±20 %.
    pub retry_base_ms: u64,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// How long a node holds a delivery it claimed before another may take it over.
    pub lease_ms: u64,
    /// How often the connector looks for due deliveries when idle.
    pub poll_ms: u64,
    /// The court systems.
    pub courts: Vec<CourtSection>,
}

impl Default for ConfirmationSection {
    fn default() -> Self {
        let edge = ConfirmationConfig::default();
        Self {
            window_sweep_seconds: edge.window_sweep.as_secs(),
            retry_base_ms: edge.retry_base_ms,
            max_attempts: edge.max_attempts,
            lease_ms: edge.lease_ms,
            poll_ms: edge.poll_ms,
            courts: Vec::new(),
        }
    }
}

/// `[[confirmation.courts]]`
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CourtSection {
    /// The court's full name, exactly as court users' accounts and requests carry it.
    pub name: String,
    /// `https://…` where packages are POSTed; empty: none (the court uses the inbox only).
    pub endpoint: String,
    /// A file holding the shared HMAC secret (surrounding whitespace ignored).
    pub hmac_secret_file: PathBuf,
    /// The shared secret itself (discouraged: config files are copied around).
    pub hmac_secret: String,
    /// The court's Ed25519 public key, base64 of 32 bytes, for callbacks it signs.
    pub public_key: String,
}

/// Secrets shorter than this are refused: they could be guessed from one signed callback.
const MIN_SECRET_BYTES: usize = 16;

impl Config {
    /// Applies `ACCORD_CONFIRMATION_*`; `false` when `key` is not one of them.
    pub(super) fn confirmation_env(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let section = &mut self.confirmation;
        match key {
            "ACCORD_CONFIRMATION_WINDOW_SWEEP_SECONDS" => {
                section.window_sweep_seconds = super::load::parse_env(key, value)?;
            }
            "ACCORD_CONFIRMATION_RETRY_BASE_MS" => {
                section.retry_base_ms = super::load::parse_env(key, value)?;
            }
            "ACCORD_CONFIRMATION_MAX_ATTEMPTS" => {
                section.max_attempts = super::load::parse_env(key, value)?;
            }
            "ACCORD_CONFIRMATION_LEASE_MS" => {
                section.lease_ms = super::load::parse_env(key, value)?
            }
            "ACCORD_CONFIRMATION_POLL_MS" => section.poll_ms = super::load::parse_env(key, value)?,
            _ => {
                let Some(n) = key
                    .strip_prefix("ACCORD_CONFIRMATION_COURT_")
                    .and_then(|rest| rest.strip_suffix("_HMAC_SECRET"))
                else {
                    return Ok(false);
                };
                let court = n
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| section.courts.get_mut(i))
                    .ok_or_else(|| {
                        invalid(
                            key,
                            "N must be a court's position in [[confirmation.courts]], from 1",
                        )
                    })?;
                court.hmac_secret = value.trim().to_owned();
            }
        }
        Ok(true)
    }

    pub(super) fn validate_confirmation(&self) -> Result<(), ConfigError> {
        let section = &self.confirmation;
        if !(10..=86_400).contains(&section.window_sweep_seconds) {
            return Err(invalid("confirmation.window_sweep_seconds", "10–86400"));
        }
        if !(100..=3_600_000).contains(&section.retry_base_ms) {
            return Err(invalid("confirmation.retry_base_ms", "100–3600000"));
        }
        if !(1..=1000).contains(&section.max_attempts) {
            return Err(invalid("confirmation.max_attempts", "1–1000"));
        }
        // An attempt is cut off 5 s before its lease ends (and at 120 s), so no other node takes
        // a delivery over while it is still being sent.
        if !(10_000..=3_600_000).contains(&section.lease_ms) {
            return Err(invalid("confirmation.lease_ms", "10000–3600000"));
        }
        if !(50..=60_000).contains(&section.poll_ms) {
            return Err(invalid("confirmation.poll_ms", "50–60000"));
        }
        let mut names = std::collections::HashSet::new();
        for court in &section.courts {
            let name = court.name.trim();
            if name.chars().count() < 2 || name.chars().count() > 80 {
                return Err(invalid(
                    "confirmation.courts.name",
                    "the court's full name, 2–80 characters",
                ));
            }
            if !names.insert(name) {
                return Err(invalid(
                    "confirmation.courts.name",
                    format!("{name} is listed twice"),
                ));
            }
            let endpoint = court.endpoint.trim();
            let web_url = endpoint.starts_with("https://") || endpoint.starts_with("http://");
            if !endpoint.is_empty() && !web_url {
                return Err(invalid(
                    "confirmation.courts.endpoint",
                    format!("{name}: an http(s):// URL"),
                ));
            }
            let has_file = !court.hmac_secret_file.as_os_str().is_empty();
            if has_file && !court.hmac_secret.is_empty() {
                return Err(invalid(
                    "confirmation.courts.hmac_secret",
                    format!("{name}: give hmac_secret_file or hmac_secret, not both"),
                ));
            }
            if has_file && !court.hmac_secret_file.is_file() {
                return Err(invalid(
                    "confirmation.courts.hmac_secret_file",
                    format!(
                        "{name}: {} is not a readable file",
                        court.hmac_secret_file.display()
                    ),
                ));
            }
            if !court.hmac_secret.is_empty() && court.hmac_secret.trim().len() < MIN_SECRET_BYTES {
                return Err(invalid(
                    "confirmation.courts.hmac_secret",
                    format!("{name}: at least {MIN_SECRET_BYTES} bytes"),
                ));
            }
            if !court.public_key.is_empty() && ed25519_public_key(&court.public_key).is_none() {
                return Err(invalid(
                    "confirmation.courts.public_key",
                    format!("{name}: base64 of a 32-byte Ed25519 public key"),
                ));
            }
            // Delivering without a secret would let anyone who learns the endpoint's address
            // pose as Accord; the court could not check who sent a package.
            if !endpoint.is_empty() && court.hmac_secret.is_empty() && !has_file {
                return Err(invalid(
                    "confirmation.courts.hmac_secret",
                    format!(
                        "{name}: a court with an endpoint needs a shared secret (hmac_secret_file)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The edge's confirmation settings, reading each court's secret file. A secret file
    /// others may read is used, with a warning.
    pub fn confirmation(&self) -> Result<ConfirmationConfig, ConfigError> {
        let section = &self.confirmation;
        let mut courts = Vec::with_capacity(section.courts.len());
        for court in &section.courts {
            let name = court.name.trim().to_owned();
            let secret = if court.hmac_secret_file.as_os_str().is_empty() {
                court.hmac_secret.trim().to_owned()
            } else {
                read_secret_file(&name, &court.hmac_secret_file)?
            };
            let endpoint = court.endpoint.trim();
            courts.push(CourtEndpoint {
                name,
                endpoint: (!endpoint.is_empty()).then(|| endpoint.to_owned()),
                hmac_secret: (!secret.is_empty()).then(|| secret.into_bytes()),
                public_key: (!court.public_key.is_empty())
                    .then(|| court.public_key.trim().to_owned()),
            });
        }
        Ok(ConfirmationConfig {
            window_sweep: Duration::from_secs(section.window_sweep_seconds),
            retry_base_ms: section.retry_base_ms,
            max_attempts: section.max_attempts,
            lease_ms: section.lease_ms,
            poll_ms: section.poll_ms,
            courts,
        })
    }
}

fn read_secret_file(court: &str, path: &std::path::Path) -> Result<String, ConfigError> {
    let key = "confirmation.courts.hmac_secret_file";
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(key, format!("{court}: cannot read {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o004 != 0
        {
            tracing::warn!(
                court,
                file = %path.display(),
                "a court's HMAC secret file is readable by every user of this machine; chmod 600 it"
            );
        }
    }
    let secret = text.trim().to_owned();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(invalid(
            key,
            format!("{court}: the secret needs at least {MIN_SECRET_BYTES} bytes"),
        ));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file under the temp dir that removes itself.
    struct Temp(PathBuf);
    impl Temp {
        fn with(name: &str, text: &str) -> Self {
            let path = std::env::temp_dir()
                .join(format!("accord-confirmation-{}-{name}", std::process::id()));
            std::fs::write(&path, text).expect("temp dir is writable");
            Self(path)
        }
    }
    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_the_documented_ones_and_no_court_is_configured() {
        let (c, _) = Config::load(None, Vec::new()).expect("defaults");
        let edge = c.confirmation().expect("no files to read");
        assert_eq!(edge.window_sweep, Duration::from_secs(3600));
        assert_eq!((edge.retry_base_ms, edge.max_attempts), (10_000, 30));
        assert_eq!((edge.lease_ms, edge.poll_ms), (60_000, 1000));
        assert!(edge.courts.is_empty());
    }

    #[test]
    fn a_court_reads_its_secret_from_a_file_and_env_overrides_the_numbers() {
        let secret = Temp::with("secret", "  a-shared-secret-of-32-bytes-0123\n");
        let file = Temp::with(
            "file.toml",
            &format!(
                "[confirmation]\nretry_base_ms = 500\n\n[[confirmation.courts]]\nname = \"深圳市宝安区人民法院\"\nendpoint = \"https://court.example.cn/accord?k=1\"\nhmac_secret_file = \"{}\"\n\n[[confirmation.courts]]\nname = \"另一法院\"\npublic_key = \"{}\"\n",
                secret.0.display(),
                "A".repeat(43) + "="
            ),
        );
        let (c, unknown) = Config::load(
            Some(&file.0),
            env(&[
                ("ACCORD_CONFIRMATION_MAX_ATTEMPTS", "5"),
                (
                    "ACCORD_CONFIRMATION_COURT_2_HMAC_SECRET",
                    "second-court-secret-0123456789",
                ),
            ]),
        )
        .expect("valid");
        assert!(unknown.is_empty(), "{unknown:?}");
        let edge = c.confirmation().expect("the secret file is readable");
        assert_eq!((edge.retry_base_ms, edge.max_attempts), (500, 5));
        let first = edge.court("深圳市宝安区人民法院").expect("configured");
        assert_eq!(
            first.hmac_secret.as_deref(),
            Some(&b"a-shared-secret-of-32-bytes-0123"[..])
        );
        assert_eq!(first.endpoint_for_logs(), "https://court.example.cn/accord");
        let second = edge.court("另一法院").expect("configured");
        assert_eq!(
            second.hmac_secret.as_deref(),
            Some(&b"second-court-secret-0123456789"[..])
        );
        assert!(second.endpoint.is_none());
        assert!(edge.court("没有的法院").is_none());
    }

    #[test]
    fn bad_courts_are_refused_naming_the_key() {
        let cases = [
            (
                "[[confirmation.courts]]\nname = \"某法院\"\nendpoint = \"ftp://x\"\nhmac_secret = \"0123456789abcdef0\"\n",
                "confirmation.courts.endpoint",
            ),
            (
                "[[confirmation.courts]]\nname = \"某法院\"\nendpoint = \"https://x\"\n",
                "confirmation.courts.hmac_secret",
            ),
            (
                "[[confirmation.courts]]\nname = \"某法院\"\nhmac_secret = \"short\"\n",
                "confirmation.courts.hmac_secret",
            ),
            (
                "[[confirmation.courts]]\nname = \"某法院\"\npublic_key = \"not a key\"\n",
                "confirmation.courts.public_key",
            ),
            (
                "[[confirmation.courts]]\nname = \"某法院\"\n[[confirmation.courts]]\nname = \"某法院\"\n",
                "confirmation.courts.name",
            ),
            (
                "[[confirmation.courts]]\nname = \"某法院\"\nhmac_secret_file = \"/nonexistent/secret\"\n",
                "confirmation.courts.hmac_secret_file",
            ),
            (
                "[confirmation]\nmax_attempts = 0\n",
                "confirmation.max_attempts",
            ),
            ("[confirmation]\nsurprise = 1\n", "unknown field"),
        ];
        for (n, (text, key)) in cases.iter().enumerate() {
            let file = Temp::with(&format!("bad-{n}.toml"), text);
            let err = Config::load(Some(&file.0), Vec::new()).expect_err(text);
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
        let err = Config::load(
            None,
            env(&[("ACCORD_CONFIRMATION_COURT_1_HMAC_SECRET", "x")]),
        )
        .expect_err("no court 1");
        assert!(
            err.to_string()
                .contains("ACCORD_CONFIRMATION_COURT_1_HMAC_SECRET"),
            "{err}"
        );
    }
}
