//! The result of a load run: every figure as JSON (`--json`) or as a table for people.

use super::histogram::Snapshot;
use super::nodes::Placement;
use super::recorded_room::RecordingFigures;
use super::recorder::LatencySnapshot;
use super::target::ServerCounters;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Latency quantiles of one set of packets, in microseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Quantiles {
    /// Packets measured.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 95th percentile.
    pub p95_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest.
    pub max_us: f64,
}

impl Quantiles {
    /// From a histogram of nanoseconds.
    pub fn of(s: &Snapshot) -> Self {
        let us = |q: f64| s.quantile(q).map_or(0.0, |ns| ns as f64 / 1000.0);
        Self {
            count: s.count(),
            p50_us: us(0.50),
            p95_us: us(0.95),
            p99_us: us(0.99),
            max_us: s.max() as f64 / 1000.0,
        }
    }
}

/// Latency of one path.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PathLatency {
    /// Every packet.
    pub all: Quantiles,
    /// Audio packets.
    pub audio: Quantiles,
    /// Video packets.
    pub video: Quantiles,
}

impl PathLatency {
    /// From a path's histograms.
    pub fn of(s: &LatencySnapshot) -> Self {
        Self {
            all: Quantiles::of(&s.all),
            audio: Quantiles::of(&s.audio),
            video: Quantiles::of(&s.video),
        }
    }
}

/// Durations from sending `join`, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Durations {
    /// Participants measured.
    pub samples: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Longest.
    pub max_ms: f64,
}

impl Durations {
    /// Nearest-rank quantiles of `values` (milliseconds).
    pub fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let at = |q: f64| {
            if values.is_empty() {
                return 0.0;
            }
            let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
            values[rank - 1]
        };
        Self {
            samples: values.len(),
            p50_ms: at(0.5),
            p95_ms: at(0.95),
            max_ms: values.last().copied().unwrap_or(0.0),
        }
    }
}

/// Loss over every received stream.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Loss {
    /// Streams (one publication as one subscriber gets it).
    pub streams: usize,
    /// Median of the per-stream loss.
    pub median_percent: f64,
    /// Worst stream.
    pub worst_percent: f64,
    /// Which stream was worst (subscriber ← track).
    pub worst_stream: String,
    /// Packets missing, all streams.
    pub lost_packets: u64,
    /// Packets that arrived behind newer ones.
    pub late_packets: u64,
}

/// CPU use of a process over the window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cpu {
    /// user + system seconds.
    pub seconds: f64,
    /// Average cores busy (seconds / window).
    pub cores: f64,
}

/// One target and whether the run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is measured.
    pub name: String,
    /// The target, as text.
    pub target: String,
    /// The measured value, as text.
    pub measured: String,
    /// Met, missed, or not measurable in this run.
    pub met: Option<bool>,
}

