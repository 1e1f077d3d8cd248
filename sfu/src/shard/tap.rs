//! A room's recorder tap as its shard runs it: which tracks reach the recorder, from which
//! layer, and whether the caucus policy holds them back. The public side is `crate::tap`.
//!
//! Why here and not as a subscriber: a subscription needs a peer connection to write into;
//! the recorder wants the packets themselves, with the time they arrived. Each tapped
//! publication carries a [`TrackTap`], so the forwarding path pays one `Option` check per
//! packet when nothing records.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use tokio::sync::mpsc::{self, error::TrySendError};

use super::Shard;
use super::publication::Publication;
use crate::forward::{Codec, Forwarder, PacketInfo};
use crate::ids::{Layer, MediaKind, RoomId, Space, TrackId};
use crate::stats::SfuStats;
use crate::tap::{TapCodec, TapConfig, TapEvent, TapPacket, TapShared, TapStopReason};

/// What the recorder's handle asks of the shard that owns its room.
pub(crate) enum TapCommand {
    /// Start tapping a room.
    Start {
        room: RoomId,
        id: u64,
        config: TapConfig,
        shared: Arc<TapShared>,
        events: mpsc::Sender<TapEvent>,
    },
    /// Stop delivering (the handle has already set the shared switch).
    Pause(RoomId, u64),
    /// Deliver again, from a keyframe.
    Resume(RoomId, u64),
    /// The handle was dropped.
    Stop(RoomId, u64),
}

/// Places in a tap's queue only track events (started, stopped, moved) may take: an eighth of
/// it, at most this many.
const TRACK_EVENT_ROOM: usize = 64;

/// A room's tap, as the shard keeps it.
pub(super) struct RoomTap {
    id: u64,
    config: TapConfig,
    shared: Arc<TapShared>,
    events: mpsc::Sender<TapEvent>,
}

/// The tap's view of one publication: its own forwarder (one layer, continuous numbering)
/// and whether the caucus policy holds it back.
#[derive(Debug)]
pub(crate) struct TrackTap {
    events: mpsc::Sender<TapEvent>,
    shared: Arc<TapShared>,
    pub forwarder: Forwarder,
    /// The size the recorder renders video at.
    pub preferred_size: (u32, u32),
    /// One SSRC for the recorder, whatever layer is recorded.
    ssrc: u32,
    /// Its publisher is in a private room that is not recorded: nothing is delivered.
    pub withheld: bool,
    /// Its publisher is in a private room that is recorded.
    private: bool,
}

impl TrackTap {
    /// A tap on a track whose publisher is in a `private` room, `withheld` if such rooms
    /// are not recorded. Nothing is recorded until a target layer is set.
    pub fn new(
        events: mpsc::Sender<TapEvent>,
        shared: Arc<TapShared>,
        codec: Codec,
        preferred_size: (u32, u32),
        private: bool,
        withheld: bool,
    ) -> Self {
        Self {
            events,
            shared,
            forwarder: Forwarder::new(codec, None),
            preferred_size,
            ssrc: rand::random(),
            withheld,
            private,
        }
    }

    /// Queues a packet or sender report for the recorder; a queue that has only the room kept
    /// for track events left drops it and counts the drop, so a recorder that falls behind
    /// loses media, never the news that a track started or stopped.
    fn deliver_media(&self, event: TapEvent, stats: &SfuStats) -> bool {
        let kept = (self.events.max_capacity() / 8).min(TRACK_EVENT_ROOM);
        if self.events.capacity() <= kept {
            self.shared.dropped.fetch_add(1, Relaxed);
            stats.add_recorder_dropped();
            return false;
        }
        self.deliver(event, stats)
    }

