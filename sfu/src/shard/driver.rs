//! The shard's driver: the thread around the sans-I/O core. It owns the sockets and the
//! clock, feeds the core datagrams and commands with the time, wakes it when it asks, and
//! sends what it produced in batches.
//!
//! **Receiving without a hand-off.** Once a participant's media path is known, the driver
//! opens a UDP socket of its own on the shared media port, connected to the participant's
//! address (`SO_REUSEPORT`; the kernel prefers a connected socket for datagrams from its
//! peer). The shard's thread then reads that participant's datagrams itself, up to
//! [`RECEIVE_BATCH`] per `recvmmsg`, in the same `epoll` wake-up as every other ready peer.
//! Only what has no such socket yet (the first ICE checks, a path that just moved, ICE-TCP
//! frames) still comes through the media reader and a channel.
//!
//! **Sending in batches.** Everything the core produced while handling one batch of input
//! leaves through the shared socket in `sendmmsg` calls, a frame's packets to one peer as one
//! segmented datagram (`net::send`).
//!
//! **Audio ahead of video.** Audio read from any participant is forwarded and sent at once;
//! video waits in the core's backlog and goes out in slices of [`FLUSH_AT`] datagrams, one
//! slice per turn of the loop, with the sockets looked at again between slices. A keyframe
//! fanned out to fifty subscribers no longer holds back a voice read while it goes out.

use std::io::IoSliceMut;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::mpsc::{self as std_mpsc, Receiver, Sender, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use slab::Slab;
use socket2::{Domain, Protocol, Socket, Type};

use super::{Command, PathChange, Shard, Transmit};
use crate::error::{Error, Result};
use crate::net::{Datagram, MediaSender, PeerKey, SendScratch};
use crate::placement::{BusyMeter, ShardLoads};

/// Datagrams per `recvmmsg` call on a participant's socket.
const RECEIVE_BATCH: usize = 32;
/// `recvmmsg` batches read from one participant's socket before the others get their turn.
const TURNS_PER_WAKE: usize = 4;
/// Datagrams taken from the hand-off channel per wake-up before looking at sockets again.
const CHANNEL_BATCH: usize = 256;
/// Datagrams waiting in a shard's hand-off channel; more are dropped and counted.
const CHANNEL_CAPACITY: usize = 8192;
/// Datagrams one slice of video fans out to before they are sent and the sockets are looked
/// at again. Gathering lets the packets of a frame to one subscriber leave as one segmented
/// datagram (see `net::send`); the limit keeps a large fan-out from holding back what is read
/// meanwhile. Audio never waits for a slice.
const FLUSH_AT: usize = 256;
/// Largest datagram read from a participant's socket (the media port's MTU budget).
const DATAGRAM_MAX: usize = 2048;
const WAKER: Token = Token(0);

/// How other threads reach a shard: commands from signaling, datagrams the media reader or
/// ICE-TCP could not give a participant's own socket. Each send wakes the shard.
#[derive(Clone)]
pub(crate) struct ShardInbox {
    commands: Sender<Command>,
    datagrams: SyncSender<Datagram>,
    waker: Arc<Waker>,
}

/// Why a datagram was not handed over.
pub(crate) enum Refused {
    /// The shard is behind: the datagram is dropped, as the network would.
    Full,
    /// The shard is gone.
    Closed,
}

impl ShardInbox {
    /// Queues a command; gives it back when the shard is gone.
    pub fn send(&self, command: Command) -> std::result::Result<(), Command> {
        self.commands.send(command).map_err(|e| e.0)?;
        let _ = self.waker.wake();
        Ok(())
    }

    /// Hands a datagram over without waiting.
    pub fn try_send(&self, datagram: Datagram) -> std::result::Result<(), Refused> {
        match self.datagrams.try_send(datagram) {
            Ok(()) => {
                let _ = self.waker.wake();
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(Refused::Full),
            Err(TrySendError::Disconnected(_)) => Err(Refused::Closed),
        }
    }
}

/// What the driver needs besides the core.
pub(crate) struct DriverSetup {
    /// The address the media port is bound to; participants' sockets bind it too.
    pub listen: SocketAddr,
    /// Receive buffer of each participant's socket.
    pub buffer_bytes: usize,
    /// The shared socket everything is sent from.
    pub sender: Arc<MediaSender>,
    /// Where the driver says how busy its shard is, for placing new rooms.
    pub loads: Arc<ShardLoads>,
}

/// Starts a shard on a thread of its own; returns its inbox.
pub(crate) fn spawn(name: String, shard: Shard, setup: DriverSetup) -> Result<ShardInbox> {
    let poll =
        Poll::new().map_err(|e| Error::Config(format!("cannot start a media shard: {e}")))?;
    let waker = Waker::new(poll.registry(), WAKER)
        .map_err(|e| Error::Config(format!("cannot start a media shard: {e}")))?;
    let (command_tx, commands) = std_mpsc::channel();
    let (datagram_tx, datagrams) = std_mpsc::sync_channel(CHANNEL_CAPACITY);
    let inbox = ShardInbox {
        commands: command_tx,
        datagrams: datagram_tx,
        waker: Arc::new(waker),
    };
    let waker = Arc::clone(&inbox.waker);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            // The receive headers hold raw pointers and may not cross threads: made here.
            let driver = Driver {
                busy: BusyMeter::new(shard.index(), Instant::now()),
                shard,
                poll,
                setup,
                peers: Slab::new(),
                commands,
                datagrams,
                waker,
                unfinished: Vec::new(),
                transmits: Vec::new(),
                buffers: Box::new([[0u8; DATAGRAM_MAX]; RECEIVE_BATCH]),
                receive_headers: MultiHeaders::preallocate(RECEIVE_BATCH, None),
                send_scratch: SendScratch::new(),
            };
            driver.run();
        })
        .map_err(|e| Error::Config(format!("cannot start a media shard thread: {e}")))?;
    Ok(inbox)
}

