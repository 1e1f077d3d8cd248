//! One participant's seat in a shard: its peer connection and the bookkeeping around
//! negotiation, publishing and liveness.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp_transceiver::RTCRtpSenderId;
use tokio::sync::mpsc::Sender;

use super::publication::MAX_LAYERS;
use crate::events::{AudioOnlyReason, SfuEvent, TrackDeclaration};
use crate::health::LinkMeter;
use crate::ids::{Layer, ParticipantId, RoomId, Space};

/// How long a fresh participant may take to make its own first offer before the server
/// offers first. Publishers offer at once; waiting spares them a glare round trip.
pub(crate) const FIRST_OFFER_GRACE: Duration = Duration::from_millis(800);
/// A participant that never gets media flowing is given up on after this.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a client whose path stays broken is asked again to restart ICE.
pub(crate) const RESTART_REPEAT: Duration = Duration::from_secs(5);
/// A path is taken to have moved when its old address has been quiet this long while
/// packets arrive from a new one (audio alone sends 50 packets a second).
pub(crate) const PATH_QUIET: Duration = Duration::from_millis(1500);

/// Media packets taken from the interceptor chain, with their arrival times.
pub(crate) type AdoptedPackets = std::collections::VecDeque<(Instant, rtc::rtp::Packet)>;
/// Sender reports taken from the interceptor chain.
pub(crate) type SenderReports = std::collections::VecDeque<crate::peer::SeenSenderReport>;

/// Where one incoming SSRC goes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Inbound {
    pub ssrc: u32,
    pub publication: usize,
    pub layer: Layer,
}

/// Offer/answer state from the server's side (the server is the impolite peer).
#[derive(Debug, Default)]
pub(crate) struct Negotiation {
    /// An offer of ours awaits the client's answer.
    pub offer_outstanding: bool,
    /// Something changed that the client has not been offered yet.
    pub needed: bool,
    /// Do not offer before this (see [`FIRST_OFFER_GRACE`]).
    pub not_before: Option<Instant>,
    /// Senders to remove at the next offer.
    pub removals: Vec<RTCRtpSenderId>,
    /// The client has completed at least one offer/answer exchange.
    pub completed_once: bool,
    /// When it first did; media is expected to connect within [`CONNECT_TIMEOUT`] of it.
    pub first_completed: Option<Instant>,
}

impl Negotiation {
    /// Records a completed offer/answer exchange.
    pub fn complete(&mut self, now: Instant) {
        self.completed_once = true;
        self.first_completed.get_or_insert(now);
    }
}

pub(crate) struct Participant {
    pub id: ParticipantId,
    /// Distinguishes this seat from an earlier occupant of the same slab slot.
    pub token: u64,
    pub room: RoomId,
    /// Which part of the room it sees and is seen in.
    pub space: Space,
    /// Packets forwarded to it from subscriptions since ended, per publisher.
    pub received_before: Vec<crate::events::ReceivedFrom>,
    pub pc: RTCPeerConnection,
    pub events: Sender<SfuEvent>,
    pub can_publish: bool,
    pub can_subscribe: bool,
    pub ufrag: String,
    pub next_timeout: Option<Instant>,
    /// Whether media flows, from where, and what was done about silence.
    pub liveness: Liveness,
    /// What it sends us.
    pub publishing: Publishing,
    pub negotiation: Negotiation,
    /// What its connection's interceptor chain shares with the shard.
    pub taps: Taps,
    /// The loss it reported on what we send it, at the last health report (0.0–1.0).
    pub downlink_loss: f32,
    /// Payload bytes forwarded to it that its link meter has not counted yet: counted per
    /// batch rather than per packet, under one lock.
    pub bytes_out: usize,
    /// Whether video reaches it, and why not; see [`VideoGate`].
    pub video: VideoGate,
    /// TCP connections its ICE-TCP candidate pairs run over, by the client's address.
    pub tcp: Vec<(SocketAddr, crate::net::tcp::TcpLink)>,
}

