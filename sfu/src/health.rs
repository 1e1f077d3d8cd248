//! How each participant's connection is doing: loss both ways, round-trip time and bitrates,
//! measured where the packets pass (the connection's interceptor chain), for the mediator's
//! console (court video-hearing systems show the same per participant) and for the decision
//! to stop sending someone video.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One participant's link over the last measuring interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkHealth {
    /// Of the packets they sent us, the share (0–100) the network lost before repair.
    pub uplink_loss_percent: Option<f32>,
    /// Of the packets we sent them, the share (0–100) they report lost (RTCP receiver reports).
    pub downlink_loss_percent: Option<f32>,
    /// Round-trip time between the server and them, from their receiver reports.
    pub rtt_ms: Option<u32>,
    /// What they send us, in kilobits per second.
    pub send_kbps: u32,
    /// What we send them, in kilobits per second.
    pub receive_kbps: u32,
    /// What the congestion controller thinks we may send them.
    pub estimate_kbps: Option<u32>,
    /// They currently get no video (too little bandwidth, or they asked to save data).
    pub audio_only: bool,
    /// Nothing has arrived from them for the media timeout.
    pub silent: bool,
}

/// A verdict a person can read at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkQuality {
    /// Video and audio are fine.
    Good,
    /// Noticeable: some loss or delay, lower video.
    Fair,
    /// Hard to follow: heavy loss or delay, or no video for lack of bandwidth.
    Poor,
    /// Nothing arrives from them.
    Lost,
}

/// Loss (either way) and delay a conversation tolerates without anyone noticing.
const GOOD_LOSS_PERCENT: f32 = 2.0;
const GOOD_RTT_MS: u32 = 300;
/// Beyond these, speech is hard to follow even with concealment.
const FAIR_LOSS_PERCENT: f32 = 8.0;
const FAIR_RTT_MS: u32 = 700;

impl LinkHealth {
    /// The verdict for this interval.
    pub fn quality(&self) -> LinkQuality {
        if self.silent {
            return LinkQuality::Lost;
        }
        let loss = self
            .uplink_loss_percent
            .unwrap_or(0.0)
            .max(self.downlink_loss_percent.unwrap_or(0.0));
        let rtt = self.rtt_ms.unwrap_or(0);
        if loss >= FAIR_LOSS_PERCENT || rtt >= FAIR_RTT_MS {
            LinkQuality::Poor
        } else if loss >= GOOD_LOSS_PERCENT || rtt >= GOOD_RTT_MS || self.audio_only {
            LinkQuality::Fair
        } else {
            LinkQuality::Good
        }
    }
}

/// Receiver reports older than this no longer describe the link.
const REPORT_FRESH_FOR: Duration = Duration::from_secs(5);

/// Counts what passes one connection; the shard takes a [`LinkSample`] from it now and then.
#[derive(Debug, Default)]
pub(crate) struct LinkMeter {
    streams: HashMap<u32, SequenceTracker>,
    bytes_in: u64,
    bytes_out: u64,
    /// Per SSRC of ours, the latest loss fraction they reported and when.
    reported_loss: HashMap<u32, (f32, Instant)>,
    rtt: Option<(Duration, Instant)>,
    last_sample: Option<Instant>,
}

/// What a [`LinkMeter`] saw since the previous sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct LinkSample {
    pub uplink_loss: Option<f32>,
    pub downlink_loss: Option<f32>,
    pub rtt: Option<Duration>,
    pub kbps_in: u32,
    pub kbps_out: u32,
}

/// Loss on one incoming stream: packets that arrived as the newest sequence number, against
/// the sequence numbers that went by. A late or retransmitted packet is not counted, so the
/// figure is the loss of the network itself, before NACKs repair it.
#[derive(Debug, Default)]
struct SequenceTracker {
    highest: u64,
    interval_start: u64,
    arrived: u64,
}

impl SequenceTracker {
    fn new(seq: u16) -> Self {
        // Starts one cycle up so that a first packet just below a wrap needs no special case.
        let first = (1 << 16) | u64::from(seq);
        Self {
            highest: first,
            interval_start: first - 1,
            arrived: 1,
        }
    }

    fn record(&mut self, seq: u16) {
        let last = (self.highest & 0xffff) as u16;
        let ahead = seq.wrapping_sub(last);
        // Half the sequence space ahead counts as newer (RFC 3550 A.1).
        if ahead != 0 && ahead < 0x8000 {
            self.highest += u64::from(ahead);
            self.arrived += 1;
        }
    }

    /// (expected, arrived) since the last call.
    fn take(&mut self) -> (u64, u64) {
        let expected = self.highest - self.interval_start;
        let arrived = self.arrived.min(expected);
        self.interval_start = self.highest;
        self.arrived = 0;
        (expected, arrived)
    }
}

impl LinkMeter {
    pub fn on_rtp_in(&mut self, ssrc: u32, seq: u16, bytes: usize) {
        self.bytes_in += bytes as u64;
        self.streams
            .entry(ssrc)
            .and_modify(|s| s.record(seq))
            .or_insert_with(|| SequenceTracker::new(seq));
    }

    pub fn on_bytes_out(&mut self, bytes: usize) {
        self.bytes_out += bytes as u64;
    }

    /// One report block of a receiver report they sent about a stream of ours.
    pub fn on_report_block(
        &mut self,
        ssrc: u32,
        fraction_lost: u8,
        lsr: u32,
        dlsr: u32,
        at: Instant,
    ) {
        self.reported_loss
            .insert(ssrc, (f32::from(fraction_lost) / 256.0, at));
        if let Some(rtt) = round_trip(ntp_middle_now(), lsr, dlsr) {
            self.rtt = Some((rtt, at));
        }
    }

