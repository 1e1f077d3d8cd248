//! Real-time pacing of synthetic media onto a participant's published tracks: Opus-sized audio
//! every 20 ms and three VP8 simulcast layers at 30 fps, every payload stamped with its send
//! time (see [`super::synth`]).

use super::synth::{self, Vp8Frame};
use crate::client::publish::{LocalMedia, Outlet, Stamp, set_ext, wait_ready};
use crate::media::{AUDIO_FRAME, AUDIO_SAMPLES_PER_FRAME, VIDEO_CLOCK_RATE, VIDEO_FPS};
use crate::payload::PayloadLedger;
use bytes::Bytes;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;

/// How often a pacer re-reads the negotiated payload type and extension ids (they can change
/// with a renegotiation; reading them costs async locks, so not per packet).
const PARAMS_REFRESH: Duration = Duration::from_secs(1);
/// Frame sizes of the three layers.
const LAYER_SIZES: [(u16, u16); 3] = [(320, 180), (640, 360), (1280, 720)];

/// What publishers send.
#[derive(Debug, Clone, Copy)]
pub struct MediaPlan {
    /// Average bitrate of layers q, h, f in kbit/s (keyframes included).
    pub layer_kbps: [u32; 3],
    /// A keyframe every this many frames (publishers ignore PLIs: the async crate swallows
    /// them unless the client registers an RTCP tap, which the test client does not).
    pub keyframe_interval: u32,
    /// A keyframe is this many times the size of a delta frame.
    pub keyframe_factor: u32,
    /// Bytes of each 20 ms audio payload.
    pub audio_bytes: usize,
}

impl Default for MediaPlan {
    /// Roughly a browser's 720p simulcast: 150/500/1500 kbit/s, a keyframe a second four times
    /// a delta frame, 90-byte Opus packets (36 kbit/s).
    fn default() -> Self {
        Self {
            layer_kbps: [150, 500, 1500],
            keyframe_interval: 30,
            keyframe_factor: 4,
            audio_bytes: 90,
        }
    }
}

impl MediaPlan {
    /// Delta and keyframe sizes of a layer, so that the average matches its bitrate.
    fn frame_lengths(&self, layer: usize) -> (usize, usize) {
        let kbps = self.layer_kbps.get(layer).copied().unwrap_or(500);
        let average = f64::from(kbps) * 1000.0 / 8.0 / f64::from(VIDEO_FPS);
        let n = f64::from(self.keyframe_interval.max(1));
        let k = f64::from(self.keyframe_factor.max(1));
        let delta = average * n / (n - 1.0 + k);
        (delta as usize, (delta * k) as usize)
    }
}

/// Packets written by all publishers while counting is on.
#[derive(Debug, Default)]
pub struct SentCounter {
    /// Counting is on.
    pub counting: std::sync::atomic::AtomicBool,
    /// Packets written.
    pub packets: AtomicU64,
}

impl SentCounter {
    fn add(&self, n: u64) {
        if self.counting.load(Relaxed) {
            self.packets.fetch_add(n, Relaxed);
        }
    }
}

/// Starts one pacing task per published track of `local`. They idle until `ready` turns
/// true and stop when `stop` does.
pub(crate) fn start(
    local: &LocalMedia,
    plan: MediaPlan,
    audio_level: u8,
    sent: Arc<SentCounter>,
    ready: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    for t in &local.tracks {
        let out = Outlet {
            track: Arc::clone(&t.track),
            transceiver: Arc::clone(&t.transceiver),
            // Unused: the load tool writes straight to the track, without hashing payloads.
            ledger: Arc::new(PayloadLedger::default()),
        };
        let (ready, stop, sent) = (ready.clone(), stop.clone(), Arc::clone(&sent));
        match t.kind {
            RtpCodecKind::Audio => {
                let ssrc = t.layers.first().map(|l| l.1).unwrap_or_default();
                handles.push(tokio::spawn(pace_audio(
                    out,
                    ssrc,
                    plan,
                    audio_level,
                    sent,
                    ready,
                    stop,
                )));
            }
            _ => {
                let layers = t
                    .layers
                    .iter()
                    .map(|&(rid, ssrc)| Layer {
                        rid,
                        index: match rid {
                            Some("q") => 0,
                            Some("f") => 2,
                            _ => 1,
                        },
                        ssrc,
                        seq: rand::random(),
                        ts: rand::random(),
                        picture_id: rand::random::<u16>() & 0x7fff,
                    })
                    .collect();
                handles.push(tokio::spawn(pace_video(
                    out, layers, plan, sent, ready, stop,
                )));
            }
        }
    }
    handles
}

async fn write(out: &Outlet, pkt: rtp::Packet) {
    // Only fails while the track is unbound (teardown); refusals are logged by the crate.
    if let Err(err) = out.track.write_rtp(pkt).await {
        tracing::debug!("write_rtp: {err}");
    }
}

