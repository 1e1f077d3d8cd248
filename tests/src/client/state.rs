//! What a [`TestClient`](super::TestClient) has learned: the room as the server describes it,
//! every frame received, and per-publication receive statistics.
//!
//! One `std::sync::Mutex` guards it all; critical sections are short (no awaits inside), and
//! tests read it by polling snapshots.

use crate::payload::{PayloadKind, is_vp8_keyframe_packet, payload_hash};
use crate::protocol::{ErrorFrame, Participant, ServerFrame, Speaker, TrackInfo};
use crate::wait::wait_until;
use anyhow::Result;
use rtc::rtp;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many recent payload hashes a [`ReceivedTrack`] keeps (about a second of video).
pub const RECENT_PAYLOADS: usize = 60;

/// Receive statistics of one remote publication, as seen by this client.
#[derive(Debug, Clone)]
pub struct ReceivedTrack {
    /// Published track id (from the server's mid → track map), or `mid:<mid>` if unmapped.
    pub track_id: String,
    /// SDP mid the packets arrived on.
    pub mid: String,
    /// Which codec the payloads were hashed as.
    pub kind: PayloadKind,
    /// RTP packets received.
    pub packets: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Every SSRC seen (an SFU should present one per subscription).
    pub ssrcs: BTreeSet<u32>,
    /// Payload types seen.
    pub payload_types: BTreeSet<u8>,
    /// Times the sequence number skipped ahead.
    pub seq_gaps: u64,
    /// Packets missing across those gaps.
    pub lost_packets: u64,
    /// Packets that arrived with a sequence number at or behind the highest seen.
    pub reordered_or_duplicate: u64,
    /// Timestamp steps between consecutive packets that went backwards or ran ahead of the
    /// wall clock by more than a second: a forwarder that fails to rewrite timestamps when it
    /// switches layers shows up here.
    pub timestamp_jumps: u64,
    /// VP8 keyframes (first packet of a keyframe) received.
    pub keyframes: u64,
    /// Packets with the marker bit (end of a video frame).
    pub frames: u64,
    /// Integrity hashes of every payload (see [`crate::payload`]).
    pub payload_hashes: HashSet<u64>,
    /// Hashes of the most recent payloads, newest last (at most [`RECENT_PAYLOADS`]).
    pub recent_hashes: VecDeque<u64>,
    /// Payloads too short to hash.
    pub unparsable: u64,
    /// When the first packet arrived.
    pub first_packet_at: Option<Instant>,
    /// When the latest packet arrived.
    pub last_packet_at: Option<Instant>,
    last_seq: Option<u16>,
    last_ts: Option<u32>,
    clock_rate: u32,
}

impl ReceivedTrack {
    fn new(track_id: String, mid: String, kind: PayloadKind) -> Self {
        Self {
            track_id,
            mid,
            kind,
            packets: 0,
            bytes: 0,
            ssrcs: BTreeSet::new(),
            payload_types: BTreeSet::new(),
            seq_gaps: 0,
            lost_packets: 0,
            reordered_or_duplicate: 0,
            timestamp_jumps: 0,
            keyframes: 0,
            frames: 0,
            payload_hashes: HashSet::new(),
            recent_hashes: VecDeque::new(),
            unparsable: 0,
            first_packet_at: None,
            last_packet_at: None,
            last_seq: None,
            last_ts: None,
            clock_rate: match kind {
                PayloadKind::Opus => 48_000,
                PayloadKind::Vp8 => 90_000,
            },
        }
    }

    fn record(&mut self, pkt: &rtp::Packet, now: Instant) {
        let header = &pkt.header;
        self.packets += 1;
        self.bytes += pkt.payload.len() as u64;
        self.ssrcs.insert(header.ssrc);
        self.payload_types.insert(header.payload_type);
        self.first_packet_at.get_or_insert(now);
        let previous_at = self.last_packet_at.replace(now);
        if header.marker && self.kind == PayloadKind::Vp8 {
            self.frames += 1;
        }
        if self.kind == PayloadKind::Vp8 && is_vp8_keyframe_packet(&pkt.payload) {
            self.keyframes += 1;
        }
        match payload_hash(self.kind, &pkt.payload) {
            Some(hash) => {
                self.payload_hashes.insert(hash);
                if self.recent_hashes.len() == RECENT_PAYLOADS {
                    self.recent_hashes.pop_front();
                }
                self.recent_hashes.push_back(hash);
            }
            None => self.unparsable += 1,
        }
        let seq = header.sequence_number;
        match self.last_seq {
            None => {
                self.last_seq = Some(seq);
                self.last_ts = Some(header.timestamp);
            }
            Some(last) => {
                let step = seq.wrapping_sub(last);
                if step == 0 || step >= 0x8000 {
                    // Behind the highest sequence number: a retransmission or reordering.
                    self.reordered_or_duplicate += 1;
                    return;
                }
                if step > 1 {
                    self.seq_gaps += 1;
                    self.lost_packets += u64::from(step - 1);
                }
                if let (Some(last_ts), Some(last_at)) = (self.last_ts, previous_at) {
                    let ts_step = header.timestamp.wrapping_sub(last_ts) as i32;
                    let media_secs = f64::from(ts_step) / f64::from(self.clock_rate);
                    let wall_secs = now.saturating_duration_since(last_at).as_secs_f64();
                    // Backwards, or ahead of the wall clock by over a second. Advancing less
                    // than the wall clock is fine: a paused subscription resumes that way.
                    if ts_step < 0 || media_secs > wall_secs + 1.0 {
                        self.timestamp_jumps += 1;
                    }
                }
                self.last_seq = Some(seq);
                self.last_ts = Some(header.timestamp);
            }
        }
    }