/// Whether a participant's media flows and from where, and what was done about silence: the
/// state behind ICE-restart requests, giving up a seat, and pauses.
#[derive(Debug)]
pub(crate) struct Liveness {
    pub joined_at: Instant,
    pub connected_at: Option<Instant>,
    pub last_rx: Instant,
    /// Where the connection sends to (the selected ICE pair's remote address), and when a
    /// packet last came from there.
    pub path: Option<(SocketAddr, Instant)>,
    /// When a packet last came from an address other than `path`.
    pub elsewhere_at: Option<Instant>,
    /// When it was last asked to restart ICE.
    pub restart_asked: Option<Instant>,
    pub lost: bool,
    /// Silence is expected: the app is in the background, or its socket dropped and the seat
    /// waits for a resume. A paused participant is never declared lost.
    pub paused: bool,
    /// When the last pause ended: silence is counted from then.
    pub unpaused_at: Option<Instant>,
}

impl Liveness {
    /// A seat that joined at `now` and has heard nothing yet.
    pub fn new(now: Instant) -> Self {
        Self {
            joined_at: now,
            connected_at: None,
            last_rx: now,
            path: None,
            elsewhere_at: None,
            restart_asked: None,
            lost: false,
            paused: false,
            unpaused_at: None,
        }
    }
}

/// What a participant publishes: its declarations, what its offers send, and where each
/// incoming SSRC goes.
#[derive(Debug, Default)]
pub(crate) struct Publishing {
    pub declared: Vec<TrackDeclaration>,
    /// The simulcast layers each section of the client's latest offer sends, by `mid`.
    pub offered_layers: Vec<(String, [bool; MAX_LAYERS])>,
    pub inbound: Vec<Inbound>,
    pub publications: Vec<usize>,
}

/// What a participant's connection's interceptor chain shares with the shard (see `peer`).
#[derive(Default)]
pub(crate) struct Taps {
    /// Send-side bandwidth estimate toward this participant, written by its connection's
    /// congestion controller.
    pub estimate: Arc<AtomicU64>,
    /// Media streams taken from the connection's interceptor chain.
    pub adopted: Arc<std::sync::Mutex<crate::peer::Adopted>>,
    /// Loss, round-trip time and bitrates, counted inside the interceptor chain.
    pub link: Arc<std::sync::Mutex<LinkMeter>>,
    /// What the receiver reports about its own audio should say (see `peer::LossEcho`).
    pub loss_echo: Arc<std::sync::Mutex<crate::peer::EchoedLoss>>,
}

/// Below this estimate a subscriber gets no video at all: the lowest layer of a phone's
/// camera needs about 100 kbit/s, audio 40 and their overhead some more.
pub(crate) const AUDIO_ONLY_BELOW_BPS: u64 = 180_000;
/// Video comes back only above this, so a link near the threshold does not flap.
pub(crate) const VIDEO_BACK_ABOVE_BPS: u64 = 300_000;
/// How long the estimate must stay on one side of a threshold before video stops or resumes.
pub(crate) const AUDIO_ONLY_AFTER: Duration = Duration::from_secs(2);
pub(crate) const VIDEO_BACK_AFTER: Duration = Duration::from_secs(4);

/// The decision to send a subscriber video or not.
#[derive(Debug, Default)]
pub(crate) struct VideoGate {
    /// The participant asked for no video.
    pub save_data: bool,
    /// Its estimate is too low for any video.
    pub starved: bool,
    /// Since when the estimate has been on the other side of the threshold.
    crossing_since: Option<Instant>,
    /// What the participant was last told.
    pub told: Option<AudioOnlyReason>,
}

impl VideoGate {
    /// Follows the estimate with hysteresis; returns whether `starved` changed.
    pub fn observe(&mut self, estimate: Option<u64>, now: Instant) -> bool {
        let Some(bps) = estimate else {
            return false;
        };
        let crossing = if self.starved {
            bps > VIDEO_BACK_ABOVE_BPS
        } else {
            bps < AUDIO_ONLY_BELOW_BPS
        };
        if !crossing {
            self.crossing_since = None;
            return false;
        }
        let since = *self.crossing_since.get_or_insert(now);
        let hold = if self.starved {
            VIDEO_BACK_AFTER
        } else {
            AUDIO_ONLY_AFTER
        };
        if now.saturating_duration_since(since) < hold {
            return false;
        }
        self.starved = !self.starved;
        self.crossing_since = None;
        true
    }

