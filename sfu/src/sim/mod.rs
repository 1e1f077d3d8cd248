//! A simulated network around one shard: the sans-I/O core, N `rtc` clients on made-up
//! addresses, a virtual clock, and links that may lose or delay datagrams. Signaling is the
//! shard's own commands and events, called directly. Nothing here sleeps, opens a socket or
//! reads the wall clock (the clock starts at the `Instant` the room was made and only moves
//! when told), so a test of forwarding, caucus isolation or an ICE restart is deterministic
//! but for the random SSRCs, ICE credentials and DTLS keys the engine picks.
//!
//! It is also the forwarding benchmark's driver: [`SimRoom::prepare_audio`] and
//! [`SimRoom::server_receive`] split one publisher packet into the client's share (building
//! and encrypting it) and the server's (decrypt, route, rewrite, encrypt for every
//! subscriber), so the server's share can be timed alone.

mod client;
mod signaling;
#[cfg(test)]
mod tests;
mod uplink;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use client::Client;
pub use client::TrackLog;
pub use uplink::Uplink;

use crate::error::{Error, Result};
use crate::events::{JoinRequest, SfuEvent, TrackDeclaration};
use crate::ids::{MediaKind, ParticipantId, RoomId, Space, TrackSource};
use crate::net::{Datagram, Routes};
use crate::shard::requests::{Answer, Move, Offer, TrackSettings};
use crate::shard::{Command, Pending, Request, Shard, ShardContext, Transmit};

/// The server's one announced candidate.
const SERVER_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254)), 3478);
/// Payload of a simulated Opus packet (20 ms at ~40 kbit/s).
pub const AUDIO_PAYLOAD: usize = 100;
/// Payload of a simulated video packet (a full one, under a typical 1200-byte MTU budget).
pub const VIDEO_PAYLOAD: usize = 1100;
/// How long `connect` waits, in virtual time, for connections and first media.
const CONNECT_WITHIN: Duration = Duration::from_secs(20);
/// How often `connect` looks at progress and publishes priming media.
const CONNECT_STEP: Duration = Duration::from_millis(20);
/// Handling a timer must move its deadline on; an engine that keeps asking for the same
/// instant is nudged forward after this many rounds, so a simulation cannot spin.
const SAME_INSTANT_ROUNDS: u32 = 1000;

/// One direction of a participant's link.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Link {
    /// Share of datagrams lost, 0.0–1.0.
    pub loss: f64,
    /// One-way delay.
    pub delay: Duration,
}

enum Towards {
    Server { from: usize },
    Client { to: usize },
}

/// A datagram on a link, delivered at `at`; `order` keeps datagrams of the same instant in
/// the order they were sent.
struct InFlight {
    at: Instant,
    order: u64,
    towards: Towards,
    data: BytesMut,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// A room on one shard, its participants as simulated clients, and the network between.
pub struct SimRoom {
    shard: Shard,
    clients: Vec<Client>,
    uplinks: Vec<Link>,
    downlinks: Vec<Link>,
    /// Which client a server datagram sent to this address reaches.
    by_address: HashMap<SocketAddr, usize>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    next_order: u64,
    now: Instant,
    room: RoomId,
    /// Reused for the shard's output, so moving datagrams allocates nothing of its own.
    transmits: Vec<Transmit>,
    /// State of the loss generator (splitmix64): reproducible losses.
    loss_state: u64,
    /// Server datagrams to addresses no client has (any more).
    undeliverable: u64,
    /// Per client, how many of the server's next DTLS records to it are lost on the way.
    lose_handshake: Vec<u32>,
    /// ICE restarts are carried out when the server asks, as a browser does.
    restart_on_request: bool,
}

impl SimRoom {
    /// A room of `participants` clients, of which the first `publishers` publish audio and
    /// one VP8 camera; everyone subscribes. Nobody has joined yet (see [`SimRoom::connect`]).
    pub fn new(participants: usize, publishers: usize) -> Result<Self> {
        Self::build(participants, publishers, false)
    }

