//! # accord-sfu: the media plane
//!
//! A selective forwarding unit on webrtc-rs's sans-I/O engine (`rtc` 0.21). It knows rooms,
//! participants and tracks; it knows nothing of cases, tokens or HTTP.
//!
//! ## How it runs
//! - **One UDP port** for every peer. A reader thread owns the socket's receive side and a
//!   routing table: datagrams from a known address go to their participant; STUN binding
//!   requests from new addresses are routed by the ICE ufrag we gave that participant.
//! - **Shards**: one thread per core, each owning whole rooms and every peer connection in
//!   them. A room lives on one shard, so forwarding inside a room takes no lock.
//! - **ICE-lite**: we never gather or check; our candidates are the announced addresses on
//!   the one port (so NAT 1:1 is configuration, not a feature of the engine).
//! - **One peer connection per participant**, publishing and subscribing. The client offers
//!   what it publishes; the server offers what it forwards (it is the impolite peer in
//!   perfect negotiation: a client offer that crosses ours is refused with
//!   [`Error::Glare`]).
//!
//! ## Forwarding
//! Every subscriber has a [`forward`] state per track: which simulcast layer it gets (chosen
//! from the size it renders and what arrives), switched only at a keyframe, with sequence
//! numbers, timestamps and VP8 picture ids rewritten so the stream is continuous.
//! Keyframe requests (PLI/FIR) from subscribers are relayed to the publisher, at most one per
//! layer per second. NACKs are answered by the engine's responder from its send history, and
//! generated toward publishers by its generator.
//!
//! ## Using it
//! [`Sfu::start`] inside a tokio runtime; [`Sfu::join`] for each participant returns a
//! [`ParticipantHandle`] (offers, answers, candidates, settings, leave) and a stream of
//! [`SfuEvent`]s for the signaling layer to relay. Dropping the handle leaves the room.

mod config;
mod error;
mod events;
pub(crate) mod forward;
mod health;
mod ids;
mod net;
mod peer;
mod shard;
mod stats;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

pub use config::{SfuConfig, TcpListen};
pub use error::{Error, Result};
pub use events::{
    AudioOnlyReason, IceCandidate, IceRestartReason, JoinRequest, ReceivedFrom, SfuEvent, Speaker,
    SubscriberReport, TrackDeclaration, TrackInfo,
};
pub use health::{LinkHealth, LinkQuality};
pub use ids::{Layer, MediaKind, ParticipantId, RoomId, Space, TrackId, TrackSource};
pub use shard::HEALTH_INTERVAL;
pub use stats::{SfuStats, SfuStatsSnapshot};

use net::PeerKey;
use shard::{Command, Shard, ShardContext};

/// Random ASCII letters and digits, from the thread-local CSPRNG (ICE credentials, ids,
/// secrets).
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// The running media server. Cheap to clone.
#[derive(Clone)]
pub struct Sfu {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Vec<mpsc::UnboundedSender<Command>>,
    placement: Mutex<std::collections::HashMap<RoomId, Placement>>,
    local_addr: SocketAddr,
    candidates: Vec<SocketAddr>,
    tcp_addr: Option<SocketAddr>,
    tcp_candidates: Vec<SocketAddr>,
    stats: Arc<SfuStats>,
    /// Tells the reader thread to finish.
    stop: Arc<std::sync::atomic::AtomicBool>,
}

struct Placement {
    shard: usize,
    members: usize,
}

/// Events queued for one participant's signaling session. A session relays them as they
/// come; one that lets this many pile up (its client stopped reading) has its participant
/// removed, which ends its event stream.
pub const EVENT_QUEUE: usize = 1024;

/// A participant admitted to the SFU.
pub struct Joined {
    /// Commands for this participant.
    pub handle: ParticipantHandle,
    /// What to relay to them (offers, tracks, speakers, connection state).
    pub events: mpsc::Receiver<SfuEvent>,
    /// Tracks already published in the room when they joined.
    pub tracks: Vec<TrackInfo>,
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu")
            .field("local_addr", &self.inner.local_addr)
            .field("shards", &self.inner.shards.len())
            .finish()
    }
}

