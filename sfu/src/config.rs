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
    /// Participants a worker takes (while under half busy) before new rooms go to the next;
    /// 0 spreads every new room to the worker with the fewest participants.
    pub shard_fill: usize,
    /// A participant whose media path has been silent this long after it connected is asked
    /// to restart ICE (again every few seconds while the silence lasts).
    pub media_timeout: Duration,
    /// Silent this long, its seat is given up (ICE consent freshness, RFC 7675, allows 30 s).
    pub media_lost_after: Duration,
    /// Where ICE-TCP connections are accepted (passive candidates on the announced addresses).
    pub tcp: TcpListen,
    /// Kernel socket buffer sizes; bursts of keyframes to many subscribers need room.
    pub socket_buffer_bytes: usize,
    /// Whether a frame's packets to one peer may leave as one segmented datagram (UDP GSO).
    pub udp_segmentation: bool,
}

impl Default for SfuConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 40000)),
            announce: Vec::new(),
            shards: 0,
            shard_fill: 48,
            media_timeout: Duration::from_secs(4),
            media_lost_after: Duration::from_secs(20),
            tcp: TcpListen::SamePortAsUdp,
            socket_buffer_bytes: 4 << 20,
            udp_segmentation: true,
        }
    }
}

/// Whether and where the SFU takes ICE over TCP, for networks that block UDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpListen {
    /// No TCP candidates.
    Off,
    /// The UDP listen address and port, over TCP (a free port if that one is taken and the
    /// UDP port was chosen by the system).
    SamePortAsUdp,
    /// This address.
    At(SocketAddr),
}
