//! A shard: the media core that owns some rooms, every peer connection in them, and all
//! forwarding between them. Nothing here is shared with other shards, so the packet path
//! takes no locks.
//!
//! The core is sans-I/O: it is handed datagrams, commands and the time (`now` is always an
//! argument, never read from the clock), and it answers with datagrams to send
//! ([`Transmit`]) and the next time it wants to be woken ([`Shard::poll_timeout`]). The
//! `driver` owns the thread, the sockets and the timers. So forwarding, layer switching,
//! caucus isolation and ICE restarts can be run in simulated time with no network.

mod commands;
pub(crate) mod driver;
mod forwarding;
mod health;
mod membership;
pub(crate) mod negotiation;
mod participant;
mod publication;
pub(crate) mod requests;
mod spaces;
mod speaker;
mod tap;
mod viewer;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use slab::Slab;

use crate::net::tcp::TcpLink;
use crate::net::{Datagram, PeerKey, Routes};
use crate::stats::SfuStats;

pub(crate) use commands::{Command, Pending, Request};
pub use health::HEALTH_INTERVAL;
#[cfg(test)]
pub(crate) use participant::CONNECT_TIMEOUT;
use participant::Participant;
use publication::Publication;
pub(crate) use tap::{TapCommand, TrackTap};

/// How often rooms are looked over: layer choice, keyframe retries, active speakers, liveness.
const TICK: Duration = Duration::from_millis(200);
/// How often active speakers are recomputed.
const SPEAKER_INTERVAL: Duration = Duration::from_millis(400);
/// Video datagrams admitted but not yet forwarded (see [`Shard::admit`]). At this length the
/// oldest is forwarded to make room, in order, and nothing is dropped. The driver goes on
/// reading every socket in turn: were it to stop while the backlog is full, a participant
/// flooding its socket could be read first every time and keep everyone else waiting.
pub(crate) const VIDEO_BACKLOG_MAX: usize = 1024;

/// What the core hands its driver: datagrams to send, and the paths media now takes.
#[derive(Default)]
pub(crate) struct Outbox {
    pub transmits: Vec<Transmit>,
    pub paths: Vec<PathChange>,
}

/// A participant's media path over UDP changed: the driver may receive from `to` on a socket
/// of the participant's own (`None`: it has no UDP path any more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PathChange {
    pub key: PeerKey,
    pub to: Option<SocketAddr>,
}

/// A datagram the core wants sent.
pub(crate) struct Transmit {
    pub to: SocketAddr,
    pub data: BytesMut,
    /// The ICE-TCP connection it goes over; `None` for the UDP port.
    pub tcp: Option<TcpLink>,
}

/// What a shard needs from the rest of the SFU.
pub(crate) struct ShardContext {
    pub index: usize,
    /// The address our transport contexts name as local (our first announced candidate),
    /// so the ICE agent finds its candidate whatever interface a datagram came in on.
    pub local_addr: SocketAddr,
    pub candidates: Vec<SocketAddr>,
    /// Our first passive ICE-TCP candidate, named as local for frames that came over TCP;
    /// `None` when ICE-TCP is off.
    pub tcp_local_addr: Option<SocketAddr>,
    pub tcp_candidates: Vec<SocketAddr>,
    pub router: Routes,
    pub stats: Arc<SfuStats>,
    /// Silence after which a client is asked to restart ICE.
    pub media_timeout: Duration,
    /// Silence after which its seat is given up.
    pub media_lost_after: Duration,
}

#[derive(Default)]
struct Room {
    participants: Vec<usize>,
    publications: Vec<usize>,
    /// The last speakers announced, with the space each speaks in.
    speakers: Vec<(crate::ids::Space, crate::events::Speaker)>,
    /// The recorder tap on the room; it keeps the room here while nobody is in it.
    tap: Option<tap::RoomTap>,
}

pub(crate) struct Shard {
    ctx: ShardContext,
    participants: Slab<Participant>,
    publications: Slab<Publication>,
    rooms: HashMap<crate::ids::RoomId, Room>,
    next_token: u64,
    last_speaker_check: Instant,
    last_health_report: Instant,
    /// Reused between datagrams so the packet path does not allocate for bookkeeping.
    scratch_touched: Vec<(usize, bool)>,
    /// The time of the input being handled: the latest `now` the driver has passed in.
    now: Instant,
    /// When rooms are next looked over (see [`TICK`]).
    next_tick: Instant,
    /// What waits for the driver.
    outbox: Outbox,
    /// Video read but not yet forwarded, oldest first: it goes out in slices, and a voice
    /// read meanwhile goes ahead of it (see [`Shard::admit`]).
    video_backlog: VecDeque<Datagram>,
}