impl Sfu {
    /// Opens the media port and starts the reader thread and the shard threads.
    pub fn start(config: SfuConfig) -> Result<Sfu> {
        let socket = net::bind(config.listen, config.socket_buffer_bytes)?;
        let bind_error = |source| Error::Bind {
            addr: config.listen,
            source,
        };
        let local_addr = socket
            .local_addr()
            .map_err(bind_error)?
            .as_socket()
            .ok_or_else(|| Error::Config("the media socket has no IP address".into()))?;
        let candidates = announced_candidates(&config, local_addr)?;
        let tcp_listener = bind_tcp(&config, local_addr)?;
        let tcp_addr = match &tcp_listener {
            Some(l) => Some(l.local_addr().map_err(|source| Error::Bind {
                addr: local_addr,
                source,
            })?),
            None => None,
        };
        let tcp_candidates: Vec<SocketAddr> = match tcp_addr {
            Some(tcp) => candidates
                .iter()
                .map(|c| SocketAddr::new(c.ip(), tcp.port()))
                .collect(),
            None => Vec::new(),
        };
        let shard_count = if config.shards == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            config.shards
        };
        let stats = Arc::new(SfuStats::default());
        let sender = Arc::new(net::MediaSender::new(
            socket.try_clone().map_err(bind_error)?,
        ));
        // Unbounded but bounded in use: one update per join, ICE restart and leave, and the
        // reader drains them at least every `READ_TIMEOUT` and on every unknown ufrag.
        let (router_tx, router_rx) = std::sync::mpsc::channel();
        let routes = net::Routes::new(router_tx);
        let mut shard_commands = Vec::with_capacity(shard_count);
        let mut shard_datagrams = Vec::with_capacity(shard_count);
        for index in 0..shard_count {
            let (datagram_tx, datagram_rx) = mpsc::channel(8192);
            // Unbounded but bounded in use: every command but `Leave` and `Shutdown` waits for
            // its reply before its caller can send another, and `Leave` is sent once per
            // handle, so at most one command per live handle (or caller) is ever queued.
            let (command_tx, command_rx) = mpsc::unbounded_channel();
            let ctx = ShardContext {
                index,
                socket: Arc::clone(&sender),
                local_addr: candidates[0],
                candidates: candidates.clone(),
                tcp_local_addr: tcp_candidates.first().copied(),
                tcp_candidates: tcp_candidates.clone(),
                router: routes.clone(),
                stats: Arc::clone(&stats),
                media_timeout: config.media_timeout,
                media_lost_after: config.media_lost_after.max(config.media_timeout),
            };
            std::thread::Builder::new()
                .name(format!("accord-shard-{index}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build();
                    match runtime {
                        Ok(rt) => rt.block_on(Shard::new(ctx).run(datagram_rx, command_rx)),
                        Err(e) => tracing::error!(error = %e, "cannot start a media shard"),
                    }
                })
                .map_err(|e| Error::Config(format!("cannot start a media shard thread: {e}")))?;
            shard_commands.push(command_tx);
            shard_datagrams.push(datagram_tx);
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Some(listener) = tcp_listener {
            let (shards, routes, stats, stop) = (
                shard_datagrams.clone(),
                routes.clone(),
                Arc::clone(&stats),
                Arc::clone(&stop),
            );
            std::thread::Builder::new()
                .name("accord-ice-tcp".into())
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    let serve = |listener| net::tcp::run(listener, shards, routes, stats, stop);
                    match runtime {
                        Ok(rt) => rt.block_on(async move {
                            match tokio::net::TcpListener::from_std(listener) {
                                Ok(listener) => serve(listener).await,
                                Err(e) => tracing::error!(error = %e, "cannot serve ICE-TCP"),
                            }
                        }),
                        Err(e) => tracing::error!(error = %e, "cannot start ICE-TCP"),
                    }
                })
                .map_err(|e| Error::Config(format!("cannot start the ICE-TCP thread: {e}")))?;
        }
        let reader: std::net::UdpSocket = socket.into();
        let router_stats = Arc::clone(&stats);
        let router_stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("accord-media-reader".into())
            .spawn(move || {
                net::run_router(
                    reader,
                    shard_datagrams,
                    router_rx,
                    router_stats,
                    router_stop,
                )
            })
            .map_err(|e| Error::Config(format!("cannot start the media reader thread: {e}")))?;
        tracing::info!(%local_addr, ?tcp_addr, shards = shard_count, candidates = ?candidates, "media server listening");
        Ok(Sfu {
            inner: Arc::new(Inner {
                shards: shard_commands,
                placement: Mutex::new(Default::default()),
                local_addr,
                candidates,
                tcp_addr,
                tcp_candidates,
                stats,
                stop,
            }),
        })
    }

    /// The bound media address (useful when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The addresses our ICE candidates announce.
    pub fn candidates(&self) -> &[SocketAddr] {
        &self.inner.candidates
    }

    /// The bound ICE-TCP address, if ICE-TCP is on.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.inner.tcp_addr
    }

    /// The addresses our passive ICE-TCP candidates announce.
    pub fn tcp_candidates(&self) -> &[SocketAddr] {
        &self.inner.tcp_candidates
    }

    /// Counters for metrics.
    pub fn stats(&self) -> SfuStatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Puts a participant into a room (creating it on the least-loaded shard if new).
    pub async fn join(&self, request: JoinRequest) -> Result<Joined> {
        let shard = self.place(&request.room);
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (reply, answer) = oneshot::channel();
        let room = request.room.clone();
        let sent = self.inner.shards[shard].send(Command::Join {
            request,
            events: events_tx,
            reply,
        });
        let outcome = match sent {
            Ok(()) => answer.await.unwrap_or(Err(Error::ShuttingDown)),
            Err(_) => Err(Error::ShuttingDown),
        };
        match outcome {
            Ok((key, tracks)) => Ok(Joined {
                handle: ParticipantHandle {
                    sfu: self.clone(),
                    shard,
                    key,
                    room,
                    left: false,
                },
                events,
                tracks,
            }),
            Err(e) => {
                self.release(&room);
                Err(e)
            }
        }
    }

    /// What every subscriber in a room has been sent, per publisher (empty for a room not
    /// here).
    pub async fn room_report(&self, room: &RoomId) -> Vec<SubscriberReport> {
        let shard = {
            let placement = self
                .inner
                .placement
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match placement.get(room) {
                Some(p) => p.shard,
                None => return Vec::new(),
            }
        };
        let (reply, answer) = oneshot::channel();
        let command = Command::Report {
            room: room.clone(),
            reply,
        };
        if self.inner.shards[shard].send(command).is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// Stops every shard; participants are closed.
    pub fn shutdown(&self) {
        self.inner
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for shard in &self.inner.shards {
            let _ = shard.send(Command::Shutdown);
        }
    }

    fn place(&self, room: &RoomId) -> usize {
        let mut placement = self
            .inner
            .placement
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(p) = placement.get_mut(room) {
            p.members += 1;
            return p.shard;
        }
        let mut load = vec![0usize; self.inner.shards.len()];
        for p in placement.values() {
            load[p.shard] += p.members;
        }
        let shard = (0..load.len()).min_by_key(|&i| load[i]).unwrap_or(0);
        placement.insert(room.clone(), Placement { shard, members: 1 });
        shard
    }

    fn release(&self, room: &RoomId) {
        let mut placement = self
            .inner
            .placement
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(p) = placement.get_mut(room) {
            p.members = p.members.saturating_sub(1);
            if p.members == 0 {
                placement.remove(room);
            }
        }
    }
}

