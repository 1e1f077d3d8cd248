//! Counters the SFU keeps for metrics. Plain atomics: shards bump them on the packet path,
//! the metrics endpoint reads them.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Live counts and running totals of the media plane.
#[derive(Debug, Default)]
pub struct SfuStats {
    rooms: AtomicI64,
    participants: AtomicI64,
    tracks: AtomicI64,
    forwarded_packets: AtomicU64,
    forwarded_bytes: AtomicU64,
    keyframe_requests: AtomicU64,
    nacks: AtomicU64,
    nacked_packets: AtomicU64,
    layer_switches: AtomicU64,
    unrouted_datagrams: AtomicU64,
    receive_dropped: AtomicU64,
    handed_over: AtomicU64,
    received_direct: AtomicU64,
    send_dropped: AtomicU64,
    segmented: AtomicU64,
    tcp_connections: AtomicI64,
    tcp_frames: AtomicU64,
    recorded_packets: AtomicU64,
    recorder_dropped: AtomicU64,
    recorder_private_packets: AtomicU64,
    recorder_withheld_private: AtomicU64,
}

/// A consistent-enough copy of [`SfuStats`] for one scrape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SfuStatsSnapshot {
    /// Rooms with at least one participant.
    pub rooms: i64,
    /// Participants with a peer connection.
    pub participants: i64,
    /// Published tracks.
    pub tracks: i64,
    /// RTP packets written to subscribers.
    pub forwarded_packets: u64,
    /// Payload bytes of those packets.
    pub forwarded_bytes: u64,
    /// PLIs sent to publishers.
    pub keyframe_requests: u64,
    /// NACK feedback messages received from subscribers.
    pub nacks: u64,
    /// Packets those NACKs asked to be retransmitted.
    pub nacked_packets: u64,
    /// Times a subscriber's stream started on, or moved to, a simulcast layer.
    pub layer_switches: u64,
    /// Datagrams from addresses and ufrags nobody owns.
    pub unrouted_datagrams: u64,
    /// Datagrams dropped because a shard was too busy to take them.
    pub receive_dropped: u64,
    /// Datagrams the media reader (or ICE-TCP) handed to a shard over a channel: first ICE
    /// checks, a path that just moved, ICE-TCP.
    pub handed_over: u64,
    /// Datagrams a shard read itself from a participant's own socket.
    pub received_direct: u64,
    /// Datagrams dropped because the socket's send buffer was full.
    pub send_dropped: u64,
    /// Datagrams sent as part of a segmented send (UDP generic segmentation offload).
    pub segmented: u64,
    /// ICE-TCP connections open now.
    pub tcp_connections: i64,
    /// Packets received over ICE-TCP.
    pub tcp_frames: u64,
    /// RTP packets handed to recorder taps.
    pub recorded_packets: u64,
    /// Recorder events dropped because a recorder's queue was full.
    pub recorder_dropped: u64,
    /// Recorded packets that were published in a private room (caucus recording on).
    pub recorder_private_packets: u64,
    /// Packets published in a private room that a recorder did not get (caucus recording
    /// off).
    pub recorder_withheld_private: u64,
}

impl SfuStats {
    /// Copies the counters.
    pub fn snapshot(&self) -> SfuStatsSnapshot {
        SfuStatsSnapshot {
            rooms: self.rooms.load(Relaxed),
            participants: self.participants.load(Relaxed),
            tracks: self.tracks.load(Relaxed),
            forwarded_packets: self.forwarded_packets.load(Relaxed),
            forwarded_bytes: self.forwarded_bytes.load(Relaxed),
            keyframe_requests: self.keyframe_requests.load(Relaxed),
            nacks: self.nacks.load(Relaxed),
            nacked_packets: self.nacked_packets.load(Relaxed),
            layer_switches: self.layer_switches.load(Relaxed),
            unrouted_datagrams: self.unrouted_datagrams.load(Relaxed),
            receive_dropped: self.receive_dropped.load(Relaxed),
            handed_over: self.handed_over.load(Relaxed),
            received_direct: self.received_direct.load(Relaxed),
            send_dropped: self.send_dropped.load(Relaxed),
            segmented: self.segmented.load(Relaxed),
            tcp_connections: self.tcp_connections.load(Relaxed),
            tcp_frames: self.tcp_frames.load(Relaxed),
            recorded_packets: self.recorded_packets.load(Relaxed),
            recorder_dropped: self.recorder_dropped.load(Relaxed),
            recorder_private_packets: self.recorder_private_packets.load(Relaxed),
            recorder_withheld_private: self.recorder_withheld_private.load(Relaxed),
        }
    }

    pub(crate) fn rooms_changed(&self, by: i64) {
        self.rooms.fetch_add(by, Relaxed);
    }
    pub(crate) fn participants_changed(&self, by: i64) {
        self.participants.fetch_add(by, Relaxed);
    }
    pub(crate) fn tracks_changed(&self, by: i64) {
        self.tracks.fetch_add(by, Relaxed);
    }
    pub(crate) fn add_forwarded(&self, packets: u64, bytes: u64) {
        self.forwarded_packets.fetch_add(packets, Relaxed);
        self.forwarded_bytes.fetch_add(bytes, Relaxed);
    }
    pub(crate) fn add_pli(&self) {
        self.keyframe_requests.fetch_add(1, Relaxed);
    }
    pub(crate) fn add_nack(&self, packets: u64) {
        self.nacks.fetch_add(1, Relaxed);
        self.nacked_packets.fetch_add(packets, Relaxed);
    }
    pub(crate) fn add_layer_switch(&self) {
        self.layer_switches.fetch_add(1, Relaxed);
    }
    pub(crate) fn add_unrouted(&self, n: u64) {
        self.unrouted_datagrams.fetch_add(n, Relaxed);
    }
    pub(crate) fn add_receive_dropped(&self, n: u64) {
        self.receive_dropped.fetch_add(n, Relaxed);
    }
    pub(crate) fn add_handed_over(&self, n: u64) {
        self.handed_over.fetch_add(n, Relaxed);
    }
    pub(crate) fn add_received_direct(&self, n: u64) {
        self.received_direct.fetch_add(n, Relaxed);
    }
    pub(crate) fn add_send_dropped(&self, n: u64) {
        self.send_dropped.fetch_add(n, Relaxed);
    }
    pub(crate) fn add_segmented(&self, n: u64) {
        self.segmented.fetch_add(n, Relaxed);
    }
    pub(crate) fn tcp_connections_changed(&self, by: i64) {
        self.tcp_connections.fetch_add(by, Relaxed);
    }
    pub(crate) fn add_tcp_frame(&self) {
        self.tcp_frames.fetch_add(1, Relaxed);
    }
    pub(crate) fn add_recorded(&self, n: u64) {
        self.recorded_packets.fetch_add(n, Relaxed);
    }
    pub(crate) fn add_recorder_dropped(&self) {
        self.recorder_dropped.fetch_add(1, Relaxed);
    }
    pub(crate) fn add_recorder_private(&self, n: u64) {
        self.recorder_private_packets.fetch_add(n, Relaxed);
    }
    pub(crate) fn add_recorder_withheld_private(&self) {
        self.recorder_withheld_private.fetch_add(1, Relaxed);
    }
}