impl Shard {
    pub fn new(ctx: ShardContext, now: Instant) -> Self {
        Self {
            next_token: (ctx.index as u64) << 48,
            ctx,
            participants: Slab::new(),
            publications: Slab::new(),
            rooms: HashMap::new(),
            last_speaker_check: now,
            last_health_report: now,
            scratch_touched: Vec::new(),
            now,
            next_tick: now + TICK,
            outbox: Outbox::default(),
            video_backlog: VecDeque::new(),
        }
    }

    /// Moves the core's clock on; it never goes back.
    fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    /// Handles one datagram, at the time it arrived.
    pub fn receive(&mut self, datagram: Datagram) {
        self.advance(datagram.at);
        let key = datagram.key.index;
        self.guarded(Some(key), |shard| shard.handle_datagram(datagram));
    }

    /// Takes a datagram read from a participant: published video waits in the backlog for
    /// [`Shard::forward_backlog`], everything else (audio, RTCP, ICE, DTLS) is handled at once.
    ///
    /// So a voice is never forwarded behind a burst of video, even one read before it: a
    /// keyframe fanned out to fifty subscribers goes out in slices, and the audio read between
    /// slices goes first. Deferring what was read, not what was written, keeps isolation
    /// simple: a video packet is routed by the subscriptions of the moment it is forwarded.
    pub fn admit(&mut self, datagram: Datagram) {
        if !self.publishes_video(datagram.key, &datagram.data) {
            self.receive(datagram);
            return;
        }
        if self.video_backlog.len() >= VIDEO_BACKLOG_MAX
            && let Some(oldest) = self.video_backlog.pop_front()
        {
            self.receive(oldest);
        }
        self.video_backlog.push_back(datagram);
    }

    /// Forwards the oldest admitted video until `until_transmits` datagrams wait in the
    /// outbox or none is left; returns when the first datagram forwarded was read.
    pub fn forward_backlog(&mut self, until_transmits: usize) -> Option<Instant> {
        let mut oldest = None;
        while self.outbox.transmits.len() < until_transmits {
            let Some(datagram) = self.video_backlog.pop_front() else {
                break;
            };
            oldest.get_or_insert(datagram.at);
            self.receive(datagram);
        }
        oldest
    }

    /// Video datagrams admitted and not yet forwarded.
    pub fn backlog(&self) -> usize {
        self.video_backlog.len()
    }

    /// Whether a datagram from a participant carries video it publishes: its RTP header is in
    /// the clear under SRTP, so the SSRC tells without decrypting.
    fn publishes_video(&self, key: PeerKey, data: &[u8]) -> bool {
        let Some(ssrc) = rtp_ssrc(data) else {
            return false;
        };
        let Some(p) = self
            .participants
            .get(key.index)
            .filter(|p| p.token == key.token)
        else {
            return false;
        };
        p.route_of(ssrc)
            .and_then(|route| self.publications.get(route.publication))
            .is_some_and(|pubn| pubn.kind == crate::ids::MediaKind::Video)
    }

    /// Carries out one command from signaling.
    pub fn command(&mut self, command: Command, now: Instant) {
        self.advance(now);
        let key = command.participant_index();
        self.guarded(key, |shard| shard.handle_command(command));
    }

