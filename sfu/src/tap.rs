//! The recorder tap: what a room's recorder receives from the SFU, and the handle it holds.
//!
//! A tap is not a participant: it has no peer connection and costs the forwarding path one
//! branch per packet when no room is tapped. The shard that owns the room hands it each
//! published track's packets after the engine's interceptors (so retransmissions asked for
//! by the NACK generator arrive too), with their arrival times, and the publishers' sender
//! reports, over one bounded queue. Video is one simulcast layer per track, chosen like a
//! subscriber rendering [`TapConfig::preferred_size`] and switched only at keyframes, with
//! sequence numbers and timestamps rewritten so the stream stays continuous. What the
//! shard does with a tap is in `shard::tap`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::ids::{Layer, MediaKind, ParticipantId, RoomId, Space, TrackId, TrackSource};
use crate::server::Sfu;
use crate::shard::{Command, TapCommand};

/// How a room is recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapConfig {
    /// Whether media published in private (caucus) rooms reaches the recorder. When `false`,
    /// not one packet from a space other than [`Space::MAIN`] is delivered.
    pub record_private_rooms: bool,
    /// The size the recorder "renders" video at; each track's layer is chosen as for a
    /// subscriber showing it this size.
    pub preferred_size: (u32, u32),
    /// How many events may wait in [`RecorderTap::events`]; more are dropped and counted.
    pub queue: usize,
}

impl Default for TapConfig {
    fn default() -> Self {
        Self {
            record_private_rooms: false,
            preferred_size: (640, 360),
            queue: 4096,
        }
    }
}

/// The codec a tapped track carries, as negotiated with its publisher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapCodec {
    /// `audio/opus`, `video/VP8`, `video/H264`, ….
    pub mime_type: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels (0 for video).
    pub channels: u16,
    /// The SDP `fmtp` line's parameters.
    pub fmtp: String,
}

/// Why a track stopped reaching the recorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapStopReason {
    /// Its publisher stopped sending it.
    Unpublished,
    /// Its publisher moved into a private room that is not recorded.
    PrivateRoom,
    /// Its publisher left the room.
    Left,
}

/// One RTP packet of a tapped track, as the recorder should store it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapPacket {
    /// Continuous across layer switches and pauses.
    pub sequence_number: u16,
    /// Continuous across layer switches; advanced by the wall-clock gap after a pause.
    pub timestamp: u32,
    /// One SSRC per tapped track, whatever layer it comes from.
    pub ssrc: u32,
    /// The payload type the publisher used.
    pub payload_type: u8,
    /// The RTP marker bit (end of a video frame).
    pub marker: bool,
    /// A decoder can start at this packet (always true for audio).
    pub keyframe: bool,
    /// The simulcast layer it came from.
    pub layer: Layer,
    /// The payload, without RTP header or extensions.
    pub payload: Bytes,
}

/// What the recorder is told, in the order it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum TapEvent {
    /// A track reaches the recorder from now on (published, tap started, or its publisher
    /// came back from an unrecorded private room; the same id may start again).
    TrackStarted {
        /// The track.
        track: TrackId,
        /// Who publishes it.
        participant: ParticipantId,
        /// Audio or video.
        kind: MediaKind,
        /// Microphone, camera or screen.
        source: TrackSource,
        /// What its packets carry.
        codec: TapCodec,
        /// The space its publisher is in.
        space: Space,
        /// When.
        at: Instant,
    },
    /// A track no longer reaches the recorder.
    TrackStopped {
        /// The track.
        track: TrackId,
        /// Why.
        reason: TapStopReason,
        /// When.
        at: Instant,
    },
    /// A recorded track's publisher moved to another space (only when private rooms are
    /// recorded).
    TrackSpace {
        /// The track.
        track: TrackId,
        /// The space it is published in now.
        space: Space,
        /// When.
        at: Instant,
    },
    /// A packet of a track.
    Rtp {
        /// The track.
        track: TrackId,
        /// When its datagram reached the SFU.
        arrival: Instant,
        /// The packet.
        packet: TapPacket,
    },
    /// The publisher's RTCP sender report for the recorded layer of a track.
    SenderReport {
        /// The track.
        track: TrackId,
        /// When the report reached the SFU.
        arrival: Instant,
        /// The sender's NTP wall clock (RFC 3550 64-bit fixed point).
        ntp_time: u64,
        /// The RTP time that corresponds to it, on the tap's continuous timeline.
        rtp_time: u32,
    },
}