/// A participant's own socket, connected to its media path.
struct PeerSocket {
    key: PeerKey,
    to: SocketAddr,
    socket: UdpSocket,
}

struct Driver {
    shard: Shard,
    poll: Poll,
    setup: DriverSetup,
    /// Participants' sockets; a socket's token is its slot + 1.
    peers: Slab<PeerSocket>,
    commands: Receiver<Command>,
    datagrams: Receiver<Datagram>,
    /// Its own inbox's waker, to come back to a channel it left unfinished.
    waker: Arc<Waker>,
    /// Participants' sockets (slots) left with datagrams still to read.
    unfinished: Vec<usize>,
    transmits: Vec<Transmit>,
    buffers: Box<[[u8; DATAGRAM_MAX]; RECEIVE_BATCH]>,
    receive_headers: MultiHeaders<SockaddrStorage>,
    /// Made once and reused by every send (see `MediaSender::send_all`).
    send_scratch: SendScratch,
    busy: BusyMeter,
}

impl Driver {
    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        'running: loop {
            let timeout = self
                .shard
                .poll_timeout()
                .saturating_duration_since(Instant::now());
            // Rounded up: a wake-up a hair early would find nothing due and spin. Sockets left
            // unread (see `read_peer`) and video still to forward are come back to at once.
            let timeout = if self.unfinished.is_empty() && self.shard.backlog() == 0 {
                timeout + Duration::from_micros(500)
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                tracing::error!(error = %e, "media shard cannot wait for its sockets");
                break;
            }
            let woke = Instant::now();
            for event in events.iter() {
                if event.token() == WAKER {
                    if !self.take_commands() {
                        break 'running;
                    }
                    self.take_handed_over();
                } else {
                    self.read_peer(event.token().0 - 1);
                }
            }
            for slot in std::mem::take(&mut self.unfinished) {
                self.read_peer(slot);
            }
            let now = Instant::now();
            self.shard.handle_timeout(now);
            self.send();
            // One slice of the video read so far; what arrives meanwhile is read first.
            if let Some(oldest) = self.shard.forward_backlog(FLUSH_AT) {
                self.send();
                self.shard.stats().observe_forward_delay(oldest.elapsed());
            }
            self.busy.worked(woke, Instant::now(), &self.setup.loads);
        }
        self.shard.shut_down(Instant::now());
        self.send();
    }

    /// Carries out the queued commands; `false` once the shard is to stop.
    fn take_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Shutdown) | Err(TryRecvError::Disconnected) => return false,
                Ok(command) => {
                    self.shard.command(command, Instant::now());
                    self.send();
                }
                Err(TryRecvError::Empty) => return true,
            }
        }
    }

    /// Takes datagrams the media reader or ICE-TCP handed over; what is not video is sent on
    /// at once.
    fn take_handed_over(&mut self) {
        for _ in 0..CHANNEL_BATCH {
            let Ok(datagram) = self.datagrams.try_recv() else {
                return;
            };
            self.shard.admit(datagram);
            self.send();
        }
        // More may wait: come back to them after the sockets have had their turn.
        let _ = self.waker.wake();
    }

    /// Reads a participant's socket until it is empty (the poll is edge-triggered).
    ///
    /// At most [`TURNS_PER_WAKE`] batches are read at a time: a participant flooding its socket
    /// is left for the next turn (its slot kept in `unfinished`, since an edge-triggered poll
    /// will not say again that it is readable), so the others' media is not starved.
    fn read_peer(&mut self, slot: usize) {
        for turn in 0.. {
            if turn == TURNS_PER_WAKE {
                if !self.unfinished.contains(&slot) {
                    self.unfinished.push(slot);
                }
                return;
            }
            let Some(peer) = self.peers.get(slot) else {
                return;
            };
            let (key, fd) = (peer.key, peer.socket.as_raw_fd());
            // What one call read: each datagram's length and sender.
            let mut received = [(0usize, None::<SocketAddr>); RECEIVE_BATCH];
            // The slices borrow the buffers for as long as they live: keep them in a block.
            let count = {
                let mut slices = self
                    .buffers
                    .each_mut()
                    .map(|b| [IoSliceMut::new(&mut b[..])]);
                match recvmmsg(
                    fd,
                    &mut self.receive_headers,
                    slices.iter_mut(),
                    MsgFlags::MSG_DONTWAIT,
                    None,
                ) {
                    Ok(results) => {
                        let mut count = 0;
                        for (slot, m) in received.iter_mut().zip(results) {
                            *slot = (m.bytes, m.address.and_then(|a| socket_addr(&a)));
                            count += 1;
                        }
                        count
                    }
                    Err(nix::errno::Errno::EAGAIN) => return,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        // ICMP errors from earlier sends surface here on Linux; not fatal.
                        tracing::trace!(error = %e, "participant socket read");
                        continue;
                    }
                }
            };
            let at = Instant::now();
            let full = count == RECEIVE_BATCH;
            self.shard.stats().add_received_direct(count as u64);
            for (i, &(len, from)) in received[..count].iter().enumerate() {
                let Some(from) = from else {
                    continue;
                };
                self.shard.admit(Datagram {
                    key,
                    data: BytesMut::from(&self.buffers[i][..len]),
                    from,
                    at,
                    tcp: None,
                });
            }
            // The batch's audio (and whatever else is not video) goes out now.
            if self.shard.has_transmits() {
                self.send();
                self.shard.stats().observe_forward_delay(at.elapsed());
            }
            if !full {
                return;
            }
        }
    }

    /// Sends what the core produced, then opens and closes participants' sockets as their
    /// paths changed.
    fn send(&mut self) {
        if self.shard.has_transmits() {
            self.shard.take_transmits(&mut self.transmits);
            self.setup
                .sender
                .send_all(&self.transmits, self.shard.stats(), &mut self.send_scratch);
            self.transmits.clear();
        }
        for change in self.shard.take_path_changes() {
            self.follow(change);
        }
    }

    fn follow(&mut self, change: PathChange) {
        let current = self
            .peers
            .iter()
            .find(|(_, p)| p.key == change.key)
            .map(|(slot, p)| (slot, p.to));
        if current.map(|(_, to)| to) == change.to {
            return;
        }
        if let Some((slot, _)) = current {
            let mut old = self.peers.remove(slot);
            let _ = self.poll.registry().deregister(&mut old.socket);
        }
        let Some(to) = change.to else { return };
        match connect(self.setup.listen, to, self.setup.buffer_bytes) {
            Ok(socket) => {
                let entry = self.peers.vacant_entry();
                let token = Token(entry.key() + 1);
                let mut socket = UdpSocket::from_std(socket);
                match self
                    .poll
                    .registry()
                    .register(&mut socket, token, Interest::READABLE)
                {
                    Ok(()) => {
                        entry.insert(PeerSocket {
                            key: change.key,
                            to,
                            socket,
                        });
                        // Datagrams that arrived before the socket existed were queued on the
                        // shared one and come through the reader; later ones come here.
                        self.read_peer(token.0 - 1);
                    }
                    Err(e) => tracing::debug!(error = %e, "cannot watch a participant's socket"),
                }
            }
            // The shared socket and the reader still carry this participant.
            Err(e) => tracing::debug!(error = %e, "cannot open a participant's socket"),
        }
    }
}

/// A socket on the media port connected to one participant's address.
fn connect(
    listen: SocketAddr,
    to: SocketAddr,
    buffer_bytes: usize,
) -> std::io::Result<std::net::UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(listen),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    socket.set_reuse_port(true)?;
    let _ = socket.set_recv_buffer_size(buffer_bytes);
    socket.set_nonblocking(true)?;
    socket.bind(&listen.into())?;
    socket.connect(&to.into())?;
    Ok(socket.into())
}

fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddr::from(std::net::SocketAddrV4::from(*v4)));
    }
    address
        .as_sockaddr_in6()
        .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
}
