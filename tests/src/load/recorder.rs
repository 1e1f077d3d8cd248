//! What receivers measure: one-way latency from the stamp in each payload, loss from RTP
//! sequence numbers per stream, and when the first packets arrived.
//!
//! Counting happens only while the shared [`Gate`] is open (the measured window), except
//! the first-packet times, which join time needs from the start.

use super::histogram::{AtomicHistogram, Snapshot};
use super::synth::{self, StreamTag};
use crate::client::state::RtpTap;
use crate::payload::PayloadKind;
use rtc::rtp;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Opens and closes the measured window for every recorder at once.
#[derive(Debug, Default)]
pub struct Gate(AtomicBool);

impl Gate {
    /// Starts or stops counting.
    pub fn set(&self, open: bool) {
        self.0.store(open, Relaxed);
    }

    fn is_open(&self) -> bool {
        self.0.load(Relaxed)
    }
}

/// Latency histograms of one path (through the SFU, or the direct baseline).
#[derive(Debug, Default)]
pub struct Latency {
    /// Every stamped packet.
    pub all: AtomicHistogram,
    /// Audio packets.
    pub audio: AtomicHistogram,
    /// Video packets.
    pub video: AtomicHistogram,
}

/// Receive statistics of one stream (a publication as one subscriber gets it, keyed by
/// track and SSRC), over the measured window.
#[derive(Debug, Clone, Default)]
pub struct StreamStats {
    /// Published track id (or `mid:<mid>` where the server named none).
    pub track_id: String,
    /// SSRC it arrives on.
    pub ssrc: u32,
    /// Audio or video.
    pub audio: bool,
    /// Packets received in the window.
    pub packets: u64,
    /// Packets missing from sequence-number gaps in the window.
    pub lost: u64,
    /// Packets at or behind the highest sequence number (reordered or duplicated).
    pub late: u64,
    /// Video packets per simulcast layer (q, h, f) in the window, from the stamps.
    pub layers: [u64; 3],
    last_seq: Option<u16>,
}

impl StreamStats {
    /// Share of expected packets that never came, 0–1.
    pub fn loss(&self) -> f64 {
        let expected = self.packets + self.lost;
        if expected == 0 {
            0.0
        } else {
            self.lost as f64 / expected as f64
        }
    }
}

/// One receiver's recorder, installed as its client's `RtpTap`.
#[derive(Debug)]
pub struct Recorder {
    gate: Arc<Gate>,
    latency: Arc<Latency>,
    /// Nanoseconds since the epoch of the first packet (0: none yet).
    first_packet_ns: AtomicU64,
    first_video_ns: AtomicU64,
    /// Payloads without a readable stamp (in the window).
    unstamped: AtomicU64,
    streams: Mutex<HashMap<(String, u32), StreamStats>>,
}

impl Recorder {
    /// A recorder feeding `latency` while `gate` is open.
    pub fn new(gate: Arc<Gate>, latency: Arc<Latency>) -> Self {
        Self {
            gate,
            latency,
            first_packet_ns: AtomicU64::new(0),
            first_video_ns: AtomicU64::new(0),
            unstamped: AtomicU64::new(0),
            streams: Mutex::new(HashMap::new()),
        }
    }

    /// When the first packet arrived.
    pub fn first_packet_at(&self) -> Option<Instant> {
        from_ns(self.first_packet_ns.load(Relaxed))
    }

    /// When the first video packet arrived.
    pub fn first_video_at(&self) -> Option<Instant> {
        from_ns(self.first_video_ns.load(Relaxed))
    }

    /// Payloads in the window that carried no stamp.
    pub fn unstamped(&self) -> u64 {
        self.unstamped.load(Relaxed)
    }

    /// Per-stream statistics so far.
    pub fn streams(&self) -> Vec<StreamStats> {
        self.streams
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }
}

fn from_ns(ns: u64) -> Option<Instant> {
    (ns != 0).then(|| synth::epoch() + std::time::Duration::from_nanos(ns))
}

