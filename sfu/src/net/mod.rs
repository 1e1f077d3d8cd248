//! The one UDP port: opening it, and the reader that hands each datagram to the shard and
//! participant it belongs to. A datagram from a known address goes straight to its
//! participant; a STUN binding request from an unknown address is routed by the ufrag in its
//! USERNAME (which we chose per participant), and teaches the router that address.

pub(crate) mod masked;
mod send;
pub(crate) mod stun;
pub(crate) mod tcp;
pub(crate) mod turn;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::shard::driver::{Refused, ShardInbox};
use crate::stats::SfuStats;
use bytes::BytesMut;
use socket2::{Domain, Protocol, Socket, Type};

pub(crate) use send::{MediaSender, SendScratch};

/// Where a participant lives: its slab slot in a shard, and a token that tells it apart
/// from a later occupant of the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PeerKey {
    pub index: usize,
    pub token: u64,
}

/// One received datagram (or ICE-TCP frame) on its way to a shard.
pub(crate) struct Datagram {
    pub key: PeerKey,
    pub data: BytesMut,
    pub from: SocketAddr,
    pub at: Instant,
    /// The connection it came over, for ICE-TCP; `None` for the UDP port.
    pub tcp: Option<tcp::TcpLink>,
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

/// How often a reader blocked on an idle socket looks at routing updates and shutdown.
const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// Opens the media socket with room for bursts. It is a blocking socket: the reader thread
/// sleeps in `recvfrom` instead of in an event loop (one syscall per datagram instead of
/// three, and no scheduler hop), while senders never block (see [`MediaSender`]).
///
/// It is bound with `SO_REUSEPORT` so that each shard can open a socket per participant on
/// the same port (see `shard::driver`). That option would also let another process of the
/// same user bind the port and take a share of its datagrams, so a fixed port is first
/// bound without it: a port already in use is refused as it always was.
pub(crate) fn bind(addr: SocketAddr, buffer_bytes: usize) -> Result<Socket> {
    let open = || -> std::io::Result<Socket> {
        if addr.port() != 0 {
            let probe = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            probe.bind(&addr.into())?;
        }
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_port(true)?;
        // Best effort: the kernel caps these at net.core.{r,w}mem_max.
        let _ = socket.set_recv_buffer_size(buffer_bytes);
        let _ = socket.set_send_buffer_size(buffer_bytes);
        socket.bind(&addr.into())?;
        socket.set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(socket)
    };
    open().map_err(|source| Error::Bind { addr, source })
}

#[derive(Clone, Copy)]
pub(crate) struct Destination {
    pub shard: usize,
    pub key: PeerKey,
}

/// Where shards announce which ufrag belongs to whom: to the UDP reader over a channel (it
/// owns its table, so its packet path takes no lock), and to a table ICE-TCP connections
/// consult once, when they open.
#[derive(Clone)]
pub(crate) struct Routes {
    udp: std_mpsc::Sender<RouterUpdate>,
    tcp: Arc<Mutex<HashMap<String, Destination>>>,
}

impl Routes {
    pub fn new(udp: std_mpsc::Sender<RouterUpdate>) -> Self {
        Self {
            udp,
            tcp: Arc::default(),
        }
    }

    /// Binding requests naming `ufrag` belong to this participant.
    pub fn route(&self, ufrag: String, shard: usize, key: PeerKey) {
        self.tcp_table()
            .insert(ufrag.clone(), Destination { shard, key });
        let _ = self.udp.send(RouterUpdate::Route { ufrag, shard, key });
    }

    /// The participant left: forget its ufrags and addresses.
    pub fn forget(&self, token: u64) {
        self.tcp_table().retain(|_, d| d.key.token != token);
        let _ = self.udp.send(RouterUpdate::Forget { token });
    }

    fn tcp_destination(&self, ufrag: &str) -> Option<Destination> {
        self.tcp_table().get(ufrag).copied()
    }

    fn tcp_table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Destination>> {
        self.tcp.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The reader: a thread of its own that owns the routing table, so the packet path shares
/// no lock with anyone. Stops when `stop` is set or every shard is gone.
pub(crate) fn run_router(
    socket: UdpSocket,
    shards: Vec<ShardInbox>,
    updates: std_mpsc::Receiver<RouterUpdate>,
    stats: Arc<SfuStats>,
    stop: Arc<AtomicBool>,
) {
    let mut by_ufrag: HashMap<String, Destination> = HashMap::new();
    let mut by_addr: HashMap<SocketAddr, Destination> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    // Applies every routing change sent so far.
    let apply = |by_ufrag: &mut HashMap<String, Destination>,
                 by_addr: &mut HashMap<SocketAddr, Destination>| {
        while let Ok(update) = updates.try_recv() {
            match update {
                RouterUpdate::Route { ufrag, shard, key } => {
                    by_ufrag.insert(ufrag, Destination { shard, key });
                }
                RouterUpdate::Forget { token } => {
                    by_ufrag.retain(|_, d| d.key.token != token);
                    by_addr.retain(|_, d| d.key.token != token);
                }
            }
        }
    };
    while !stop.load(Ordering::Relaxed) {
        apply(&mut by_ufrag, &mut by_addr);
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => {
                // ICMP errors from earlier sends surface here on Linux; not fatal.
                tracing::trace!(error = %e, "media socket read");
                continue;
            }
        };
        let data = &buf[..len];
        let destination = match stun::local_ufrag(data) {
            Some(ufrag) => {
                // A join's route may have been sent while this thread slept in `recv_from`:
                // the client's first binding request follows its answer at once. A miss
                // takes whatever changes are pending before giving up on the request.
                if !by_ufrag.contains_key(ufrag) {
                    apply(&mut by_ufrag, &mut by_addr);
                }
                match by_ufrag.get(ufrag) {
                    Some(&d) => {
                        by_addr.insert(from, d);
                        Some(d)
                    }
                    None => None,
                }
            }
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
            tcp: None,
        };
        match shards[d.shard].try_send(datagram) {
            Ok(()) => stats.add_handed_over(1),
            Err(Refused::Full) => stats.add_receive_dropped(1),
            Err(Refused::Closed) => return,
        }
    }
}