/// Everything a run measured; see `docs/benchmarks.md` for what each figure means.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The scenario in words.
    pub scenario: String,
    /// CPUs available and the CPU model.
    pub machine: (usize, String),
    /// The server binary, when the tool started it.
    pub server_bin: Option<String>,
    /// Participants planned and those that joined.
    pub participants: usize,
    /// Participants that joined.
    pub joined: usize,
    /// Why the others did not (first few).
    pub join_failures: Vec<String>,
    /// Length of the measured window.
    pub window_seconds: f64,
    /// RTP packets written by publishers per second.
    pub sent_pps: f64,
    /// `accord_forwarded_packets` per second.
    pub forwarded_pps: f64,
    /// RTP packets received by subscribers (SFU path) per second.
    pub received_pps: f64,
    /// Loss per stream.
    pub loss: Loss,
    /// Video packets received per layer (q, h, f).
    pub layers_received: [u64; 3],
    /// Publisher → SFU → subscriber latency.
    pub latency_sfu: PathLatency,
    /// Publisher → subscriber latency without the SFU (same stack, same window).
    pub latency_baseline: Option<PathLatency>,
    /// SFU minus baseline at p50, p95, p99 (all packets), microseconds.
    pub added_latency_us: Option<[f64; 3]>,
    /// `join` sent → first remote media packet (participants who joined a room with media).
    pub join_to_first_media: Durations,
    /// `join` sent → first remote video packet.
    pub join_to_first_video: Durations,
    /// `join` sent → peer connection connected (ICE and DTLS).
    pub join_to_connected: Durations,
    /// Server CPU over the window.
    pub server_cpu: Option<Cpu>,
    /// Server CPU per forwarded packet, microseconds.
    pub server_cpu_us_per_forwarded: Option<f64>,
    /// Server CPU seconds per thread name over the window.
    pub server_threads: BTreeMap<String, f64>,
    /// Server RSS in KiB: before anyone joined, everyone joined, end of window.
    pub server_rss_kib: Option<[u64; 3]>,
    /// (joined − before) / participants, KiB.
    pub server_rss_per_participant_kib: Option<f64>,
    /// This tool's CPU over the window (it shares the machine with the server).
    pub tool_cpu: Cpu,
    /// Server CPU ÷ this tool's CPU, over the same window. The tool does the same work in
    /// every run of a scenario, so its CPU moves with the machine's speed *during* the window,
    /// which the floor, measured after it, cannot follow: between builds compared in one
    /// series, this is the steadier figure.
    pub server_per_tool_cpu: Option<f64>,
    /// Everything else the machine ran during the window (busy CPU minus server and tool):
    /// non-zero means the figures were disturbed.
    pub other_cpu: Cpu,
    /// Server counters, change over the window.
    pub server_counters: ServerCounters,
    /// Payloads without a readable stamp.
    pub unstamped_packets: u64,
    /// Errors clients saw (first few).
    pub client_errors: Vec<String>,
    /// With `--record`: the recorder's cost and what it wrote.
    pub recording: Option<RecordingFigures>,
    /// With several nodes: each node's share and cost, and the placement's balance. The
    /// server figures above are the nodes' sums.
    pub placement: Option<Placement>,
    /// With `--floor`: the machine's bare forwarding floor, measured after the window.
    pub floor: Option<crate::load::floor::FloorFigures>,
    /// The targets.
    pub checks: Vec<Check>,
}

impl Report {
    /// Fills [`Report::checks`], and the figures derived from others
    /// ([`Report::server_per_tool_cpu`]), from the figures.
    pub fn evaluate(&mut self) {
        let cpu = self.server_cpu_us_per_forwarded;
        let added_p99 = self.added_latency_us.map(|a| a[2]);
        let join =
            (self.join_to_first_media.samples > 0).then_some(self.join_to_first_media.p50_ms);
        let times_floor = self.times_floor();
        self.server_per_tool_cpu = self
            .server_cpu
            .as_ref()
            .filter(|_| self.tool_cpu.seconds > 0.0)
            .map(|server| server.seconds / self.tool_cpu.seconds);
        self.checks = vec![
            check(
                "server CPU per forwarded packet",
                "≤ 5 µs",
                cpu,
                |v| v <= 5.0,
                "µs",
            ),
            check(
                "server CPU per forwarded packet ÷ floor",
                "≤ 2×",
                times_floor,
                |v| v <= 2.0,
                "×",
            ),
            check(
                "p99 added latency",
                "≤ 2 ms",
                added_p99.map(|v| v / 1000.0),
                |v| v <= 2.0,
                "ms",
            ),
            check(
                "join → first media, p50",
                "≤ 250 ms",
                join,
                |v| v <= 250.0,
                "ms",
            ),
        ];
    }

    /// Server CPU per forwarded packet as a multiple of the floor measured in the same run.
    pub fn times_floor(&self) -> Option<f64> {
        let floor = self.floor.as_ref()?.cpu_us_per_sent;
        (floor > 0.0).then(|| self.server_cpu_us_per_forwarded.map(|us| us / floor))?
    }