    /// Queues an event for the recorder; a full queue drops it and counts the drop.
    fn deliver(&self, event: TapEvent, stats: &SfuStats) -> bool {
        match self.events.try_send(event) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.shared.dropped.fetch_add(1, Relaxed);
                stats.add_recorder_dropped();
                false
            }
            // The recorder is gone; the next tick takes the tap down.
            Err(TrySendError::Closed(_)) => false,
        }
    }

    /// One packet of the publication, after the engine's interceptors.
    pub fn on_rtp(
        &mut self,
        track: &TrackId,
        layer: Layer,
        packet: &rtc::rtp::Packet,
        info: &PacketInfo,
        arrival: Instant,
        stats: &SfuStats,
    ) {
        if self.withheld {
            self.shared.withheld_private.fetch_add(1, Relaxed);
            stats.add_recorder_withheld_private();
            return;
        }
        if self.shared.paused.load(Relaxed) {
            return;
        }
        let header = &packet.header;
        let Some(rewrite) = self.forwarder.forward(
            layer,
            header.sequence_number,
            header.timestamp,
            info,
            arrival,
        ) else {
            return;
        };
        let payload = rewrite.payload(&packet.payload, info);
        let event = TapEvent::Rtp {
            track: track.clone(),
            arrival,
            packet: TapPacket {
                sequence_number: rewrite.sequence_number,
                timestamp: rewrite.timestamp,
                ssrc: self.ssrc,
                payload_type: header.payload_type,
                marker: header.marker,
                keyframe: info.keyframe_start,
                layer,
                payload,
            },
        };
        if self.deliver_media(event, stats) {
            self.shared.delivered.fetch_add(1, Relaxed);
            stats.add_recorded(1);
            if self.private {
                self.shared.from_private_rooms.fetch_add(1, Relaxed);
                stats.add_recorder_private(1);
            }
        }
    }

    /// A sender report of the publication's `layer`: delivered when that layer is the one
    /// recorded, with its RTP time on the tap's continuous timeline.
    pub fn on_sender_report(
        &self,
        track: &TrackId,
        layer: Layer,
        report: &crate::peer::SeenSenderReport,
        stats: &SfuStats,
    ) {
        if self.withheld || self.shared.paused.load(Relaxed) {
            return;
        }
        if self.forwarder.current() != Some(layer) {
            return;
        }
        let offset = self.forwarder.timestamp_offset();
        self.deliver_media(
            TapEvent::SenderReport {
                track: track.clone(),
                arrival: report.arrival,
                ntp_time: report.ntp_time,
                rtp_time: report.rtp_time.wrapping_add(offset),
            },
            stats,
        );
    }

    /// The layer to record: what a subscriber rendering the preferred size would get.
    pub fn target(&self, pubn: &Publication, now: Instant) -> Option<Layer> {
        // While paused the recorder waits, so that it resumes at a keyframe.
        if self.withheld || self.shared.paused.load(Relaxed) {
            return None;
        }
        pubn.choose_layer(Some(self.preferred_size), now, true)
    }
}

impl Shard {
    pub(super) fn handle_tap(&mut self, command: TapCommand) {
        let now = self.now;
        match command {
            TapCommand::Start {
                room,
                id,
                config,
                shared,
                events,
            } => self.start_tap(
                room,
                RoomTap {
                    id,
                    config,
                    shared,
                    events,
                },
                now,
            ),
            TapCommand::Pause(room, id) => {
                for k in self.tapped_publications(&room, id) {
                    if let Some(tap) = self.publications[k].tap.as_deref_mut() {
                        // Resuming waits for a keyframe, so the recording restarts cleanly.
                        tap.forwarder.set_target(None);
                    }
                }
            }
            TapCommand::Resume(room, id) => {
                let tapped = self.tapped_publications(&room, id);
                if let Some(tap) = self.rooms.get(&room).and_then(|r| r.tap.as_ref()) {
                    tap.shared.paused.store(false, Relaxed);
                }
                for k in tapped {
                    self.retarget_tap(k, now, true);
                }
            }
            TapCommand::Stop(room, id) => self.stop_tap(&room, id),
        }
    }

    fn start_tap(&mut self, room_id: RoomId, tap: RoomTap, now: Instant) {
        let room = self.rooms.entry(room_id.clone()).or_default();
        room.tap = Some(tap);
        let publications = room.publications.clone();
        for k in publications {
            self.tap_publication(k, now);
        }
    }

