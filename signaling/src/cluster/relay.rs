//! Requests one node passes to another: a participant's WebSocket or WHIP/WHEP request that
//! reached a node which does not own its session is sent on, server-side, to the owner's
//! `internal_url` ([`crate::session`] relays the socket, [`crate::whip`] the HTTP request).
//!
//! The owner must tell a request relayed by a node of its cluster from one a client sent
//! with made-up headers: a relayed request is served without placing it again (so a relay
//! never loops) and carries the client's address for the owner's logs. Each relayed request
//! therefore carries the relaying node's id, the time, the client's address, the node the
//! session moved from (if placement just took it over) and an HMAC-SHA256 over them, the
//! method and the path, keyed by the cluster secret. That secret is derived from the token
//! secret every node already shares (the keys folder): HMAC-SHA256(token secret,
//! `accord cluster relay v1`), so there is no other key to distribute or rotate; rotating the
//! token secret rotates it too.
//!
//! A signature that does not verify, or a time more than [`MAX_SKEW`] away from this node's
//! clock, makes the headers count for nothing: the request is an ordinary client's.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use accord_cases::tokens::{TokenKeys, constant_time_eq};
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The relaying node's id.
pub const NODE_HEADER: &str = "x-accord-relay-node";
/// When it relayed (Unix seconds, its clock).
pub const AT_HEADER: &str = "x-accord-relay-at";
/// The client's address as the relaying node saw it (empty when it did not know).
pub const CLIENT_HEADER: &str = "x-accord-relay-client";
/// The dead node the session was just taken over from (empty when none).
pub const MOVED_FROM_HEADER: &str = "x-accord-relay-moved-from";
/// Hex HMAC-SHA256 over the fields above, the method and the path.
pub const SIGNATURE_HEADER: &str = "x-accord-relay-signature";

/// How far a relayed request's time may be from the owner's clock: nodes run NTP, so this
/// only needs to cover a slow hop, while a captured request stops working soon after.
pub const MAX_SKEW: Duration = Duration::from_secs(60);

/// How long a node tries to reach the owner before the client is told to try again: an
/// owner that died keeps its placement until its lease runs out, and its port may drop
/// packets rather than refuse.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// What a client that reached a node whose owner could not be reached is told to wait
/// before joining again: long enough for a dead owner's lease to be nearer its end.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// The label the cluster secret is derived under; a new version of the scheme takes a new
/// label, so old and new signatures never verify for each other.
const LABEL: &str = "accord cluster relay v1";

/// A relay that verified: which node sent it, and what it said of the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relayed {
    /// The relaying node.
    pub node: String,
    /// The client's address as the relaying node saw it.
    pub client: Option<IpAddr>,
    /// The node the session was just taken over from, for the failover to rebuild it.
    pub moved_from: Option<String>,
}

/// The headers that say a request is relayed by node `node` for `client`, signed for
/// `method` and `path` (with its query) at `now_s` (Unix seconds).
pub fn signed_headers(
    keys: &TokenKeys,
    node: &str,
    client: Option<IpAddr>,
    moved_from: Option<&str>,
    method: &str,
    path: &str,
    now_s: u64,
) -> Vec<(&'static str, String)> {
    let at = now_s.to_string();
    let client = client.map(|ip| ip.to_string()).unwrap_or_default();
    let moved_from = moved_from.unwrap_or_default();
    let signature = hex::encode(mac(keys, method, path, node, &at, &client, moved_from));
    vec![
        (NODE_HEADER, node.to_owned()),
        (AT_HEADER, at),
        (CLIENT_HEADER, client),
        (MOVED_FROM_HEADER, moved_from.to_owned()),
        (SIGNATURE_HEADER, signature),
    ]
}