/// What one tap has delivered and held back so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TapCounters {
    /// RTP packets put in the queue.
    pub delivered: u64,
    /// Of those, packets published in a private room (only when private rooms are recorded).
    pub from_private_rooms: u64,
    /// Packets published in a private room that were not delivered by policy.
    pub withheld_private: u64,
    /// Events of any kind lost because the queue was full.
    pub dropped: u64,
}

/// Tells one tap from an earlier tap of the same room whose stop is still on its way.
static NEXT_TAP_ID: AtomicU64 = AtomicU64::new(1);

/// State the recorder's handle and the shard share: the pause switch and the counters.
#[derive(Debug, Default)]
pub(crate) struct TapShared {
    pub paused: AtomicBool,
    pub delivered: AtomicU64,
    pub from_private_rooms: AtomicU64,
    pub withheld_private: AtomicU64,
    pub dropped: AtomicU64,
}

/// A running recorder tap on one room. Dropping it stops the tap.
pub struct RecorderTap {
    /// What the room's tracks send the recorder.
    pub events: mpsc::Receiver<TapEvent>,
    sfu: Sfu,
    shard: usize,
    room: RoomId,
    id: u64,
    shared: Arc<TapShared>,
}

impl std::fmt::Debug for RecorderTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderTap")
            .field("room", &self.room)
            .field("counters", &self.counters())
            .finish()
    }
}

impl RecorderTap {
    /// Stops delivering anything until [`resume`](Self::resume). Takes effect at once.
    pub fn pause(&self) {
        self.shared.paused.store(true, Relaxed);
        self.control(TapCommand::Pause);
    }

    /// Delivers again; each video track restarts at a keyframe, which is asked for.
    pub fn resume(&self) {
        // The shard clears the pause itself, after readying every track to restart at a
        // keyframe, so nothing between a pause and its resume slips through.
        self.control(TapCommand::Resume);
    }

    /// What the tap has delivered and held back so far.
    pub fn counters(&self) -> TapCounters {
        TapCounters {
            delivered: self.shared.delivered.load(Relaxed),
            from_private_rooms: self.shared.from_private_rooms.load(Relaxed),
            withheld_private: self.shared.withheld_private.load(Relaxed),
            dropped: self.shared.dropped.load(Relaxed),
        }
    }

    fn control(&self, command: fn(RoomId, u64) -> TapCommand) {
        // A shard that is gone has nothing left to pause or resume.
        let _ = self.sfu.inner.shards[self.shard]
            .send(Command::Tap(command(self.room.clone(), self.id)));
    }
}

impl Drop for RecorderTap {
    fn drop(&mut self) {
        self.control(TapCommand::Stop);
        self.sfu.release_tap(&self.room, self.id);
    }
}

impl Sfu {
    /// Starts recording `room`: tracks published there now and later are delivered to the
    /// returned tap. A room nobody has joined yet is placed on a shard now, so that those
    /// who join later meet the tap there. [`Error::AlreadyTapped`] if the room is already
    /// being recorded.
    pub fn tap_room(&self, room: &RoomId, config: TapConfig) -> Result<RecorderTap> {
        let id = NEXT_TAP_ID.fetch_add(1, Relaxed);
        let shard = self.place_tap(room, id)?;
        let (events_tx, events) = mpsc::channel(config.queue.max(1));
        let shared = Arc::new(TapShared::default());
        let tap = RecorderTap {
            events,
            sfu: self.clone(),
            shard,
            room: room.clone(),
            id,
            shared: shared.clone(),
        };
        let start = Command::Tap(TapCommand::Start {
            room: room.clone(),
            id,
            config,
            shared,
            events: events_tx,
        });
        self.inner.shards[shard]
            .send(start)
            .map_err(|_| Error::ShuttingDown)?;
        Ok(tap)
    }
}