    /// Takes the tap off a room and its publications; a room kept only by its tap goes.
    fn stop_tap(&mut self, room_id: &RoomId, id: u64) {
        let publications = self.tapped_publications(room_id, id);
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        room.tap = None;
        if room.participants.is_empty() && room.publications.is_empty() {
            self.rooms.remove(room_id);
        }
        for k in publications {
            if let Some(pubn) = self.publications.get_mut(k) {
                pubn.tap = None;
            }
        }
        // Layers only the recorder wanted may now be paused.
        self.update_layers_of(room_id, self.now);
    }

    /// The publications of a room whose tap is `id`, none if the room's tap is another.
    fn tapped_publications(&self, room: &RoomId, id: u64) -> Vec<usize> {
        match self.rooms.get(room) {
            Some(r) if r.tap.as_ref().is_some_and(|t| t.id == id) => r.publications.clone(),
            _ => Vec::new(),
        }
    }

    /// Starts delivering a publication of a tapped room (a new track, or a new tap).
    pub(super) fn tap_publication(&mut self, k: usize, now: Instant) {
        let Some(pubn) = self.publications.get(k) else {
            return;
        };
        let space = self.space_of(pubn.owner).unwrap_or(Space::MAIN);
        let Some(room_tap) = self.rooms.get(&pubn.room).and_then(|r| r.tap.as_ref()) else {
            return;
        };
        let private = space != Space::MAIN;
        let tap = TrackTap::new(
            room_tap.events.clone(),
            room_tap.shared.clone(),
            pubn.codec,
            room_tap.config.preferred_size,
            private,
            private && !room_tap.config.record_private_rooms,
        );
        let started = (!tap.withheld).then(|| started_event(pubn, space, now));
        if let Some(event) = started {
            tap.deliver(event, &self.ctx.stats);
        }
        self.publications[k].tap = Some(Box::new(tap));
        self.retarget_tap(k, now, true);
    }

    /// Re-chooses the recorded layer of a publication; asks for a keyframe when the tap
    /// waits for one (a new target, or `restart`).
    pub(super) fn retarget_tap(&mut self, k: usize, now: Instant, restart: bool) {
        let Some(pubn) = self.publications.get_mut(k) else {
            return;
        };
        let Some(tap) = pubn.tap.as_deref() else {
            return;
        };
        let target = tap.target(pubn, now);
        let changed = tap.forwarder.target() != target;
        let Some(tap) = pubn.tap.as_deref_mut() else {
            return;
        };
        if changed || restart {
            if restart {
                tap.forwarder.set_target(None);
            }
            tap.forwarder.set_target(target);
        }
        let waiting = tap.forwarder.current() != target;
        if let (Some(layer), true) = (target, waiting && pubn.kind == MediaKind::Video)
            && (changed || restart)
        {
            self.request_keyframe(k, layer, now);
        }
    }

    /// A publisher moved between spaces: with private rooms unrecorded, its tracks stop when
    /// it leaves the joint room and start again when it returns; otherwise the recorder is
    /// told where they are now.
    pub(super) fn tap_moved(&mut self, owner: usize, to: Space, now: Instant) {
        let Some(p) = self.participants.get(owner) else {
            return;
        };
        let owned = p.publishing.publications.clone();
        let records_private = self.records_private(&p.room);
        let private = to != Space::MAIN;
        for k in owned {
            let Some(pubn) = self.publications.get_mut(k) else {
                continue;
            };
            let Some(tap) = pubn.tap.as_deref_mut() else {
                continue;
            };
            let returned = !private && tap.withheld;
            let event = if records_private {
                tap.private = private;
                Some(TapEvent::TrackSpace {
                    track: pubn.id.clone(),
                    space: to,
                    at: now,
                })
            } else if private && !tap.withheld {
                tap.withheld = true;
                tap.forwarder.set_target(None);
                Some(TapEvent::TrackStopped {
                    track: pubn.id.clone(),
                    reason: TapStopReason::PrivateRoom,
                    at: now,
                })
            } else if returned {
                tap.withheld = false;
                Some(started_event(pubn, to, now))
            } else {
                // From one unrecorded private room to another: still nothing to tell.
                None
            };
            if let (Some(event), Some(tap)) = (event, pubn.tap.as_deref()) {
                tap.deliver(event, &self.ctx.stats);
            }
            self.retarget_tap(k, now, returned);
        }
    }