/// The relay a request's headers describe, if they are signed with the cluster secret for
/// this `method` and `path` within [`MAX_SKEW`] of `now_s`; `None` for a request with no
/// relay headers or headers that do not verify (the caller serves it as a client's).
pub fn verify(
    keys: &TokenKeys,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    now_s: u64,
) -> Option<Relayed> {
    let field = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = field(SIGNATURE_HEADER)?;
    let node = field(NODE_HEADER)?;
    let at = field(AT_HEADER)?;
    let client = field(CLIENT_HEADER).unwrap_or_default();
    let moved_from = field(MOVED_FROM_HEADER).unwrap_or_default();
    let expected = hex::encode(mac(keys, method, path, node, at, client, moved_from));
    if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        tracing::warn!("a request carried relay headers that do not verify; served as a client's");
        return None;
    }
    let sent: u64 = at.parse().ok()?;
    if sent.abs_diff(now_s) > MAX_SKEW.as_secs() {
        tracing::warn!(
            skew_s = sent.abs_diff(now_s),
            "a relayed request is too old or from a clock too far off; served as a client's"
        );
        return None;
    }
    if !super::valid_node_id(node) {
        return None;
    }
    Some(Relayed {
        node: node.to_owned(),
        client: client.parse().ok(),
        moved_from: Some(moved_from)
            .filter(|m| super::valid_node_id(m))
            .map(str::to_owned),
    })
}

/// Unix seconds now, as relays are stamped and checked.
pub fn now_s() -> u64 {
    u64::try_from(accord_cases::store::now_ms() / 1000).unwrap_or(0)
}

/// The WebSocket URL of a node's signaling, from its `internal_url`.
pub fn ws_url(internal_url: &str) -> Option<String> {
    let base = internal_url.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("http://") {
        Some(format!("ws://{rest}/ws"))
    } else {
        base.strip_prefix("https://")
            .map(|rest| format!("wss://{rest}/ws"))
    }
}

fn mac(
    keys: &TokenKeys,
    method: &str,
    path: &str,
    node: &str,
    at: &str,
    client: &str,
    moved_from: &str,
) -> [u8; 32] {
    let secret = keys.derive_key(LABEL);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    // Each field ends with a byte none of them may hold (header values carry no NUL), so
    // moving text from one field to the next changes what is signed.
    for part in [method, path, node, at, client, moved_from] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

/// A client's address as a log line may show it: its /24 (IPv4) or /48 (IPv6) network.
pub struct MaskedIp(pub Option<IpAddr>);

impl fmt::Display for MaskedIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(ip) = self.0 else {
            return f.write_str("unknown");
        };
        // An IPv4 client seen through a dual-stack socket is masked as the IPv4 it is.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                write!(f, "{a}.{b}.{c}.x")
            }
            IpAddr::V6(v6) => {
                let [a, b, c, ..] = v6.segments();
                write!(f, "{a:x}:{b:x}:{c:x}:x:x:x:x:x")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn keys(secret: &[u8]) -> TokenKeys {
        TokenKeys::new(secret)
    }

    fn header_map(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_relay_verifies_with_what_it_said() {
        let k = keys(SECRET);
        let client = "203.0.113.7".parse().ok();
        let pairs = signed_headers(&k, "N_a", client, Some("N_dead"), "GET", "/ws", 1000);
        let relayed = verify(&k, &header_map(&pairs), "GET", "/ws", 1030).expect("verifies");
        assert_eq!(relayed.node, "N_a");
        assert_eq!(relayed.client, client);
        assert_eq!(relayed.moved_from.as_deref(), Some("N_dead"));
    }

    #[test]
    fn another_secret_another_path_a_changed_field_or_an_old_time_do_not_verify() {
        let k = keys(SECRET);
        let pairs = signed_headers(&k, "N_a", None, None, "GET", "/ws", 1000);
        let map = header_map(&pairs);
        let other = keys(b"ffffffffffffffffffffffffffffffff");
        assert!(verify(&other, &map, "GET", "/ws", 1000).is_none());
        assert!(verify(&k, &map, "POST", "/whip", 1000).is_none());
        assert!(verify(&k, &map, "GET", "/ws", 1000 + 61).is_none());
        let mut forged = map.clone();
        forged.insert(CLIENT_HEADER, HeaderValue::from_static("198.51.100.1"));
        assert!(verify(&k, &forged, "GET", "/ws", 1000).is_none());
        assert!(verify(&k, &HeaderMap::new(), "GET", "/ws", 1000).is_none());
    }

    #[test]
    fn logs_show_a_network_not_an_address() {
        assert_eq!(
            MaskedIp("203.0.113.7".parse().ok()).to_string(),
            "203.0.113.x"
        );
        assert_eq!(MaskedIp(None).to_string(), "unknown");
        assert_eq!(
            ws_url("http://10.0.0.5:8080/").as_deref(),
            Some("ws://10.0.0.5:8080/ws")
        );
    }
}
