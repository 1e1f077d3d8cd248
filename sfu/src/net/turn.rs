//! Time-limited TURN credentials in coturn's REST scheme (`use-auth-secret`): the username is
//! `<expiry>:<identity>` and the password the Base64 HMAC-SHA1 of the username under the
//! secret shared with the TURN server. Nothing is stored; the TURN server checks the
//! signature and the expiry itself, so a leaked credential stops working on its own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

/// An ICE server for the client's `RTCPeerConnection`, as the join hands it out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:` / `turn:` URLs.
    pub urls: Vec<String>,
    /// TURN username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// A TURN server to hand out credentials for.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnConfig {
    /// `turn:` / `turns:` URLs (`turn:turn.example.cn:3478?transport=udp`, …).
    pub urls: Vec<String>,
    /// The secret shared with the TURN server (coturn `static-auth-secret`).
    pub shared_secret: String,
    /// How long a credential stays valid.
    pub ttl: Duration,
}

impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnConfig")
            .field("urls", &self.urls)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TurnConfig {
    /// A credential for `identity` valid from `now` for the configured time.
    pub fn credential(&self, identity: &str, now: SystemTime) -> IceServer {
        let expiry = now
            .checked_add(self.ttl)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        // A colon would end the expiry field early on the TURN server's side.
        let identity: String = identity.chars().filter(|c| *c != ':').collect();
        let username = format!("{expiry}:{identity}");
        IceServer {
            urls: self.urls.clone(),
            credential: Some(sign(&self.shared_secret, &username)),
            username: Some(username),
        }
    }
}

fn sign(secret: &str, username: &str) -> String {
    // HMAC takes keys of any length; the error branch cannot happen.
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The ICE servers for one join: the configured ones, and a fresh TURN credential.
pub fn ice_servers_for(
    configured: &[IceServer],
    turn: Option<&TurnConfig>,
    identity: &str,
) -> Vec<IceServer> {
    let mut servers = configured.to_vec();
    if let Some(turn) = turn.filter(|t| !t.urls.is_empty()) {
        servers.push(turn.credential(identity, SystemTime::now()));
    }
    servers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_the_coturn_rest_scheme() {
        let turn = TurnConfig {
            urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
            shared_secret: "north-wind".into(),
            ttl: Duration::from_secs(3600),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_767_222_000);
        let server = turn.credential("PT_a:bc", now);
        // 1_767_222_000 + 3600, and the identity without its colon; the password was computed
        // independently (Python's hmac with SHA-1).
        assert_eq!(server.username.as_deref(), Some("1767225600:PT_abc"));
        assert_eq!(
            server.credential.as_deref(),
            Some("I2Edf4jzd1SHFXCfKvoqU7rw8cE=")
        );
        let all = ice_servers_for(&[], Some(&turn), "x");
        assert_eq!(all.len(), 1);
        assert!(format!("{turn:?}").contains("ttl") && !format!("{turn:?}").contains("north"));
    }
}