    fn records_private(&self, room: &RoomId) -> bool {
        self.rooms
            .get(room)
            .and_then(|r| r.tap.as_ref())
            .is_some_and(|t| t.config.record_private_rooms)
    }

    /// A tapped publication is going away: the recorder hears why, unless the caucus policy
    /// had already stopped it.
    pub(super) fn tap_track_ends(&mut self, k: usize, reason: TapStopReason) {
        let Some(pubn) = self.publications.get_mut(k) else {
            return;
        };
        let Some(tap) = pubn.tap.take() else {
            return;
        };
        if !tap.withheld {
            tap.deliver(
                TapEvent::TrackStopped {
                    track: pubn.id.clone(),
                    reason,
                    at: self.now,
                },
                &self.ctx.stats,
            );
        }
    }

    /// Hands sender reports a publisher's connection read to the taps of its publications.
    pub(super) fn tap_sender_reports(
        &self,
        publisher: usize,
        reports: &super::participant::SenderReports,
    ) {
        let Some(p) = self.participants.get(publisher) else {
            return;
        };
        for report in reports {
            let Some(route) = p.route_of(report.ssrc) else {
                continue;
            };
            let Some(pubn) = self.publications.get(route.publication) else {
                continue;
            };
            if let Some(tap) = pubn.tap.as_deref() {
                tap.on_sender_report(&pubn.id, route.layer, report, &self.ctx.stats);
            }
        }
    }

    /// Stops taps whose recorder dropped its event queue without dropping the handle.
    pub(super) fn reap_taps(&mut self) {
        let abandoned: Vec<(RoomId, u64)> = self
            .rooms
            .iter()
            .filter_map(|(id, r)| r.tap.as_ref().map(|t| (id, t)))
            .filter(|(_, t)| t.events.is_closed())
            .map(|(id, t)| (id.clone(), t.id))
            .collect();
        for (room, id) in abandoned {
            self.stop_tap(&room, id);
        }
    }

    fn update_layers_of(&mut self, room: &RoomId, now: Instant) {
        let publications = self
            .rooms
            .get(room)
            .map(|r| r.publications.clone())
            .unwrap_or_default();
        for k in publications {
            self.update_layers(k, now);
        }
    }
}