async fn pace_audio(
    out: Outlet,
    ssrc: u32,
    plan: MediaPlan,
    level: u8,
    sent: Arc<SentCounter>,
    mut ready: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    if !wait_ready(&mut ready, &mut stop).await {
        return;
    }
    let mut stamp: Stamp = out.stamp(MIME_TYPE_OPUS).await;
    let mut refreshed = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(AUDIO_FRAME);
    // Skip, not burst: a late tick is a frame the "encoder" dropped, which keeps the send
    // rate honest and the stamps meaningful.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq: u16 = rand::random();
    let mut ts: u32 = rand::random();
    let level_ext = Bytes::from(vec![0x80 | (level & 0x7f)]);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if refreshed.elapsed() >= PARAMS_REFRESH {
            stamp = out.stamp(MIME_TYPE_OPUS).await;
            refreshed = tokio::time::Instant::now();
        }
        let Some(pt) = stamp.payload_type else {
            continue;
        };
        let mut pkt = rtp::Packet {
            header: rtp::Header {
                version: 2,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                ..Default::default()
            },
            payload: synth::audio_payload(plan.audio_bytes, synth::now_ns()),
        };
        if let Some(mid) = &stamp.mid {
            set_ext(&mut pkt.header, stamp.mid_id, mid);
        }
        set_ext(&mut pkt.header, stamp.audio_level_id, &level_ext);
        write(&out, pkt).await;
        sent.add(1);
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(AUDIO_SAMPLES_PER_FRAME);
    }
}

/// One simulcast layer being paced.
struct Layer {
    rid: Option<&'static str>,
    index: usize,
    ssrc: u32,
    seq: u16,
    ts: u32,
    picture_id: u16,
}

async fn pace_video(
    out: Outlet,
    mut layers: Vec<Layer>,
    plan: MediaPlan,
    sent: Arc<SentCounter>,
    mut ready: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    if !wait_ready(&mut ready, &mut stop).await {
        return;
    }
    let mut stamp: Stamp = out.stamp(MIME_TYPE_VP8).await;
    let mut refreshed = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / VIDEO_FPS);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let ts_step = VIDEO_CLOCK_RATE / VIDEO_FPS;
    let interval = plan.keyframe_interval.max(1);
    // Publishers start at different points of their keyframe cycle, as real ones do, so
    // keyframes of many publishers do not all land in the same tick.
    let mut frame: u32 = rand::random::<u32>() % interval;
    // The very first frame is a keyframe: a subscriber can start at once.
    let mut first = true;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if refreshed.elapsed() >= PARAMS_REFRESH {
            stamp = out.stamp(MIME_TYPE_VP8).await;
            refreshed = tokio::time::Instant::now();
        }
        let Some(pt) = stamp.payload_type else {
            continue;
        };
        let keyframe = first || frame.is_multiple_of(interval);
        first = false;
        frame = frame.wrapping_add(1);
        for layer in &mut layers {
            let (delta_len, key_len) = plan.frame_lengths(layer.index);
            let (width, height) = LAYER_SIZES[layer.index];
            let spec = Vp8Frame {
                layer: layer.index as u8,
                picture_id: layer.picture_id,
                keyframe,
                width,
                height,
                frame_len: if keyframe { key_len } else { delta_len },
            };
            let count = spec.packet_count();
            for n in 0..count {
                let mut pkt = rtp::Packet {
                    header: rtp::Header {
                        version: 2,
                        marker: n + 1 == count,
                        payload_type: pt,
                        sequence_number: layer.seq,
                        timestamp: layer.ts,
                        ssrc: layer.ssrc,
                        ..Default::default()
                    },
                    payload: spec.packet(n, synth::now_ns()),
                };
                if let Some(mid) = &stamp.mid {
                    set_ext(&mut pkt.header, stamp.mid_id, mid);
                }
                if let Some(rid) = layer.rid {
                    set_ext(
                        &mut pkt.header,
                        stamp.rid_id,
                        &Bytes::from_static(rid.as_bytes()),
                    );
                }
                write(&out, pkt).await;
                layer.seq = layer.seq.wrapping_add(1);
            }
            sent.add(count as u64);
            layer.ts = layer.ts.wrapping_add(ts_step);
            layer.picture_id = (layer.picture_id + 1) & 0x7fff;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_rates_average_out() {
        let plan = MediaPlan::default();
        for (layer, kbps) in plan.layer_kbps.iter().enumerate() {
            let (delta, key) = plan.frame_lengths(layer);
            let n = plan.keyframe_interval as usize;
            let per_second = (key + delta * (n - 1)) * VIDEO_FPS as usize / n;
            let got = per_second * 8 / 1000;
            assert!(
                got.abs_diff(*kbps as usize) <= 2,
                "{layer}: {got} kbit/s, wanted {kbps}"
            );
            assert!(key > delta);
        }
    }
}