    /// One-line summary for failure messages.
    pub fn summary(&self) -> String {
        format!(
            "{} (mid {}, {:?}): {} pkts, {} B, ssrcs {:?}, gaps {} (lost {}), reord {}, ts jumps {}, \
             keyframes {}, frames {}",
            self.track_id,
            self.mid,
            self.kind,
            self.packets,
            self.bytes,
            self.ssrcs,
            self.seq_gaps,
            self.lost_packets,
            self.reordered_or_duplicate,
            self.timestamp_jumps,
            self.keyframes,
            self.frames
        )
    }
}

/// Takes every received RTP packet in place of the built-in statistics.
///
/// For the load tool: hashing and keeping every payload, as [`ReceivedTrack`] does, would
/// cost more CPU than the forwarding it measures.
pub(crate) trait RtpTap: Send + Sync + std::fmt::Debug {
    /// One packet of `track_id` (as [`ReceivedTrack::track_id`]) that arrived at `at`.
    fn on_rtp(&self, track_id: &str, kind: PayloadKind, pkt: &rtp::Packet, at: Instant);
}

/// One received RTP packet, logged while [`TestClient::start_packet_log`](super::TestClient::start_packet_log)
/// is on: what a test needs to look at a stream packet by packet (around a layer switch, or
/// to tell repeated payloads apart by arrival time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRecord {
    /// Arrival time.
    pub at: Instant,
    /// RTP sequence number as received.
    pub seq: u16,
    /// RTP timestamp as received.
    pub timestamp: u32,
    /// SSRC as received.
    pub ssrc: u32,
    /// Marker bit.
    pub marker: bool,
    /// Integrity hash of the payload (see [`crate::payload`]); `None` if unparsable.
    pub hash: Option<u64>,
    /// First packet of a VP8 keyframe.
    pub keyframe: bool,
}

/// Everything observed by one client; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct ClientState {
    /// When set, received packets go here instead of into `received`.
    pub tap: Option<std::sync::Arc<dyn RtpTap>>,
    /// Other participants, by id.
    pub participants: BTreeMap<String, Participant>,
    /// Publications currently available (from `joined` and `track_published`), by id.
    pub tracks: BTreeMap<String, TrackInfo>,
    /// Latest mid → published track id map from server offers.
    pub mid_map: HashMap<String, String>,
    /// Every server frame in arrival order.
    pub frames: Vec<ServerFrame>,
    /// The text of every server frame, in arrival order (for checking what a client was
    /// told, word for word).
    pub raw_frames: Vec<String>,
    /// Problems on our side (failed SDP application, undecodable frames, ...).
    pub local_errors: Vec<String>,
    /// Receive statistics per publication.
    pub received: BTreeMap<String, ReceivedTrack>,
    /// Latest `active_speakers`.
    pub active_speakers: Vec<Speaker>,
    /// The WebSocket closed.
    pub socket_closed: bool,
    /// Our offers the server answered.
    pub answers_applied: u64,
    /// Server offers we answered.
    pub offers_answered: u64,
    /// Our offers we rolled back (a server offer crossed them, or `glare`).
    pub rollbacks: u64,
    /// Per publication, every packet received since logging was switched on; `None` (off)
    /// by default because it grows with every packet.
    pub packet_log: Option<BTreeMap<String, Vec<PacketRecord>>>,
}

/// Shared handle to [`ClientState`].
#[derive(Debug, Default)]
pub(crate) struct Shared(Mutex<ClientState>);

impl Shared {
    /// Locks the state; a poisoned lock (a panicking test thread) still yields the data, since
    /// the state is only statistics and stays meaningful.
    pub fn lock(&self) -> MutexGuard<'_, ClientState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps a frame's text as it arrived.
    pub fn record_raw(&self, text: &str) {
        self.lock().raw_frames.push(text.to_owned());
    }

    /// Records a client-side problem.
    pub fn local_error(&self, message: String) {
        tracing::warn!("test client: {message}");
        self.lock().local_errors.push(message);
    }