/// The event that tells the recorder a publication reaches it from now on.
fn started_event(pubn: &Publication, space: Space, at: Instant) -> TapEvent {
    let codec = &pubn.codec_params;
    TapEvent::TrackStarted {
        track: pubn.id.clone(),
        participant: pubn.owner_id.clone(),
        kind: pubn.kind,
        source: pubn.source,
        codec: TapCodec {
            mime_type: codec.mime_type.clone(),
            clock_rate: codec.clock_rate,
            channels: codec.channels,
            fmtp: codec.sdp_fmtp_line.clone(),
        },
        space,
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn tap(queue: usize, private: bool, withheld: bool) -> (TrackTap, mpsc::Receiver<TapEvent>) {
        let (events, received) = mpsc::channel(queue);
        let mut tap = TrackTap::new(
            events,
            Arc::default(),
            Codec::Audio,
            (640, 360),
            private,
            withheld,
        );
        tap.forwarder.set_target(Some(Layer(0)));
        (tap, received)
    }

    fn packet(seq: u16) -> rtc::rtp::Packet {
        rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                sequence_number: seq,
                timestamp: u32::from(seq) * 960,
                ssrc: 7,
                payload_type: 111,
                ..Default::default()
            },
            payload: Bytes::from_static(&[0xf8, 1, 2]),
        }
    }

    fn feed(tap: &mut TrackTap, stats: &SfuStats, seqs: std::ops::Range<u16>) {
        let track = TrackId::new("TR_test");
        let info = Codec::Audio.inspect(&[0xf8]);
        for seq in seqs {
            tap.on_rtp(&track, Layer(0), &packet(seq), &info, Instant::now(), stats);
        }
    }

    #[test]
    fn a_withheld_track_delivers_nothing_and_counts_what_it_held_back() {
        let stats = SfuStats::default();
        let (mut tap, mut received) = tap(16, true, true);
        feed(&mut tap, &stats, 0..5);
        assert!(received.try_recv().is_err());
        assert_eq!(tap.shared.withheld_private.load(Relaxed), 5);
        assert_eq!(stats.snapshot().recorder_withheld_private, 5);
        assert_eq!(stats.snapshot().recorded_packets, 0);
    }

    #[test]
    fn a_recorder_behind_loses_packets_but_hears_of_tracks() {
        let stats = SfuStats::default();
        let (mut tap, mut received) = tap(16, false, false);
        feed(&mut tap, &stats, 0..40);
        let delivered = tap.shared.delivered.load(Relaxed);
        assert!(
            delivered < 16,
            "media leaves room in the queue: {delivered}"
        );
        let stopped = TapEvent::TrackStopped {
            track: TrackId::new("TR_test"),
            reason: TapStopReason::Left,
            at: Instant::now(),
        };
        assert!(tap.deliver(stopped, &stats), "the track event still fits");
        let mut last = None;
        while let Ok(event) = received.try_recv() {
            last = Some(event);
        }
        assert!(matches!(last, Some(TapEvent::TrackStopped { .. })));
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let stats = SfuStats::default();
        let (mut tap, mut received) = tap(2, false, false);
        feed(&mut tap, &stats, 10..15);
        assert_eq!(tap.shared.delivered.load(Relaxed), 2);
        assert_eq!(tap.shared.dropped.load(Relaxed), 3);
        assert_eq!(stats.snapshot().recorder_dropped, 3);
        let Ok(TapEvent::Rtp { packet, .. }) = received.try_recv() else {
            panic!("an RTP event first");
        };
        assert_eq!(packet.sequence_number, 10);
        assert_eq!(packet.ssrc, tap.ssrc);
    }

    #[test]
    fn paused_delivers_nothing_and_a_recorded_private_room_is_counted() {
        let stats = SfuStats::default();
        let (mut tap, mut received) = tap(16, true, false);
        tap.shared.paused.store(true, Relaxed);
        feed(&mut tap, &stats, 0..3);
        assert!(received.try_recv().is_err());
        tap.shared.paused.store(false, Relaxed);
        feed(&mut tap, &stats, 3..6);
        assert_eq!(tap.shared.from_private_rooms.load(Relaxed), 3);
        assert_eq!(stats.snapshot().recorder_private_packets, 3);
    }

    #[test]
    fn sender_reports_follow_the_recorded_layer_on_its_timeline() {
        let stats = SfuStats::default();
        let (mut tap, mut received) = tap(16, false, false);
        feed(&mut tap, &stats, 100..101);
        while received.try_recv().is_ok() {}
        let report = crate::peer::SeenSenderReport {
            arrival: Instant::now(),
            ssrc: 7,
            ntp_time: 42,
            rtp_time: 96_000,
        };
        let track = TrackId::new("TR_test");
        tap.on_sender_report(&track, Layer(1), &report, &stats);
        assert!(
            received.try_recv().is_err(),
            "another layer's report is not ours"
        );
        tap.on_sender_report(&track, Layer(0), &report, &stats);
        let Ok(TapEvent::SenderReport {
            rtp_time, ntp_time, ..
        }) = received.try_recv()
        else {
            panic!("the recorded layer's report is delivered");
        };
        assert_eq!((ntp_time, rtp_time), (42, 96_000));
    }
}