    /// As [`SimRoom::new`], with every camera sending three simulcast layers (`q`, `h`,
    /// `f`: 160×90, 320×180, 640×360).
    pub fn with_simulcast(participants: usize, publishers: usize) -> Result<Self> {
        Self::build(participants, publishers, true)
    }

    fn build(participants: usize, publishers: usize, simulcast: bool) -> Result<Self> {
        let now = Instant::now();
        // The routing table feeds the UDP reader, which a simulation does not have.
        let (router, _) = std::sync::mpsc::channel();
        let ctx = ShardContext {
            index: 0,
            local_addr: SERVER_ADDR,
            candidates: vec![SERVER_ADDR],
            tcp_local_addr: None,
            tcp_candidates: Vec::new(),
            router: Routes::new(router),
            stats: Arc::default(),
            media_timeout: Duration::from_secs(5),
            media_lost_after: Duration::from_secs(30),
        };
        let mut clients = Vec::with_capacity(participants);
        let mut by_address = HashMap::new();
        for i in 0..participants {
            let local = client_address(i, 0);
            clients.push(Client::new(local, i < publishers, simulcast, now)?);
            by_address.insert(local, i);
        }
        Ok(Self {
            shard: Shard::new(ctx, now),
            clients,
            uplinks: vec![Link::default(); participants],
            downlinks: vec![Link::default(); participants],
            by_address,
            in_flight: BinaryHeap::new(),
            next_order: 0,
            now,
            room: RoomId::new("sim"),
            transmits: Vec::new(),
            loss_state: 0x5eed,
            undeliverable: 0,
            lose_handshake: vec![0; participants],
            restart_on_request: true,
        })
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// How many participants the room has.
    pub fn participants(&self) -> usize {
        self.clients.len()
    }

    /// The participant id client `i` joins with.
    pub fn participant_id(i: usize) -> ParticipantId {
        ParticipantId::new(format!("p{i}"))
    }

    /// Joins everyone, lets publishers offer, and runs until every connection is up and
    /// every subscriber has received audio and video from every other publisher.
    pub fn connect(&mut self) -> Result<()> {
        for i in 0..self.clients.len() {
            self.join(i)?;
        }
        for i in 0..self.clients.len() {
            if self.clients[i].audio.is_some() {
                self.offer(i, false)?;
            }
        }
        let deadline = self.now + CONNECT_WITHIN;
        let mut step = 0u32;
        while !self.media_flows_everywhere() {
            if let Some((i, why)) = self.first_failed() {
                return Err(Error::Engine(format!(
                    "p{i}'s connection failed: {why}; {}",
                    self.progress()
                )));
            }
            if self.now >= deadline {
                return Err(Error::Engine(format!(
                    "simulated room not connected after {CONNECT_WITHIN:?}: {}",
                    self.progress()
                )));
            }
            // Subscribers who publish nothing have no media section, and so no transport to
            // connect, until a publisher's first packets make its tracks known.
            if self
                .clients
                .iter()
                .all(|c| c.connected || c.audio.is_none())
            {
                for i in 0..self.clients.len() {
                    if self.clients[i].audio.is_some() {
                        self.publish_audio_packet(i)?;
                        if step.is_multiple_of(5) {
                            self.publish_video_frame(i, true, 1)?;
                        }
                    }
                }
                step += 1;
            }
            self.run_for(CONNECT_STEP)?;
        }
        Ok(())
    }

    fn media_flows_everywhere(&self) -> bool {
        let publishers: Vec<usize> = (0..self.clients.len())
            .filter(|&i| self.clients[i].audio.is_some())
            .collect();
        (0..self.clients.len()).all(|s| {
            self.clients[s].connected
                && publishers.iter().filter(|&&p| p != s).all(|&p| {
                    [MediaKind::Audio, MediaKind::Video]
                        .into_iter()
                        .all(|kind| self.received(s, p, kind).is_some_and(|l| l.packets > 0))
                })
        })
    }

    /// The first client whose engine gave up on its connection, and what it said.
    fn first_failed(&self) -> Option<(usize, &str)> {
        self.clients
            .iter()
            .enumerate()
            .find_map(|(i, c)| c.failed.as_deref().map(|why| (i, why)))
    }

    /// Whether the server told client `i` that its media path is lost for good.
    pub fn media_lost(&self, i: usize) -> bool {
        self.clients[i].media_lost
    }

    fn progress(&self) -> String {
        self.clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "p{i}: connected {}, tracks announced {}, receiving {}",
                    c.connected,
                    c.announced.len(),
                    c.received.len()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Publisher `i` sends one Opus-sized packet.
    pub fn publish_audio_packet(&mut self, i: usize) -> Result<()> {
        let now = self.now;
        self.clients[i].write_audio(AUDIO_PAYLOAD, now)?;
        self.settle()
    }

    /// Publisher `i` sends one VP8 frame in `packets` video-sized packets.
    pub fn publish_video_frame(&mut self, i: usize, keyframe: bool, packets: usize) -> Result<()> {
        let now = self.now;
        self.clients[i].write_video_frame(keyframe, packets, VIDEO_PAYLOAD, now)?;
        self.settle()
    }

    /// Lets `duration` of virtual time pass: datagrams arrive when their links deliver
    /// them, and every timer of the shard and the clients fires when due.
    pub fn run_for(&mut self, duration: Duration) -> Result<()> {
        let end = self.now + duration;
        let mut rounds_at_instant = 0;
        loop {
            self.settle()?;
            let next = self.next_event();
            if next > end {
                break;
            }
            if next <= self.now {
                rounds_at_instant += 1;
                if rounds_at_instant > SAME_INSTANT_ROUNDS {
                    self.now += Duration::from_millis(1);
                    rounds_at_instant = 0;
                }
            } else {
                self.now = next;
                rounds_at_instant = 0;
            }
            self.fire_timers()?;
        }
        self.now = end;
        self.fire_timers()?;
        self.settle()
    }

    /// What subscriber `subscriber` received of `publisher`'s track of `kind`.
    pub fn received(
        &self,
        subscriber: usize,
        publisher: usize,
        kind: MediaKind,
    ) -> Option<&TrackLog> {
        let owner = Self::participant_id(publisher);
        let client = &self.clients[subscriber];
        client
            .announced
            .iter()
            .find(|(_, (who, k))| *who == owner && *k == kind)
            .and_then(|(track, _)| client.received.get(track))
    }

    /// RTP packets subscriber `subscriber` received of everything `publisher` publishes.
    pub fn packets_from(&self, subscriber: usize, publisher: usize) -> u64 {
        [MediaKind::Audio, MediaKind::Video]
            .into_iter()
            .filter_map(|kind| self.received(subscriber, publisher, kind))
            .map(|log| log.packets)
            .sum()
    }

    /// Forgets what everyone received so far (counts start again from zero).
    pub fn clear_received(&mut self) {
        for c in &mut self.clients {
            c.received.clear();
        }
    }

    /// Whether clients keep every sequence number and timestamp they receive.
    pub fn keep_history(&mut self, keep: bool) {
        for c in &mut self.clients {
            c.keep_history = keep;
        }
    }

    /// The link from client `i` to the server.
    pub fn set_uplink(&mut self, i: usize, link: Link) {
        self.uplinks[i] = link;
    }

    /// The link from the server to client `i`.
    pub fn set_downlink(&mut self, i: usize, link: Link) {
        self.downlinks[i] = link;
    }

    /// The next `records` DTLS datagrams the server sends client `i` are lost on the way.
    pub fn lose_server_handshake(&mut self, i: usize, records: u32) {
        self.lose_handshake[i] = records;
    }

    /// Whether clients restart ICE when the server asks (on by default).
    pub fn restart_on_request(&mut self, restart: bool) {
        self.restart_on_request = restart;
    }

    /// ICE restarts the server has asked client `i` for.
    pub fn restarts_asked(&self, i: usize) -> u32 {
        self.clients[i].restarts_asked
    }

    /// How many RTCP sender reports the server sent client `i`, by the SSRC they report on.
    pub fn sender_reports_to(&self, i: usize) -> &HashMap<u32, u64> {
        &self.clients[i].sender_reports
    }

    /// Datagrams the server sent to an address no client has.
    pub fn undeliverable(&self) -> u64 {
        self.undeliverable
    }

    /// Client `i`'s NAT binding changes: its datagrams now come from a new address, and
    /// what the server sends to the old one is lost. Returns the new address.
    pub fn rebind(&mut self, i: usize) -> SocketAddr {
        let old = self.clients[i].public;
        let generation = (old.port() - 5000) / 100 + 1;
        let new = client_address(i, generation);
        self.by_address.remove(&old);
        self.by_address.insert(new, i);
        self.clients[i].public = new;
        new
    }

    /// Subscriber `subscriber` renders `publisher`'s camera at `size` (which simulcast
    /// layer it should get).
    pub fn set_rendered_size(
        &mut self,
        subscriber: usize,
        publisher: usize,
        size: (u32, u32),
    ) -> Result<()> {
        let owner = Self::participant_id(publisher);
        let track = self.clients[subscriber]
            .announced
            .iter()
            .find(|(_, (who, kind))| *who == owner && *kind == MediaKind::Video)
            .map(|(track, _)| crate::ids::TrackId::new(track.clone()))
            .ok_or(Error::UnknownTrack)?;
        self.call(subscriber, TrackSettings { track, size })?;
        self.settle()
    }

    /// Moves participant `i` to another space of the room (a caucus, or back).
    pub fn move_to(&mut self, i: usize, space: Space) -> Result<()> {
        self.call(i, Move { space })?;
        self.settle()
    }

    /// The SFU's counters.
    pub fn stats(&self) -> crate::stats::SfuStatsSnapshot {
        self.shard.stats().snapshot()
    }

    /// Does everything due at the current instant until nothing moves: clients' output and
    /// signaling, the shard's output, and datagrams whose links deliver them by now.
    fn settle(&mut self) -> Result<()> {
        loop {
            let mut busy = false;
            for i in 0..self.clients.len() {
                busy |= self.pump_client(i)?;
            }
            busy |= self.collect_transmits();
            busy |= self.deliver_due();
            if !busy {
                return Ok(());
            }
        }
    }

    fn pump_client(&mut self, i: usize) -> Result<bool> {
        let mut busy = false;
        while let Some(msg) = self.clients[i].pc.poll_write() {
            busy = true;
            let link = self.uplinks[i];
            self.send(link, Towards::Server { from: i }, msg.message);
        }
        while let Some(event) = self.clients[i].pc.poll_event() {
            busy = true;
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                self.clients[i].connected = state == RTCPeerConnectionState::Connected;
            }
        }
        let client = &mut self.clients[i];
        while let Some(msg) = client.pc.poll_read() {
            busy = true;
            if let RTCMessage::RtpPacket(track, packet) = msg.message {
                client.record(track, &packet);
            }
        }
        while let Some(event) = self.clients[i]
            .events
            .as_mut()
            .and_then(|e| e.try_recv().ok())
        {
            busy = true;
            match event {
                SfuEvent::Offer { sdp, tracks } => {
                    self.clients[i].mids.extend(tracks);
                    self.answer(i, sdp)?;
                }
                SfuEvent::MediaLost => self.clients[i].media_lost = true,
                SfuEvent::TrackPublished(info) => {
                    self.clients[i]
                        .announced
                        .insert(info.id.to_string(), (info.participant_id, info.kind));
                }
                SfuEvent::RestartIce { .. } => {
                    self.clients[i].restarts_asked += 1;
                    if self.restart_on_request {
                        // Refused only for a crossing offer of the server's, which this
                        // client answers now; the server asks again while the path is broken.
                        self.offer(i, true)?;
                    }
                }
                _ => {}
            }
        }
        Ok(busy)
    }

    fn collect_transmits(&mut self) -> bool {
        self.dispatch_transmits(None)
    }

    /// Puts what the server sent on the links to its clients, noting in `log` each datagram's
    /// client and size; returns whether there was anything.
    fn dispatch_transmits(&mut self, mut log: Option<&mut Vec<(usize, usize)>>) -> bool {
        self.shard.take_transmits(&mut self.transmits);
        if self.transmits.is_empty() {
            return false;
        }
        let mut transmits = std::mem::take(&mut self.transmits);
        for t in transmits.drain(..) {
            match self.by_address.get(&t.to) {
                Some(&to) => {
                    if let Some(log) = log.as_deref_mut() {
                        log.push((to, t.data.len()));
                    }
                    // RFC 7983: a first byte of 20–63 is DTLS.
                    let dtls = t.data.first().is_some_and(|b| (20..=63).contains(b));
                    if dtls && self.lose_handshake[to] > 0 {
                        self.lose_handshake[to] -= 1;
                        continue;
                    }
                    let link = self.downlinks[to];
                    self.send(link, Towards::Client { to }, t.data);
                }
                None => self.undeliverable += 1,
            }
        }
        self.transmits = transmits;
        true
    }

    fn send(&mut self, link: Link, towards: Towards, data: BytesMut) {
        if link.loss > 0.0 && self.chance() < link.loss {
            return;
        }
        self.next_order += 1;
        self.in_flight.push(Reverse(InFlight {
            at: self.now + link.delay,
            order: self.next_order,
            towards,
            data,
        }));
    }

    fn deliver_due(&mut self) -> bool {
        let mut any = false;
        while self
            .in_flight
            .peek()
            .is_some_and(|Reverse(d)| d.at <= self.now)
        {
            let Some(Reverse(datagram)) = self.in_flight.pop() else {
                break;
            };
            any = true;
            let now = self.now;
            match datagram.towards {
                Towards::Server { from } => {
                    let client = &self.clients[from];
                    let Some(key) = client.key else { continue };
                    self.shard.receive(Datagram {
                        key,
                        data: datagram.data,
                        from: client.public,
                        at: now,
                        tcp: None,
                    });
                }
                Towards::Client { to } => {
                    let client = &mut self.clients[to];
                    if let Some(ssrc) = sender_report_ssrc(&datagram.data) {
                        *client.sender_reports.entry(ssrc).or_default() += 1;
                    }
                    let result = client.pc.handle_read(TaggedBytesMut {
                        now,
                        transport: TransportContext {
                            local_addr: client.local,
                            peer_addr: SERVER_ADDR,
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message: datagram.data,
                    });
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "simulated client refused a datagram");
                    }
                }
            }
        }
        any
    }

