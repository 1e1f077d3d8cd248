//! Prometheus metrics at `/metrics`: the SFU's counters read at scrape time, plus what
//! signaling observes itself (sessions, join time). Every series carries the node's id as
//! its `node` label, so a Prometheus scraping several nodes (or a federation of them) can
//! sum or compare them without relying on scrape-target relabelling.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use accord_recordings::recorder::RecorderMetrics;
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
    recorder: Arc<RecorderMetrics>,
}

impl Collector for SfuCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = self.sfu.stats();
        let r = self.recorder.snapshot();
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
            ("recordings_active", "Recordings running", r.active),
            (
                "recording_uploads_pending",
                "Finished recording files not yet in the blob store",
                r.pending_upload,
            ),
        ];
        for (name, help, value) in gauges {
            let metric = ConstGauge::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        let busiest = ConstGauge::new(self.sfu.busiest_shard());
        busiest.encode(encoder.encode_descriptor(
            "media_busiest_shard_ratio",
            "Share of its last second the busiest media shard spent working; new rooms go to another shard above 0.5",
            None,
            busiest.metric_type(),
        )?)?;
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
                "handed_over_datagrams",
                "Datagrams handed to a shard by the media reader or ICE-TCP (first checks, moved paths, TCP)",
                s.handed_over,
            ),
            (
                "direct_datagrams",
                "Datagrams a shard read from a participant's own socket",
                s.received_direct,
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
            (
                "segmented_datagrams",
                "Datagrams sent in a segmented send (UDP generic segmentation offload)",
                s.segmented,
            ),
            (
                "recording_bytes_written",
                "Bytes written to recording folders",
                r.bytes_written,
            ),
            (
                "recording_write_errors",
                "Recordings stopped by a write error or a full disk",
                r.write_errors,
            ),
            ("recordings_finished", "Recordings finalised", r.finished),
            (
                "recorded_packets",
                "RTP packets handed to recorders",
                s.recorded_packets,
            ),
            (
                "recorder_dropped_packets",
                "RTP packets dropped because a recorder fell behind",
                s.recorder_dropped,
            ),
            (
                "recorder_private_room_packets",
                "RTP packets from private rooms handed to recorders (0 unless they are recorded)",
                s.recorder_private_packets,
            ),
            (
                "recorder_withheld_private_packets",
                "RTP packets from private rooms withheld from recorders by the caucus policy",
                s.recorder_withheld_private,
            ),
        ];
        for (name, help, value) in counters {
            let metric = ConstCounter::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        let delay = s.forward_delay;
        // The encoder takes each bucket's own count and adds them up as it writes.
        let mut below = 0;
        let mut buckets: Vec<(f64, u64)> = accord_sfu::DELAY_BOUNDS_US
            .iter()
            .zip(delay.at_most)
            .map(|(&bound, at_most)| {
                let own = at_most - below;
                below = at_most;
                (bound as f64 / 1e6, own)
            })
            .collect();
        // The text encoder writes `+Inf` for `f64::MAX` only (what its own histogram uses).
        buckets.push((f64::MAX, delay.count - below));
        encoder
            .encode_descriptor(
                "forward_delay_seconds",
                "Time a batch of media read from a participant's socket stays in its shard, until its last copy is handed to the kernel",
                None,
                prometheus_client::metrics::MetricType::Histogram,
            )?
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(delay.sum_us as f64 / 1e6, delay.count, &buckets, None)?;
        Ok(())
    }
}

impl Metrics {
    /// Registers the SFU's and the recorder's counters and signaling's own metrics under
    /// `accord_`, each labelled `node="<node_id>"`.
    pub fn new(sfu: Sfu, recorder: Arc<RecorderMetrics>, node_id: &str) -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            "accord",
            std::iter::once((Cow::Borrowed("node"), Cow::Owned(node_id.to_owned()))),
        );
        let sessions = Arc::new(AtomicI64::new(0));
        registry.register_collector(Box::new(SfuCollector {
            sfu,
            sessions: Arc::clone(&sessions),
            recorder,
        }));
        registry.register_collector(Box::new(crate::confirmation::connector::DeliveryCollector));
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

    /// Signaling sockets open now.
    pub fn sessions(&self) -> i64 {
        self.sessions.load(Ordering::Relaxed)
    }

    /// The text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_series_names_its_node() {
        let sfu = accord_sfu::Sfu::start(accord_sfu::SfuConfig {
            listen: "127.0.0.1:0".parse().expect("an address"),
            tcp: accord_sfu::TcpListen::Off,
            ..Default::default()
        })
        .expect("an SFU on loopback");
        let metrics = Metrics::new(sfu, Arc::default(), "N_metrics-1");
        metrics.observe_join(Duration::from_millis(300));
        let text = metrics.render().expect("rendered");
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(samples.len() > 20, "{text}");
        for sample in &samples {
            assert!(sample.contains(r#"node="N_metrics-1""#), "{sample}");
        }
        assert!(
            samples.contains(&r#"accord_rooms{node="N_metrics-1"} 0"#),
            "{text}"
        );
        assert!(
            samples.contains(&r#"accord_join_seconds_bucket{node="N_metrics-1",le="0.5"} 1"#),
            "{text}"
        );
        // No room yet, so no shard has worked.
        assert!(
            samples.contains(&r#"accord_media_busiest_shard_ratio{node="N_metrics-1"} 0.0"#),
            "{text}"
        );
    }
}
