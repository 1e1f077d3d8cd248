//! One participant's seat in a shard: its peer connection and the bookkeeping around
//! negotiation, publishing and liveness.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp_transceiver::RTCRtpSenderId;
use tokio::sync::mpsc::UnboundedSender;

use super::publication::MAX_LAYERS;
use crate::events::{SfuEvent, TrackDeclaration};
use crate::ids::{Layer, ParticipantId, RoomId, Space};

/// How long a fresh participant may take to make its own first offer before the server
/// offers first. Publishers offer at once; waiting spares them a glare round trip.
pub(crate) const FIRST_OFFER_GRACE: Duration = Duration::from_millis(800);
/// A participant that never gets media flowing is given up on after this.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// After a pause ends, how long media may still be missing before the seat is given up on:
/// a phone back from the background or a call may need an ICE restart first.
pub(crate) const UNPAUSE_ALLOWANCE: Duration = Duration::from_secs(15);

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
    pub events: UnboundedSender<SfuEvent>,
    pub can_publish: bool,
    pub can_subscribe: bool,
    pub ufrag: String,
    pub joined_at: Instant,
    pub connected_at: Option<Instant>,
    pub last_rx: Instant,
    pub lost: bool,
    /// Silence is expected: the app is in the background, or its socket dropped and the seat
    /// waits for a resume. A paused participant is never declared lost.
    pub paused: bool,
    /// When the last pause ended (see [`UNPAUSE_ALLOWANCE`]).
    pub unpaused_at: Option<Instant>,
    pub next_timeout: Option<Instant>,
    pub declared: Vec<TrackDeclaration>,
    /// The simulcast layers each section of the client's latest offer sends, by `mid`.
    pub offered_layers: Vec<(String, [bool; MAX_LAYERS])>,
    pub inbound: Vec<Inbound>,
    pub publications: Vec<usize>,
    pub negotiation: Negotiation,
    /// Send-side bandwidth estimate toward this participant, written by its connection's
    /// congestion controller.
    pub estimate: Arc<AtomicU64>,
    /// Media streams taken from the connection's interceptor chain.
    pub adopted: Arc<std::sync::Mutex<crate::peer::Adopted>>,
}

impl Participant {
    /// Sends an event to the participant's signaling session. A closed channel means the
    /// session is already gone and its leave is on the way, so the event is moot.
    pub fn tell(&self, event: SfuEvent) {
        let _ = self.events.send(event);
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
        match self.estimate.load(Ordering::Relaxed) {
            0 => None,
            bps => Some(bps),
        }
    }

    /// Receives this SSRC's packets from the interceptor chain from now on.
    pub fn adopt(&self, ssrc: u32) {
        let mut adopted = self.adopted.lock().unwrap_or_else(|p| p.into_inner());
        if !adopted.ssrcs.contains(&ssrc) {
            adopted.ssrcs.push(ssrc);
        }
    }

    /// Packets of adopted streams that arrived since the last call.
    pub fn take_adopted(&self) -> std::collections::VecDeque<(Instant, rtc::rtp::Packet)> {
        let mut adopted = self.adopted.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut adopted.packets)
    }

    /// The publication and layer an incoming SSRC belongs to.
    pub fn route_of(&self, ssrc: u32) -> Option<Inbound> {
        self.inbound.iter().copied().find(|i| i.ssrc == ssrc)
    }

    /// Whether the server may make an offer now.
    pub fn may_offer(&self, now: Instant) -> bool {
        let n = &self.negotiation;
        n.needed
            && !n.offer_outstanding
            && (n.completed_once || n.not_before.is_none_or(|t| now >= t))
    }
}