    /// Applies a server frame to the room view and appends it to the log.
    pub fn apply_frame(&self, frame: &ServerFrame) {
        let mut state = self.lock();
        match frame {
            ServerFrame::Joined(joined) => {
                for p in &joined.participants {
                    state.participants.insert(p.id.clone(), p.clone());
                }
                for t in &joined.tracks {
                    state.tracks.insert(t.id.clone(), t.clone());
                }
            }
            ServerFrame::Offer { tracks, .. } => {
                state.mid_map = tracks.clone();
            }
            ServerFrame::ParticipantJoined { participant } => {
                state
                    .participants
                    .insert(participant.id.clone(), participant.clone());
            }
            ServerFrame::ParticipantLeft { participant_id, .. } => {
                state.participants.remove(participant_id);
            }
            ServerFrame::ParticipantPaused {
                participant_id,
                reason,
                ..
            } => {
                if let Some(p) = state.participants.get_mut(participant_id) {
                    p.paused = reason.clone();
                }
            }
            ServerFrame::TrackPublished { track } => {
                state.tracks.insert(track.id.clone(), track.clone());
            }
            ServerFrame::TrackUnpublished { track_id } => {
                state.tracks.remove(track_id);
            }
            ServerFrame::TrackMuted { track_id, muted } => {
                if let Some(t) = state.tracks.get_mut(track_id) {
                    t.muted = *muted;
                }
            }
            ServerFrame::ActiveSpeakers { speakers } => {
                state.active_speakers = speakers.clone();
            }
            ServerFrame::ParticipantUpdated { participant } => {
                state
                    .participants
                    .insert(participant.id.clone(), participant.clone());
            }
            ServerFrame::Answer { .. }
            | ServerFrame::Left { .. }
            | ServerFrame::Waiting { .. }
            | ServerFrame::WaitingRoom { .. }
            | ServerFrame::Moved { .. }
            | ServerFrame::Chat { .. }
            | ServerFrame::Locked { .. }
            | ServerFrame::Recording(_)
            | ServerFrame::UnmuteRequested { .. }
            | ServerFrame::MutedByModerator { .. }
            | ServerFrame::EvidenceShared { .. }
            | ServerFrame::Pong { .. }
            | ServerFrame::LayerDemand { .. }
            | ServerFrame::IceRestart { .. }
            | ServerFrame::ConnectionHealth { .. }
            | ServerFrame::AudioOnly { .. }
            // Drafting is followed by the frame log (`frames`), which the agreement tests read.
            | ServerFrame::DraftState { .. }
            | ServerFrame::DraftAck { .. }
            | ServerFrame::DraftChanged { .. }
            | ServerFrame::DraftTyping { .. }
            | ServerFrame::DraftComment { .. }
            | ServerFrame::AgreementChanged { .. }
            | ServerFrame::Unknown
            | ServerFrame::Error(_) => {}
        }
        state.frames.push(frame.clone());
    }

    /// Counts one received RTP packet against the publication its mid currently carries.
    pub fn record_rtp(&self, mid: &str, kind: PayloadKind, pkt: &rtp::Packet) {
        let now = Instant::now();
        let mut state = self.lock();
        let track_id = state
            .mid_map
            .get(mid)
            .cloned()
            .unwrap_or_else(|| format!("mid:{mid}"));
        if let Some(tap) = state.tap.clone() {
            drop(state);
            tap.on_rtp(&track_id, kind, pkt, now);
            return;
        }
        if let Some(log) = state.packet_log.as_mut() {
            log.entry(track_id.clone()).or_default().push(PacketRecord {
                at: now,
                seq: pkt.header.sequence_number,
                timestamp: pkt.header.timestamp,
                ssrc: pkt.header.ssrc,
                marker: pkt.header.marker,
                hash: payload_hash(kind, &pkt.payload),
                keyframe: kind == PayloadKind::Vp8 && is_vp8_keyframe_packet(&pkt.payload),
            });
        }
        state
            .received
            .entry(track_id.clone())
            .or_insert_with(|| ReceivedTrack::new(track_id, mid.to_owned(), kind))
            .record(pkt, now);
    }

    /// Waits for a frame matching `pred` (already received ones count). `waiter` names who
    /// waits and `describe` tells what it has seen, for the message when `timeout` passes.
    pub async fn wait_for_frame(
        &self,
        waiter: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&ServerFrame) -> bool,
        describe: impl Fn() -> String,
    ) -> Result<ServerFrame> {
        wait_until(
            timeout,
            &format!("{waiter} to receive {what}"),
            || Ok(self.lock().frames.iter().find(|f| pred(f)).cloned()),
            describe,
        )
        .await
    }

    /// Error frames the server sent.
    pub fn server_errors(&self) -> Vec<ErrorFrame> {
        self.lock()
            .frames
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Error(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }
}