/// Opens the ICE-TCP listener the config asks for (see [`TcpListen`]).
fn bind_tcp(config: &SfuConfig, udp: SocketAddr) -> Result<Option<std::net::TcpListener>> {
    let open = |addr: SocketAddr| -> std::io::Result<std::net::TcpListener> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    };
    let bound = match config.tcp {
        TcpListen::Off => return Ok(None),
        TcpListen::At(addr) => open(addr).map_err(|source| Error::Bind { addr, source })?,
        TcpListen::SamePortAsUdp => match open(udp) {
            Ok(listener) => listener,
            // A system-chosen UDP port (tests) says nothing about TCP: take any free one.
            Err(_) if config.listen.port() == 0 => {
                let any = SocketAddr::new(udp.ip(), 0);
                open(any).map_err(|source| Error::Bind { addr: any, source })?
            }
            Err(source) => return Err(Error::Bind { addr: udp, source }),
        },
    };
    Ok(Some(bound))
}

fn announced_candidates(config: &SfuConfig, local: SocketAddr) -> Result<Vec<SocketAddr>> {
    let port = local.port();
    let mut ips: Vec<IpAddr> = config.announce.clone();
    if ips.is_empty() {
        if local.ip().is_unspecified() {
            ips = local_interface_ips();
        } else {
            ips.push(local.ip());
        }
    }
    if ips.is_empty() {
        return Err(Error::Config(
            "no address to announce: set media.announce to the server's public IP".into(),
        ));
    }
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// IPv4 interface addresses, non-loopback first, then loopback (for a browser on the same
/// machine).
fn local_interface_ips() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = Vec::new();
    if let Ok(interfaces) = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        // The address the kernel would use to reach a public destination; no packet is sent.
        s.connect("192.0.2.1:9")?;
        s.local_addr()
    }) {
        if !interfaces.ip().is_unspecified() {
            ips.push(interfaces.ip());
        }
    }
    ips.push(IpAddr::from([127, 0, 0, 1]));
    ips
}

