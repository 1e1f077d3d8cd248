//! Prometheus metrics at `/metrics`: the SFU's counters read at scrape time, plus what
//! signaling observes itself (sessions, join time).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use accord_sfu::Sfu;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Everything `/metrics` reports.
pub struct Metrics {
    registry: Registry,
    join_seconds: Histogram,
    sessions: Arc<AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

#[derive(Debug)]
struct SfuCollector {
    sfu: Sfu,
    sessions: Arc<AtomicI64>,
}

impl Collector for SfuCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = self.sfu.stats();
        let gauges = [
            (
                "rooms",
                "Media rooms with at least one participant",
                s.rooms,
            ),
            (
                "participants",
                "Participants with a peer connection",
                s.participants,
            ),
            ("tracks", "Published tracks", s.tracks),
            (
                "ice_tcp_connections",
                "ICE-TCP connections open (clients whose network blocks UDP)",
                s.tcp_connections,
            ),
            (
                "signaling_sessions",
                "Open signaling WebSockets",
                self.sessions.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in gauges {
            let metric = ConstGauge::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        let counters = [
            (
                "forwarded_packets",
                "RTP packets forwarded to subscribers",
                s.forwarded_packets,
            ),
            (
                "forwarded_bytes",
                "Payload bytes forwarded to subscribers",
                s.forwarded_bytes,
            ),
            (
                "keyframe_requests",
                "PLIs sent to publishers",
                s.keyframe_requests,
            ),
            (
                "layer_switches",
                "Subscriber streams started on or moved to a simulcast layer",
                s.layer_switches,
            ),
            (
                "unrouted_datagrams",
                "Datagrams from unknown addresses or ufrags",
                s.unrouted_datagrams,
            ),
            (
                "receive_dropped_datagrams",
                "Datagrams dropped because a shard was busy",
                s.receive_dropped,
            ),
            (
                "ice_tcp_packets",
                "Packets received over ICE-TCP",
                s.tcp_frames,
            ),
            (
                "send_dropped_datagrams",
                "Datagrams dropped because the send buffer was full",
                s.send_dropped,
            ),
        ];
        for (name, help, value) in counters {
            let metric = ConstCounter::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        Ok(())
    }
}

impl Metrics {
    /// Registers the SFU's counters and signaling's own metrics under `accord_`.
    pub fn new(sfu: Sfu) -> Self {
        let mut registry = Registry::with_prefix("accord");
        let sessions = Arc::new(AtomicI64::new(0));
        registry.register_collector(Box::new(SfuCollector {
            sfu,
            sessions: Arc::clone(&sessions),
        }));
        let join_seconds = Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]);
        registry.register(
            "join_seconds",
            "Time from join to media connected",
            join_seconds.clone(),
        );
        Self {
            registry,
            join_seconds,
            sessions,
        }
    }

    /// Records one participant's time from join to connected.
    pub fn observe_join(&self, after: Duration) {
        self.join_seconds.observe(after.as_secs_f64());
    }

    /// A signaling socket opened (+1) or closed (−1).
    pub fn sessions_changed(&self, by: i64) {
        self.sessions.fetch_add(by, Ordering::Relaxed);
    }

    /// The text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