    fn next_event(&mut self) -> Instant {
        let mut next = self.shard.poll_timeout();
        for c in self.clients.iter_mut().filter(|c| c.failed.is_none()) {
            if let Some(t) = c.pc.poll_timeout() {
                next = next.min(t);
            }
        }
        if let Some(Reverse(d)) = self.in_flight.peek() {
            next = next.min(d.at);
        }
        next
    }

    fn fire_timers(&mut self) -> Result<()> {
        let now = self.now;
        if self.shard.poll_timeout() <= now {
            self.shard.handle_timeout(now);
        }
        for c in self.clients.iter_mut().filter(|c| c.failed.is_none()) {
            if c.pc.poll_timeout().is_some_and(|t| t <= now)
                && let Err(e) = c.pc.handle_timeout(now)
            {
                c.failed = Some(e.to_string());
            }
        }
        Ok(())
    }

    /// A uniform number in [0, 1) from a splitmix64 sequence.
    fn chance(&mut self) -> f64 {
        self.loss_state = self.loss_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.loss_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Client `i`'s address; a NAT rebinding (`generation`) moves it to another port.
fn client_address(i: usize, generation: u16) -> SocketAddr {
    let host = u8::try_from(i % 250 + 1).unwrap_or(1);
    let subnet = u8::try_from(i / 250).unwrap_or(0);
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, subnet, host)),
        5000 + generation * 100,
    )
}

/// The SSRC a datagram's sender report is about, if it is (S)RTCP that starts with one
/// (version 2, packet type 200).
fn sender_report_ssrc(data: &[u8]) -> Option<u32> {
    match data {
        [first, 200, _, _, a, b, c, d, ..] if first >> 6 == 2 => {
            Some(u32::from_be_bytes([*a, *b, *c, *d]))
        }
        _ => None,
    }
}
