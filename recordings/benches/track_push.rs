//! The recorder's cost per recorded RTP packet: [`TrackFile::push`] for real Opus (libopus)
//! and real VP8 (libvpx, 640×360, made by Debian's ffmpeg), which covers the log write, the
//! session clock, the reorder buffer, the depacketizer and the WebM write. The track is
//! flushed once per second of media, as the recorder's writer thread does.
//!
//! Each iteration records a whole track of `PACKETS` into a fresh folder; creating the track
//! and finalising it are outside the timing, so divan's time per iteration divided by the
//! packet count is the cost of one packet (divan prints that rate as items/s).
//!
//! `cargo bench -p accord-recordings --bench track_push`

use std::path::Path;
use std::process::Command;

use accord_recordings::clock::{ClockGroup, TrackClock};
use accord_recordings::log::LogHeader;
use accord_recordings::rtp::RtpPacket;
use accord_recordings::track::{TrackFile, TrackFileSpec};
use bytes::Bytes;
use divan::counter::ItemsCount;
use divan::{Bencher, black_box};

/// Seconds of media per iteration: long enough to hold several clusters and keyframes.
const SECONDS: u32 = 10;
const VIDEO_FPS: u32 = 30;
const OPUS_FRAME_SAMPLES: u32 = 960;
/// Payload bytes per VP8 RTP packet, about what browsers send under a 1200-byte MTU budget.
const VP8_CHUNK: usize = 1_100;

fn main() {
    divan::main();
}

/// One packet with its arrival on the session clock, µs.
struct Arrival {
    at_us: u64,
    packet: RtpPacket,
}

/// A track's header and packets, made once and recorded by every iteration.
struct Track {
    header: LogHeader,
    arrivals: Vec<Arrival>,
}

impl Track {
    /// Records every packet into a fresh folder and finalises the track outside the timing.
    fn bench(&self, bencher: Bencher<'_, '_>) {
        let per_second = self.arrivals.len() / SECONDS as usize;
        bencher
            .counter(ItemsCount::new(self.arrivals.len()))
            .with_inputs(|| {
                let dir = tempfile::tempdir().expect("temp dir");
                let spec = TrackFileSpec {
                    dir: dir.path().to_path_buf(),
                    stem: "t01".into(),
                    header: self.header.clone(),
                };
                let clock = TrackClock::new(self.header.clock_rate, ClockGroup::default());
                let file = TrackFile::create(spec, clock).expect("track file");
                (dir, file)
            })
            .bench_local_values(|(dir, mut file)| {
                for (n, arrival) in self.arrivals.iter().enumerate() {
                    file.push(arrival.at_us, black_box(&arrival.packet))
                        .expect("push");
                    if (n + 1) % per_second == 0 {
                        file.flush().expect("flush");
                    }
                }
                // Returned so that closing the files and removing the folder happen after the
                // clock stops.
                (dir, file)
            });
    }
}

fn header(kind: &str, mime_type: &str, clock_rate: u32, channels: u16) -> LogHeader {
    LogHeader {
        track_id: format!("TR_bench_{kind}"),
        participant_id: "PA_bench".into(),
        kind: kind.into(),
        mime_type: mime_type.into(),
        clock_rate,
        channels,
        fmtp: String::new(),
        started_at_ms: 0,
    }
}

fn rtp(
    sequence_number: u16,
    timestamp: u32,
    marker: bool,
    payload_type: u8,
    payload: Vec<u8>,
) -> RtpPacket {
    RtpPacket {
        sequence_number,
        timestamp,
        ssrc: 0x0bad_cafe,
        payload_type,
        marker,
        payload: Bytes::from(payload),
    }
}

/// A spoken-level 300 Hz tone with a slow vibrato, so the encoder does real work each frame.
fn opus_track() -> Track {
    let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
        .expect("opus encoder");
    let frames = SECONDS * 1_000 / 20;
    let arrivals = (0..frames)
        .map(|frame| {
            let pcm: Vec<i16> = (0..OPUS_FRAME_SAMPLES)
                .map(|i| {
                    let t = f64::from(frame * OPUS_FRAME_SAMPLES + i) / 48_000.0;
                    let pitch = 300.0 + 20.0 * (t * 3.0).sin();
                    ((t * pitch * std::f64::consts::TAU).sin() * 6_000.0) as i16
                })
                .collect();
            let payload = encoder.encode_vec(&pcm, 1_500).expect("opus frame");
            Arrival {
                at_us: u64::from(frame) * 20_000,
                packet: rtp(
                    frame as u16,
                    frame * OPUS_FRAME_SAMPLES,
                    false,
                    111,
                    payload,
                ),
            }
        })
        .collect();
    Track {
        header: header("audio", "audio/opus", 48_000, 2),
        arrivals,
    }
}

/// libvpx frames of ffmpeg's moving test picture at 640×360, 30 fps, a keyframe a second,
/// read back from the IVF container (32-byte file header, 12-byte frame headers).
fn vp8_frames(dir: &Path) -> Vec<Vec<u8>> {
    let ivf = dir.join("bench.ivf");
    let seconds = SECONDS.to_string();
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30",
        ])
        .args(["-t", &seconds, "-c:v", "libvpx", "-b:v", "500k", "-g", "30"])
        .args(["-f", "ivf", "-y"])
        .arg(&ivf)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg could not make the VP8 input");
    let data = std::fs::read(&ivf).expect("IVF file");
    let mut frames = Vec::new();
    let mut rest = data.get(32..).unwrap_or_default();
    while let Some((frame_header, body)) = rest.split_first_chunk::<12>() {
        let [a, b, c, d, ..] = *frame_header;
        let size = u32::from_le_bytes([a, b, c, d]) as usize;
        let Some((frame, after)) = body.split_at_checked(size) else {
            break;
        };
        frames.push(frame.to_vec());
        rest = after;
    }
    frames
}

/// RFC 7741 with the one-byte payload descriptor (S set on a frame's first packet), the
/// marker on its last; a frame's packets arrive 100 µs apart.
fn vp8_track() -> Track {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut arrivals = Vec::new();
    let mut sequence = 0u16;
    for (index, frame) in vp8_frames(dir.path()).iter().enumerate() {
        let index = index as u32;
        let timestamp = index * (90_000 / VIDEO_FPS);
        let chunk_count = frame.len().div_ceil(VP8_CHUNK);
        for (part, chunk) in frame.chunks(VP8_CHUNK).enumerate() {
            let descriptor = if part == 0 { 0x10 } else { 0x00 };
            let payload = [&[descriptor][..], chunk].concat();
            arrivals.push(Arrival {
                at_us: u64::from(index) * 1_000_000 / u64::from(VIDEO_FPS) + part as u64 * 100,
                packet: rtp(sequence, timestamp, part + 1 == chunk_count, 96, payload),
            });
            sequence = sequence.wrapping_add(1);
        }
    }
    Track {
        header: header("video", "video/VP8", 90_000, 0),
        arrivals,
    }
}

/// Opus, 20 ms per packet: 500 packets per iteration.
#[divan::bench(sample_count = 100, sample_size = 1)]
fn opus_packet(bencher: Bencher<'_, '_>) {
    opus_track().bench(bencher);
}

/// VP8 640×360 at 500 kbit/s, a keyframe a second: about 770 packets per iteration.
#[divan::bench(sample_count = 100, sample_size = 1)]
fn vp8_packet(bencher: Bencher<'_, '_>) {
    vp8_track().bench(bencher);
}