    /// What happened since the previous call.
    pub fn sample(&mut self, now: Instant) -> LinkSample {
        let elapsed = self
            .last_sample
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        self.last_sample = Some(now);
        let (mut expected, mut arrived) = (0u64, 0u64);
        for stream in self.streams.values_mut() {
            let (e, a) = stream.take();
            expected += e;
            arrived += a;
        }
        let uplink_loss = (expected > 0).then(|| (expected - arrived) as f32 / expected as f32);
        self.reported_loss
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < REPORT_FRESH_FOR);
        let downlink_loss = (!self.reported_loss.is_empty()).then(|| {
            let sum: f32 = self.reported_loss.values().map(|(f, _)| f).sum();
            sum / self.reported_loss.len() as f32
        });
        let rtt = self
            .rtt
            .filter(|(_, at)| now.saturating_duration_since(*at) < REPORT_FRESH_FOR)
            .map(|(rtt, _)| rtt);
        let kbps = |bytes: &mut u64| -> u32 {
            let rate = if elapsed.is_zero() {
                0
            } else {
                (*bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1000.0).round() as u32
            };
            *bytes = 0;
            rate
        };
        LinkSample {
            uplink_loss,
            downlink_loss,
            rtt,
            kbps_in: kbps(&mut self.bytes_in),
            kbps_out: kbps(&mut self.bytes_out),
        }
    }
}

/// The middle 32 bits of the current NTP time, the clock our sender reports carry (the
/// report interceptor stamps them from the system clock), in units of 1/65536 s.
fn ntp_middle_now() -> u32 {
    const NTP_EPOCH_OFFSET_SECS: u64 = 2_208_988_800;
    let since_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since_unix.as_secs() + NTP_EPOCH_OFFSET_SECS;
    let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    (((secs & 0xffff) << 16) | (fraction >> 16)) as u32
}

/// RFC 3550 §6.4.1: arrival − last SR sent − delay since it was received.
fn round_trip(now: u32, lsr: u32, dlsr: u32) -> Option<Duration> {
    if lsr == 0 {
        return None;
    }
    let units = now.wrapping_sub(lsr).wrapping_sub(dlsr);
    // A "negative" result (clock step, or a report about an SR we did not send) is noise.
    if units > 0x8000_0000 {
        return None;
    }
    Some(Duration::from_micros(u64::from(units) * 1_000_000 / 65_536))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_counts_the_gaps_in_sequence_numbers_across_a_wrap() {
        let mut meter = LinkMeter::default();
        let t0 = Instant::now();
        meter.sample(t0);
        // 20 packets around the wrap, every fifth lost: 16 arrive. The last one lost is not
        // known lost yet (nothing newer came), so 3 of 19 are.
        for i in 0..20u16 {
            if i % 5 != 4 {
                meter.on_rtp_in(7, 65_530u16.wrapping_add(i), 100);
            }
        }
        let sample = meter.sample(t0 + Duration::from_secs(1));
        assert_eq!(sample.uplink_loss, Some(3.0 / 19.0));
        assert_eq!(sample.kbps_in, 13);
    }

    #[test]
    fn retransmissions_and_late_packets_do_not_hide_loss() {
        let mut meter = LinkMeter::default();
        let t0 = Instant::now();
        meter.on_rtp_in(1, 100, 10);
        meter.sample(t0);
        for seq in [101u16, 103, 104, 102, 102] {
            meter.on_rtp_in(1, seq, 10);
        }
        let loss = meter.sample(t0 + Duration::from_secs(1)).uplink_loss;
        assert_eq!(loss, Some(0.25));
        // Nothing new: no figure rather than a made-up zero.
        assert_eq!(meter.sample(t0 + Duration::from_secs(2)).uplink_loss, None);
    }

    #[test]
    fn round_trip_time_from_a_report_block() {
        // We sent an SR 250 ms ago; they held it 100 ms before reporting.
        let now = 0x1234_8000;
        let lsr = now - (65_536 / 4);
        let dlsr = 65_536 / 10;
        let rtt = round_trip(now, lsr, dlsr).expect("an RTT");
        assert!((rtt.as_millis() as i64 - 150).abs() <= 1, "{rtt:?}");
        assert_eq!(round_trip(now, 0, dlsr), None);
        assert_eq!(round_trip(lsr, now, dlsr), None);
    }

    #[test]
    fn downlink_loss_averages_fresh_reports_only() {
        let mut meter = LinkMeter::default();
        let t0 = Instant::now();
        meter.on_report_block(1, 64, 0, 0, t0);
        meter.on_report_block(2, 0, 0, 0, t0 + Duration::from_secs(4));
        let s = meter.sample(t0 + Duration::from_secs(4));
        assert_eq!(s.downlink_loss, Some(0.125));
        let s = meter.sample(t0 + Duration::from_secs(6));
        assert_eq!(s.downlink_loss, Some(0.0));
    }

    #[test]
    fn quality_follows_the_worse_direction() {
        let mut h = LinkHealth {
            uplink_loss_percent: Some(0.5),
            downlink_loss_percent: Some(0.0),
            rtt_ms: Some(40),
            ..LinkHealth::default()
        };
        assert_eq!(h.quality(), LinkQuality::Good);
        h.downlink_loss_percent = Some(5.0);
        assert_eq!(h.quality(), LinkQuality::Fair);
        h.rtt_ms = Some(900);
        assert_eq!(h.quality(), LinkQuality::Poor);
        h = LinkHealth {
            audio_only: true,
            ..LinkHealth::default()
        };
        assert_eq!(h.quality(), LinkQuality::Fair);
    }
}