/// Commands for one participant. Dropping it removes the participant from the SFU.
pub struct ParticipantHandle {
    sfu: Sfu,
    shard: usize,
    key: PeerKey,
    room: RoomId,
    left: bool,
}

impl ParticipantHandle {
    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.sfu.inner.shards[self.shard]
            .send(make(reply))
            .map_err(|_| Error::ShuttingDown)?;
        answer.await.unwrap_or(Err(Error::ShuttingDown))
    }

    /// Applies the client's offer and returns our answer. `tracks` says what its
    /// transceivers carry.
    pub async fn offer(&self, sdp: String, tracks: Vec<TrackDeclaration>) -> Result<String> {
        let key = self.key;
        self.call(|reply| Command::Offer {
            key,
            sdp,
            tracks,
            reply,
        })
        .await
    }

    /// For a receive-only client that cannot renegotiate (WHEP): applies its offer, binds
    /// the audio and video of `watch` (or of the first publisher) to it, and returns our
    /// answer. Such a participant should join with `can_subscribe: false`, so nothing else
    /// is ever offered to it.
    pub async fn viewer_offer(&self, sdp: String, watch: Option<ParticipantId>) -> Result<String> {
        let key = self.key;
        self.call(|reply| Command::ViewerOffer {
            key,
            sdp,
            watch,
            reply,
        })
        .await
    }

    /// Applies the client's answer to our last offer.
    pub async fn answer(&self, sdp: String) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Answer { key, sdp, reply }).await
    }

    /// Adds a trickled client candidate.
    pub async fn add_candidate(&self, candidate: IceCandidate) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Candidate {
            key,
            candidate,
            reply,
        })
        .await
    }

    /// The client renders `track` at this size (0×0: not at all).
    pub async fn track_settings(&self, track: TrackId, width: u32, height: u32) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::TrackSettings {
            key,
            track,
            size: (width, height),
            reply,
        })
        .await
    }

    /// The client muted or unmuted its own source.
    pub async fn set_muted(&self, source: TrackSource, muted: bool) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Mute {
            key,
            source,
            muted,
            reply,
        })
        .await
    }

    /// Silence from this participant is expected (`true`: its app is in the background or its
    /// socket is gone) or no longer (`false`). While paused it is never reported
    /// [`SfuEvent::MediaLost`]; after a pause its media gets a while to come back.
    pub async fn set_paused(&self, paused: bool) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Pause { key, paused, reply })
            .await
    }

    /// The participant wants no video (`true`: its "save data" switch) or video again.
    pub async fn set_save_data(&self, enabled: bool) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::SaveData {
            key,
            enabled,
            reply,
        })
        .await
    }

    /// Moves the participant to another space of its room (see [`Space`]).
    pub async fn move_to(&self, space: Space) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Move { key, space, reply }).await
    }

    /// A moderator mutes one of the participant's sources (`held`), or lifts that: while held
    /// nothing of it is forwarded, until the participant unmutes it themselves.
    pub async fn hold(&self, source: TrackSource, held: bool) -> Result<()> {
        let key = self.key;
        self.call(|reply| Command::Hold {
            key,
            source,
            held,
            reply,
        })
        .await
    }

    /// Tracks others publish in the room now (for a client that resumes its seat).
    pub async fn room_tracks(&self) -> Result<Vec<TrackInfo>> {
        let key = self.key;
        self.call(|reply| Command::RoomTracks { key, reply }).await
    }

    /// Leaves the room now.
    pub fn leave(mut self) {
        self.leave_once();
    }

    fn leave_once(&mut self) {
        if !self.left {
            self.left = true;
            let _ = self.sfu.inner.shards[self.shard].send(Command::Leave { key: self.key });
            self.sfu.release(&self.room);
        }
    }
}

impl Drop for ParticipantHandle {
    fn drop(&mut self) {
        self.leave_once();
    }
}
