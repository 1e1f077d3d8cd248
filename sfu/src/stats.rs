//! Counters the SFU keeps for metrics. Plain atomics: shards bump them on the packet path,
//! the metrics endpoint reads them.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Upper bounds of the forwarding delay's buckets, in microseconds (a last, unbounded
/// bucket follows).
pub const DELAY_BOUNDS_US: [u64; 8] = [500, 1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 50_000];

/// A histogram of durations with fixed buckets, cheap enough for the packet path.
#[derive(Debug, Default)]
struct DelayHistogram {
    /// Counts per bucket, not cumulative; the last is everything above the bounds.
    buckets: [AtomicU64; DELAY_BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

/// A copy of a delay histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DelaySnapshot {
    /// Observations at or below each of [`DELAY_BOUNDS_US`], cumulative.
    pub at_most: [u64; DELAY_BOUNDS_US.len()],
    /// Every observation.
    pub count: u64,
    /// Their sum, microseconds.
    pub sum_us: u64,
}

impl DelayHistogram {
    fn observe(&self, delay: std::time::Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        let bucket = DELAY_BOUNDS_US
            .iter()
            .position(|&bound| us <= bound)
            .unwrap_or(DELAY_BOUNDS_US.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    fn snapshot(&self) -> DelaySnapshot {
        let mut at_most = [0; DELAY_BOUNDS_US.len()];
        let mut running = 0;
        for (slot, bucket) in at_most.iter_mut().zip(&self.buckets) {
            running += bucket.load(Relaxed);
            *slot = running;
        }
        let count = running + self.buckets[DELAY_BOUNDS_US.len()].load(Relaxed);
        DelaySnapshot {
            at_most,
            count,
            sum_us: self.sum_us.load(Relaxed),
        }
    }
}

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
    forward_delay: DelayHistogram,
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
    /// How long batches of media read from participants' sockets stayed in their shard.
    pub forward_delay: DelaySnapshot,
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
            forward_delay: self.forward_delay.snapshot(),
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
    /// Media read from participants' sockets left the shard `delay` after it was read: the
    /// last copy of a batch's audio, or of a slice of video, was handed to the kernel (the
    /// delay of the oldest datagram in it).
    pub(crate) fn observe_forward_delay(&self, delay: std::time::Duration) {
        self.forward_delay.observe(delay);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn forward_delays_fall_into_cumulative_buckets() {
        let stats = SfuStats::default();
        for us in [100, 500, 501, 2_500, 60_000] {
            stats.observe_forward_delay(Duration::from_micros(us));
        }
        let d = stats.snapshot().forward_delay;
        assert_eq!(d.count, 5);
        assert_eq!(d.sum_us, 63_601);
        // ≤ 0.5 ms: two; ≤ 1 ms: three; ≤ 3 ms: four; the 60 ms one is above every bound.
        assert_eq!(d.at_most, [2, 3, 3, 4, 4, 4, 4, 4]);
    }
}