    /// Why no video goes to the participant, if none does.
    pub fn reason(&self) -> Option<AudioOnlyReason> {
        if self.save_data {
            Some(AudioOnlyReason::SaveData)
        } else if self.starved {
            Some(AudioOnlyReason::Bandwidth)
        } else {
            None
        }
    }
}

impl Participant {
    /// Tells the link meter what the connection sent since last time.
    pub fn pass_on_bytes_out(&mut self) {
        if self.bytes_out > 0 {
            self.taps
                .link
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .on_bytes_out(std::mem::take(&mut self.bytes_out));
        }
    }

    /// Sends an event to the participant's signaling session. A closed channel means the
    /// session is already gone and its leave is on the way, so the event is moot.
    pub fn tell(&self, event: SfuEvent) {
        // A full queue means its session stopped taking events; the next tick removes the
        // participant (see `is_lagging`), so what is dropped here is never missed.
        let _ = self.events.try_send(event);
    }

    /// Its session has let [`EVENT_QUEUE`](crate::EVENT_QUEUE) events pile up.
    pub fn is_lagging(&self) -> bool {
        self.events.capacity() == 0
    }

    /// Adds the count of an ended subscription to what it was sent from `publisher`.
    pub fn count_received(&mut self, publisher: &ParticipantId, packets: u64, bytes: u64) {
        match self
            .received_before
            .iter_mut()
            .find(|r| &r.participant_id == publisher)
        {
            Some(r) => {
                r.packets += packets;
                r.bytes += bytes;
            }
            None => self.received_before.push(crate::events::ReceivedFrom {
                participant_id: publisher.clone(),
                packets,
                bytes,
            }),
        }
    }

    /// What we may send this participant, in bits per second; `None` before any estimate.
    pub fn send_budget(&self) -> Option<u64> {
        match self.taps.estimate.load(Ordering::Relaxed) {
            0 => None,
            bps => Some(bps),
        }
    }

    /// Keeps the ICE-TCP connection a frame came over, to send back the same way.
    pub fn remember_tcp(&mut self, from: SocketAddr, link: &crate::net::tcp::TcpLink) {
        match self.tcp.iter_mut().find(|(a, _)| *a == from) {
            Some((_, known)) if known.same_as(link) => {}
            Some((_, known)) => *known = link.clone(),
            None => {
                // Connections of earlier paths (before an ICE restart) are gone by now.
                self.tcp.retain(|(_, known)| !known.is_closed());
                self.tcp.push((from, link.clone()));
            }
        }
    }

    /// Receives this SSRC's packets from the interceptor chain from now on.
    pub fn adopt(&self, ssrc: u32) {
        let mut adopted = self.taps.adopted.lock().unwrap_or_else(|p| p.into_inner());
        if !adopted.ssrcs.contains(&ssrc) {
            adopted.ssrcs.push(ssrc);
        }
    }

    /// Packets of adopted streams and sender reports that arrived since the last call (one
    /// lock for both: this runs after every datagram).
    pub fn take_adopted(&self) -> (AdoptedPackets, SenderReports) {
        let mut adopted = self.taps.adopted.lock().unwrap_or_else(|p| p.into_inner());
        (
            std::mem::take(&mut adopted.packets),
            std::mem::take(&mut adopted.sender_reports),
        )
    }

    /// The publication and layer an incoming SSRC belongs to.
    pub fn route_of(&self, ssrc: u32) -> Option<Inbound> {
        self.publishing
            .inbound
            .iter()
            .copied()
            .find(|i| i.ssrc == ssrc)
    }

    /// Whether the server may make an offer now.
    pub fn may_offer(&self, now: Instant) -> bool {
        let n = &self.negotiation;
        n.needed
            && !n.offer_outstanding
            && (n.completed_once || n.not_before.is_none_or(|t| now >= t))
    }
}
