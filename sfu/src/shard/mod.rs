//! A shard: one thread that owns some rooms, every peer connection in them, and all
//! forwarding between them. Nothing here is shared with other shards, so the packet path
//! takes no locks: the network reader hands datagrams over a channel, the shard feeds them
//! to the right peer connection, forwards what comes out, and writes to the shared socket.

mod commands;
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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use slab::Slab;
use tokio::sync::mpsc;

use crate::net::{Datagram, MediaSender, Routes};
use crate::stats::SfuStats;

pub(crate) use commands::{Command, Pending, Request};
pub use health::HEALTH_INTERVAL;
use participant::Participant;
use publication::Publication;
pub(crate) use tap::{TapCommand, TrackTap};

/// How often rooms are looked over: layer choice, keyframe retries, active speakers, liveness.
const TICK: Duration = Duration::from_millis(200);
/// How often active speakers are recomputed.
const SPEAKER_INTERVAL: Duration = Duration::from_millis(400);
/// Datagrams handled per wake-up before timers are looked at again.
const BATCH: usize = 256;

/// What a shard needs from the rest of the SFU.
pub(crate) struct ShardContext {
    pub index: usize,
    pub socket: Arc<MediaSender>,
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
    scratch_touched: Vec<usize>,
}

impl Shard {
    pub fn new(ctx: ShardContext) -> Self {
        Self {
            next_token: (ctx.index as u64) << 48,
            ctx,
            participants: Slab::new(),
            publications: Slab::new(),
            rooms: HashMap::new(),
            last_speaker_check: Instant::now(),
            last_health_report: Instant::now(),
            scratch_touched: Vec::new(),
        }
    }

    /// Runs until the command channel closes (the SFU was dropped) or `Shutdown` arrives.
    pub async fn run(
        mut self,
        mut datagrams: mpsc::Receiver<Datagram>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let mut next_tick = Instant::now() + TICK;
        loop {
            let deadline = self.next_deadline().map_or(next_tick, |d| d.min(next_tick));
            tokio::select! {
                biased;
                command = commands.recv() => {
                    match command {
                        None | Some(Command::Shutdown) => break,
                        Some(command) => {
                            let key = command.participant_index();
                            self.guarded(key, |shard| shard.handle_command(command));
                        }
                    }
                }
                datagram = datagrams.recv() => {
                    let Some(datagram) = datagram else { break };
                    let key = datagram.key.index;
                    self.guarded(Some(key), |shard| shard.handle_datagram(datagram));
                    for _ in 1..BATCH {
                        match datagrams.try_recv() {
                            Ok(d) => {
                                let key = d.key.index;
                                self.guarded(Some(key), |shard| shard.handle_datagram(d));
                            }
                            Err(_) => break,
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
            let now = Instant::now();
            self.handle_timeouts(now);
            if now >= next_tick {
                self.guarded(None, |shard| shard.tick(now));
                next_tick = now + TICK;
            }
        }
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
    fn drain(&mut self, key: usize) {
        loop {
            let Some(p) = self.participants.get_mut(key) else {
                return;
            };
            let mut busy = flush_writes(p, &self.ctx);
            let mut events = Vec::new();
            while let Some(event) = p.pc.poll_event() {
                events.push(event);
            }
            busy |= !events.is_empty();
            for event in events {
                self.handle_peer_event(key, event);
            }
            busy |= self.forward_reads(key);
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
            flush_writes(p, &self.ctx);
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

/// Sends every packet a participant's connection has queued, over UDP or the ICE-TCP
/// connection its pair uses; returns whether there were any.
fn flush_writes(p: &mut Participant, ctx: &ShardContext) -> bool {
    let mut any = false;
    while let Some(msg) = p.pc.poll_write() {
        any = true;
        let to = msg.transport.peer_addr;
        // STUN answers go to every address that checks; media goes down the selected pair.
        if p.liveness.path.is_none_or(|(path, _)| path != to)
            && !crate::net::stun::is_stun(&msg.message)
        {
            // A new selected pair (or the first): packets from there count as on the path.
            p.liveness.path = Some((to, Instant::now()));
        }
        let sent = if msg.transport.transport_protocol == TransportProtocol::TCP {
            match p.tcp.iter().find(|(from, _)| *from == to) {
                Some((_, link)) => Ok(link.send(&msg.message)),
                None => Ok(false),
            }
        } else {
            ctx.socket.send(&msg.message, to)
        };
        match sent {
            Ok(true) => {}
            Ok(false) => ctx.stats.add_send_dropped(1),
            Err(e) => tracing::debug!(error = %e, "media send failed"),
        }
    }
    any
}