    /// Does whatever is due by `now`: peer connections' timers and the periodic look over
    /// rooms.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.handle_timeouts(now);
        if now >= self.next_tick {
            self.guarded(None, |shard| shard.tick(now));
            self.next_tick = now + TICK;
        }
    }

    /// When [`Shard::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Instant {
        self.next_deadline()
            .map_or(self.next_tick, |d| d.min(self.next_tick))
    }

    /// Hands the datagrams to send to the driver, in the order they were produced.
    pub fn take_transmits(&mut self, into: &mut Vec<Transmit>) {
        if into.is_empty() {
            std::mem::swap(into, &mut self.outbox.transmits);
        } else {
            into.append(&mut self.outbox.transmits);
        }
    }

    /// Hands the path changes since the last call to the driver.
    pub fn take_path_changes(&mut self) -> Vec<PathChange> {
        std::mem::take(&mut self.outbox.paths)
    }

    /// Which of the node's shards this is.
    pub fn index(&self) -> usize {
        self.ctx.index
    }

    /// The counters the core keeps.
    pub fn stats(&self) -> &SfuStats {
        &self.ctx.stats
    }

    /// Whether datagrams wait to be sent.
    pub fn has_transmits(&self) -> bool {
        !self.outbox.transmits.is_empty()
    }

    /// Removes everyone: the SFU is going away.
    pub fn shut_down(&mut self, now: Instant) {
        self.advance(now);
        let everyone: Vec<usize> = self.participants.iter().map(|(k, _)| k).collect();
        for key in everyone {
            self.remove_participant(key);
        }
    }

    /// Runs `work`; if the WebRTC engine panics inside it (malformed input it did not
    /// expect), the participant concerned is evicted and every other room carries on.
    fn guarded(&mut self, participant: Option<usize>, work: impl FnOnce(&mut Self)) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(self)));
        if outcome.is_err() {
            tracing::error!("the media engine panicked; evicting the participant concerned");
            if let Some(key) = participant {
                self.evict(key);
            }
        }
    }

    /// Removes a participant whose connection may be in a broken state.
    fn evict(&mut self, key: usize) {
        let clean = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.remove_participant(key)
        }));
        if clean.is_err() && self.participants.contains(key) {
            let p = self.participants.remove(key);
            self.outbox.paths.push(PathChange {
                key: PeerKey {
                    index: key,
                    token: p.token,
                },
                to: None,
            });
            self.ctx.router.forget(p.token);
            self.ctx.stats.participants_changed(-1);
            if let Some(room) = self.rooms.get_mut(&p.room) {
                room.participants.retain(|&k| k != key);
            }
            p.tell(crate::events::SfuEvent::MediaLost);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.participants
            .iter()
            .filter_map(|(_, p)| p.next_timeout)
            .min()
    }

    fn handle_datagram(&mut self, datagram: Datagram) {
        let Some(p) = self.participants.get_mut(datagram.key.index) else {
            return;
        };
        if p.token != datagram.key.token {
            return;
        }
        p.liveness.last_rx = datagram.at;
        match &mut p.liveness.path {
            Some((to, last)) if *to == datagram.from => *last = datagram.at,
            _ => p.liveness.elsewhere_at = Some(datagram.at),
        }
        let (local_addr, transport_protocol) = match (&datagram.tcp, self.ctx.tcp_local_addr) {
            (Some(link), Some(tcp_local)) => {
                p.remember_tcp(datagram.from, link);
                (tcp_local, TransportProtocol::TCP)
            }
            _ => (self.ctx.local_addr, TransportProtocol::UDP),
        };
        let result = p.pc.handle_read(TaggedBytesMut {
            now: datagram.at,
            transport: TransportContext {
                local_addr,
                peer_addr: datagram.from,
                ecn: None,
                transport_protocol,
            },
            message: datagram.data,
        });
        if let Err(e) = result {
            tracing::debug!(error = %e, "datagram refused by peer connection");
        }
        self.drain(datagram.key.index);
    }

    fn handle_timeouts(&mut self, now: Instant) {
        let due: Vec<usize> = self
            .participants
            .iter()
            .filter(|(_, p)| p.next_timeout.is_some_and(|t| t <= now))
            .map(|(k, _)| k)
            .collect();
        for key in due {
            self.guarded(Some(key), |shard| {
                if let Some(p) = shard.participants.get_mut(key)
                    && let Err(e) = p.pc.handle_timeout(now)
                {
                    tracing::debug!(error = %e, "peer connection timeout handling failed");
                }
                shard.drain(key);
            });
        }
    }

    /// Moves everything a peer connection has produced: datagrams to the socket, events to
    /// their handlers, media to subscribers. Repeats until it is quiet.
    ///
    /// A round that only forwarded what the datagram itself delivered ends it: forwarding
    /// writes to other connections (and a keyframe request is flushed where it is written),
    /// so the connection was handed nothing new, and sweeping all its handlers again would
    /// find nothing. Events, writes, or reads a sweep found may have set more in motion.
    fn drain(&mut self, key: usize) {
        loop {
            let Some(p) = self.participants.get_mut(key) else {
                return;
            };
            let mut busy = flush_writes(p, key, &mut self.outbox, &self.ctx.stats, self.now);
            let mut events = Vec::new();
            while let Some(event) = p.pc.poll_event() {
                events.push(event);
            }
            busy |= !events.is_empty();
            for event in events {
                self.handle_peer_event(key, event);
            }
            self.forward_reads(key);
            let Some(p) = self.participants.get_mut(key) else {
                return;
            };
            busy |= p.pc.take_swept_reads();
            if !busy {
                break;
            }
        }
        if let Some(p) = self.participants.get_mut(key) {
            p.next_timeout = p.pc.poll_timeout();
        }
    }

    /// Writes out what a subscriber's connection queued after we handed it packets.
    fn flush(&mut self, key: usize) {
        if let Some(p) = self.participants.get_mut(key) {
            flush_writes(p, key, &mut self.outbox, &self.ctx.stats, self.now);
            p.next_timeout = p.pc.poll_timeout();
        }
    }

    /// Brings a subscriber up to date after packets went straight out of its connection,
    /// with nothing left in its queues: the link meter learns what was sent, and the timer
    /// is read again (the first packet of a stream starts its sender reports).
    fn sent_straight(&mut self, key: usize) {
        if let Some(p) = self.participants.get_mut(key) {
            p.pass_on_bytes_out();
            p.next_timeout = p.pc.poll_timeout();
        }
    }

    /// The publications of a participant's room (a copy: callers mutate the shard while
    /// walking it).
    fn publications_around(&self, participant: usize) -> Vec<usize> {
        self.participants
            .get(participant)
            .and_then(|p| self.rooms.get(&p.room))
            .map(|r| r.publications.clone())
            .unwrap_or_default()
    }

    fn allocate_token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }
}