    /// The report as a table for people.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<(String, String)> = Vec::new();
        let mut row = |k: &str, v: String| rows.push((k.to_owned(), v));
        row("scenario", self.scenario.clone());
        row(
            "machine",
            format!("{} CPUs, {}", self.machine.0, self.machine.1),
        );
        if let Some(bin) = &self.server_bin {
            row("server binary", bin.clone());
        }
        row(
            "participants joined",
            format!("{} of {}", self.joined, self.participants),
        );
        row("measured window", format!("{:.1} s", self.window_seconds));
        row(
            "sent by publishers",
            format!("{:.0} packets/s", self.sent_pps),
        );
        row(
            "forwarded (server metric)",
            format!("{:.0} packets/s", self.forwarded_pps),
        );
        row(
            "received by subscribers",
            format!("{:.0} packets/s", self.received_pps),
        );
        let l = &self.loss;
        row(
            "loss per stream",
            format!(
                "median {:.3} %, worst {:.3} % ({} streams, {} lost, {} late)",
                l.median_percent, l.worst_percent, l.streams, l.lost_packets, l.late_packets
            ),
        );
        let [q, h, f] = self.layers_received;
        row("video packets by layer", format!("q {q}, h {h}, f {f}"));
        let lat = |p: &Quantiles| {
            format!(
                "p50 {:.0} µs, p95 {:.0} µs, p99 {:.0} µs, max {:.0} µs (n={})",
                p.p50_us, p.p95_us, p.p99_us, p.max_us, p.count
            )
        };
        row("latency via SFU, all", lat(&self.latency_sfu.all));
        row("latency via SFU, audio", lat(&self.latency_sfu.audio));
        row("latency via SFU, video", lat(&self.latency_sfu.video));
        if let Some(b) = &self.latency_baseline {
            row("latency direct (baseline), all", lat(&b.all));
        }
        if let Some([p50, p95, p99]) = self.added_latency_us {
            row(
                "added by SFU",
                format!("p50 {p50:.0} µs, p95 {p95:.0} µs, p99 {p99:.0} µs"),
            );
        }
        let d = |d: &Durations| {
            format!(
                "p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms (n={})",
                d.p50_ms, d.p95_ms, d.max_ms, d.samples
            )
        };
        row("join → first media", d(&self.join_to_first_media));
        row("join → first video", d(&self.join_to_first_video));
        row("join → connected", d(&self.join_to_connected));
        if let Some(c) = &self.server_cpu {
            row(
                "server CPU",
                format!("{:.2} s ({:.2} cores)", c.seconds, c.cores),
            );
        }
        if let Some(us) = self.server_cpu_us_per_forwarded {
            row("server CPU per forwarded packet", format!("{us:.2} µs"));
        }
        if let Some(f) = &self.floor {
            row(
                "floor (recvmmsg/sendmmsg)",
                format!(
                    "{:.2} µs per sent datagram ({} in at {:.0}/s, ×{:.2} out, {:.1} per receive call, {} of {} delivered)",
                    f.cpu_us_per_sent,
                    f.received,
                    f.rate,
                    f.copies,
                    f.mean_receive_batch,
                    f.delivered,
                    f.sent
                ),
            );
        }
        if !self.server_threads.is_empty() {
            let threads: Vec<String> = self
                .server_threads
                .iter()
                .map(|(name, s)| format!("{name} {s:.2} s"))
                .collect();
            row("server CPU by thread", threads.join(", "));
        }
        if let Some([before, joined, end]) = self.server_rss_kib {
            row(
                "server RSS",
                format!(
                    "{:.1} MiB before join, {:.1} MiB joined, {:.1} MiB at end",
                    before as f64 / 1024.0,
                    joined as f64 / 1024.0,
                    end as f64 / 1024.0
                ),
            );
        }
        if let Some(per) = self.server_rss_per_participant_kib {
            row("server RSS per participant", format!("{per:.0} KiB"));
        }
        if let Some(placement) = &self.placement {
            for (key, value) in placement.rows() {
                row(&key, value);
            }
        }
        row(
            "load tool CPU (same 2 cores)",
            format!(
                "{:.2} s ({:.2} cores)",
                self.tool_cpu.seconds, self.tool_cpu.cores
            ),
        );
        if let Some(ratio) = self.server_per_tool_cpu {
            row("server CPU ÷ load tool CPU", format!("{ratio:.3}"));
        }
        row(
            "other processes' CPU",
            format!(
                "{:.2} s ({:.2} cores)",
                self.other_cpu.seconds, self.other_cpu.cores
            ),
        );
        let c = &self.server_counters;
        row(
            "server drops",
            format!(
                "receive {:.0}, send {:.0}; PLIs {:.0}, layer switches {:.0}",
                c.receive_dropped, c.send_dropped, c.keyframe_requests, c.layer_switches
            ),
        );
        if c.forward_batches > 0.0 {
            let share = |n: f64| 100.0 * n / c.forward_batches;
            let [one, two, three] = c.forward_batches_within_ms;
            row(
                "batches out of the server within 1 / 2 / 3 ms",
                format!(
                    "{:.1} % / {:.1} % / {:.1} % of {:.0}",
                    share(one),
                    share(two),
                    share(three),
                    c.forward_batches
                ),
            );
        }
        row(
            "sent segmented (UDP GSO)",
            format!(
                "{:.0} datagrams ({:.0} % of those forwarded)",
                c.segmented,
                100.0 * c.segmented / c.forwarded_packets.max(1.0)
            ),
        );
        if self.unstamped_packets > 0 {
            row("unstamped payloads", self.unstamped_packets.to_string());
        }
        if let Some(r) = &self.recording {
            let per_second = r.recorded_packets / self.window_seconds.max(1e-9);
            row(
                "recording",
                format!(
                    "{} ({}, {:.1} s): {:.0} packets/s recorded",
                    r.recording_id,
                    r.status,
                    r.duration_ms as f64 / 1000.0,
                    per_second
                ),
            );
            if let Some(us) = r.recorder_us_per_packet() {
                row(
                    "recorder thread CPU per recorded packet",
                    format!("{us:.2} µs ({:.2} s)", r.recorder_thread_seconds),
                );
            }
            for (kind, role) in [
                ("audio", "playable"),
                ("audio", "log"),
                ("video", "playable"),
                ("video", "log"),
                ("mixed", "playable"),
            ] {
                if let Some(rate) = r.median_bytes_per_minute(kind, role) {
                    row(
                        &format!("recorded {kind} {role}, per track (median)"),
                        format!("{:.0} KiB/min", rate / 1024.0),
                    );
                }
            }
        }
        for check in &self.checks {
            let verdict = match check.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not measured",
            };
            row(
                &format!("target: {}", check.name),
                format!("{} (target {}): {verdict}", check.measured, check.target),
            );
        }
        for e in self.join_failures.iter().chain(&self.client_errors) {
            row("error", e.clone());
        }
        let width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<width$}  {v}");
        }
        out
    }
}