impl RtpTap for Recorder {
    fn on_rtp(&self, track_id: &str, kind: PayloadKind, pkt: &rtp::Packet, at: Instant) {
        let at_ns = synth::ns_since_epoch(at).max(1);
        let _ = self
            .first_packet_ns
            .compare_exchange(0, at_ns, Relaxed, Relaxed);
        let stamp = match kind {
            PayloadKind::Opus => synth::parse_audio(&pkt.payload),
            PayloadKind::Vp8 => synth::parse_vp8(&pkt.payload).map(|p| p.stamp),
        };
        if kind == PayloadKind::Vp8 {
            let _ = self
                .first_video_ns
                .compare_exchange(0, at_ns, Relaxed, Relaxed);
        }
        let measuring = self.gate.is_open();
        if measuring {
            match stamp {
                Some(s) => {
                    let latency = at_ns.saturating_sub(s.sent_ns);
                    self.latency.all.record(latency);
                    match s.stream {
                        StreamTag::Audio => self.latency.audio.record(latency),
                        StreamTag::Video(_) => self.latency.video.record(latency),
                    }
                }
                None => {
                    self.unstamped.fetch_add(1, Relaxed);
                }
            }
        }
        let Ok(mut streams) = self.streams.lock() else {
            return;
        };
        let key = (track_id.to_owned(), pkt.header.ssrc);
        let stream = streams.entry(key).or_insert_with(|| StreamStats {
            track_id: track_id.to_owned(),
            ssrc: pkt.header.ssrc,
            audio: kind == PayloadKind::Opus,
            ..StreamStats::default()
        });
        let seq = pkt.header.sequence_number;
        let step = stream.last_seq.map(|last| seq.wrapping_sub(last));
        match step {
            // At or behind the highest number seen: reordered or duplicated.
            Some(step) if step == 0 || step >= 0x8000 => {
                if measuring {
                    stream.late += 1;
                }
                return;
            }
            Some(step) if measuring => stream.lost += u64::from(step - 1),
            _ => {}
        }
        stream.last_seq = Some(seq);
        if measuring {
            stream.packets += 1;
            if let Some(StreamTag::Video(layer)) = stamp.map(|s| s.stream)
                && let Some(n) = stream.layers.get_mut(usize::from(layer))
            {
                *n += 1;
            }
        }
    }
}

/// Snapshots of one path's histograms.
#[derive(Debug, Clone)]
pub struct LatencySnapshot {
    /// Every packet.
    pub all: Snapshot,
    /// Audio.
    pub audio: Snapshot,
    /// Video.
    pub video: Snapshot,
}

impl Latency {
    /// Freezes the three histograms.
    pub fn snapshot(&self) -> LatencySnapshot {
        LatencySnapshot {
            all: self.all.snapshot(),
            audio: self.audio.snapshot(),
            video: self.video.snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn packet(seq: u16, payload: Bytes) -> rtp::Packet {
        rtp::Packet {
            header: rtp::Header {
                sequence_number: seq,
                ssrc: 7,
                ..Default::default()
            },
            payload,
        }
    }

    #[test]
    fn counts_loss_and_latency_only_in_the_window() {
        let gate = Arc::new(Gate::default());
        let latency = Arc::new(Latency::default());
        let r = Recorder::new(Arc::clone(&gate), Arc::clone(&latency));
        let sent = synth::now_ns();
        let at = synth::epoch() + std::time::Duration::from_nanos(sent + 2_000_000);
        r.on_rtp(
            "t",
            PayloadKind::Opus,
            &packet(1, synth::audio_payload(90, sent)),
            at,
        );
        gate.set(true);
        for seq in [2u16, 3, 6, 5, 7] {
            r.on_rtp(
                "t",
                PayloadKind::Opus,
                &packet(seq, synth::audio_payload(90, sent)),
                at,
            );
        }
        gate.set(false);
        r.on_rtp(
            "t",
            PayloadKind::Opus,
            &packet(9, synth::audio_payload(90, sent)),
            at,
        );
        let streams = r.streams();
        assert_eq!(streams.len(), 1);
        let s = &streams[0];
        assert_eq!((s.packets, s.lost, s.late), (4, 2, 1), "{s:?}");
        let snap = latency.snapshot();
        assert_eq!(snap.audio.count(), 5);
        let p50 = snap.audio.quantile(0.5).expect("recorded");
        assert!((1_980_000..=2_020_000).contains(&p50), "{p50}");
        assert!(r.first_packet_at().is_some());
        assert!(r.first_video_at().is_none());
    }
}
