//! How the media server listens and what it tells clients about itself.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Media-plane settings. Signaling fills these in from Accord's config file and environment.
#[derive(Clone, Debug)]
pub struct SfuConfig {
    /// The one UDP address every peer sends to. Port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Addresses written into our ICE candidates, in order of preference. Behind NAT 1:1 this
    /// is the public address; when empty, the listen address (or, for a wildcard listen
    /// address, every local interface address) is announced.
    pub announce: Vec<IpAddr>,
    /// Worker threads that own rooms; 0 means one per CPU core.
    pub shards: usize,
    /// A participant whose media path has been silent this long after it connected is
    /// reported lost (ICE consent freshness, RFC 7675, allows 30 s; we want 5 s).
    pub media_timeout: Duration,
    /// Kernel socket buffer sizes; bursts of keyframes to many subscribers need room.
    pub socket_buffer_bytes: usize,
}

impl Default for SfuConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 40000)),
            announce: Vec::new(),
            shards: 0,
            media_timeout: Duration::from_secs(4),
            socket_buffer_bytes: 4 << 20,
        }
    }
}