fn check(
    name: &str,
    target: &str,
    value: Option<f64>,
    ok: impl Fn(f64) -> bool,
    unit: &str,
) -> Check {
    Check {
        name: name.to_owned(),
        target: target.to_owned(),
        measured: value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2} {unit}")),
        met: value.map(ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let d = Durations::of(vec![5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(
            (d.samples, d.p50_ms, d.p95_ms, d.max_ms),
            (5, 3.0, 5.0, 5.0)
        );
        assert_eq!(Durations::of(vec![]).samples, 0);
    }

    #[test]
    fn checks_and_table() {
        let mut r = Report {
            server_cpu_us_per_forwarded: Some(6.0),
            added_latency_us: Some([100.0, 300.0, 900.0]),
            server_cpu: Some(Cpu {
                seconds: 3.0,
                cores: 0.15,
            }),
            tool_cpu: Cpu {
                seconds: 6.0,
                cores: 0.3,
            },
            ..Report::default()
        };
        r.evaluate();
        assert_eq!(r.server_per_tool_cpu, Some(0.5));
        assert!(r.to_table().contains("server CPU ÷ load tool CPU"));
        assert_eq!(r.checks[0].met, Some(false));
        assert_eq!(r.checks[1].met, None, "no floor measured");
        assert_eq!(r.checks[2].met, Some(true));
        assert_eq!(r.checks[3].met, None);
        assert!(r.to_table().contains("MISSED"));
    }
}
