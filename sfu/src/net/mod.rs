//! The one UDP port: opening it, and the reader that hands each datagram to the shard and
//! participant it belongs to. A datagram from a known address goes straight to its
//! participant; a STUN binding request from an unknown address is routed by the ufrag in its
//! USERNAME (which we chose per participant), and teaches the router that address.

pub(crate) mod stun;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::stats::SfuStats;

/// Where a participant lives: its slab slot in a shard, and a token that tells it apart
/// from a later occupant of the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PeerKey {
    pub index: usize,
    pub token: u64,
}

/// One received datagram on its way to a shard.
pub(crate) struct Datagram {
    pub key: PeerKey,
    pub data: BytesMut,
    pub from: SocketAddr,
    pub at: Instant,
}

/// Changes to the routing table, sent by shards.
pub(crate) enum RouterUpdate {
    /// Binding requests naming `ufrag` belong to this participant.
    Route {
        ufrag: String,
        shard: usize,
        key: PeerKey,
    },
    /// The participant left: forget its ufrags and addresses.
    Forget { token: u64 },
}

/// Opens the media socket with room for bursts.
pub(crate) fn bind(addr: SocketAddr, buffer_bytes: usize) -> Result<UdpSocket> {
    let open = || -> std::io::Result<UdpSocket> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        // Best effort: the kernel caps these at net.core.{r,w}mem_max.
        let _ = socket.set_recv_buffer_size(buffer_bytes);
        let _ = socket.set_send_buffer_size(buffer_bytes);
        socket.bind(&addr.into())?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    };
    open().map_err(|source| Error::Bind { addr, source })
}

#[derive(Clone, Copy)]
struct Destination {
    shard: usize,
    key: PeerKey,
}

/// The reader: owns the routing table, so the packet path shares no lock with anyone.
pub(crate) async fn run_router(
    socket: tokio::net::UdpSocket,
    shards: Vec<mpsc::Sender<Datagram>>,
    mut updates: mpsc::UnboundedReceiver<RouterUpdate>,
    stats: Arc<SfuStats>,
) {
    let mut by_ufrag: HashMap<String, Destination> = HashMap::new();
    let mut by_addr: HashMap<SocketAddr, Destination> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    loop {
        tokio::select! {
            biased;
            update = updates.recv() => match update {
                None => return,
                Some(RouterUpdate::Route { ufrag, shard, key }) => {
                    by_ufrag.insert(ufrag, Destination { shard, key });
                }
                Some(RouterUpdate::Forget { token }) => {
                    by_ufrag.retain(|_, d| d.key.token != token);
                    by_addr.retain(|_, d| d.key.token != token);
                }
            },
            received = socket.recv_from(&mut buf) => {
                let (len, from) = match received {
                    Ok(r) => r,
                    Err(e) => {
                        // ICMP errors from earlier sends surface here on Linux; not fatal.
                        tracing::trace!(error = %e, "media socket read");
                        continue;
                    }
                };
                let data = &buf[..len];
                let destination = match stun::local_ufrag(data) {
                    Some(ufrag) => match by_ufrag.get(ufrag) {
                        Some(&d) => {
                            by_addr.insert(from, d);
                            Some(d)
                        }
                        None => None,
                    },
                    None => by_addr.get(&from).copied(),
                };
                let Some(d) = destination else {
                    stats.add_unrouted(1);
                    continue;
                };
                let datagram = Datagram {
                    key: d.key,
                    data: BytesMut::from(data),
                    from,
                    at: Instant::now(),
                };
                if shards[d.shard].try_send(datagram).is_err() {
                    stats.add_receive_dropped(1);
                }
            }
        }
    }
}