/// The SSRC of an RTP packet (not RTCP, STUN or DTLS), from its clear header.
fn rtp_ssrc(data: &[u8]) -> Option<u32> {
    let version = data.first()? >> 6;
    let payload_type = data.get(1)? & 0x7f;
    // RFC 5761: RTCP packet types 192–223 show as payload types 64–95 when muxed.
    if version != 2 || (64..96).contains(&payload_type) {
        return None;
    }
    let ssrc: [u8; 4] = data.get(8..12)?.try_into().ok()?;
    Some(u32::from_be_bytes(ssrc))
}

/// Moves every packet a participant's connection has queued into the outbox, for UDP or the
/// ICE-TCP connection its pair uses; returns whether there were any.
fn flush_writes(
    p: &mut Participant,
    index: usize,
    outbox: &mut Outbox,
    stats: &SfuStats,
    now: Instant,
) -> bool {
    p.pass_on_bytes_out();
    let mut any = false;
    while let Some(msg) = p.pc.poll_write() {
        any = true;
        post(p, index, msg, outbox, stats, now);
    }
    any
}

/// Puts one datagram a participant's connection produced into the outbox, for UDP or the
/// ICE-TCP connection its pair uses.
fn post(
    p: &mut Participant,
    index: usize,
    msg: TaggedBytesMut,
    outbox: &mut Outbox,
    stats: &SfuStats,
    now: Instant,
) {
    let to = msg.transport.peer_addr;
    // STUN answers go to every address that checks; media goes down the selected pair.
    let over_tcp = msg.transport.transport_protocol == TransportProtocol::TCP;
    if p.liveness.path.is_none_or(|(path, _)| path != to)
        && !crate::net::stun::is_stun(&msg.message)
    {
        // A new selected pair (or the first): packets from there count as on the path.
        p.liveness.path = Some((to, now));
        outbox.paths.push(PathChange {
            key: PeerKey {
                index,
                token: p.token,
            },
            to: (!over_tcp).then_some(to),
        });
    }
    let tcp = if over_tcp {
        match p.tcp.iter().find(|(from, _)| *from == to) {
            Some((_, link)) => Some(link.clone()),
            // The connection is gone: nothing to send it over.
            None => {
                stats.add_send_dropped(1);
                return;
            }
        }
    } else {
        None
    };
    outbox.transmits.push(Transmit {
        to,
        data: msg.message,
        tcp,
    });
}

#[cfg(test)]
mod tests {
    use super::rtp_ssrc;

    #[test]
    fn only_rtp_headers_give_an_ssrc() {
        let mut rtp = [0u8; 12];
        rtp[0] = 0x80;
        rtp[1] = 111;
        rtp[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        assert_eq!(rtp_ssrc(&rtp), Some(0x1234_5678));
        let mut rtcp = rtp;
        rtcp[1] = 200; // a sender report: payload type 72 with the marker bit
        assert_eq!(rtp_ssrc(&rtcp), None, "RTCP");
        assert_eq!(rtp_ssrc(&[0x00, 0x01, 0x00, 0x08]), None, "STUN");
        assert_eq!(rtp_ssrc(&[22, 254, 253]), None, "DTLS");
        assert_eq!(rtp_ssrc(&rtp[..11]), None, "cut short");
    }
}
