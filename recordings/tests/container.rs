//! The recorder's files against real codecs and real tools: RTP from libopus, libvpx and
//! libx264 goes through [`TrackFile`]; ffprobe and ffmpeg (Debian's) say what a viewer would
//! get, from finalised files, files cut as a SIGKILL cuts them, and files rebuilt from logs.

use std::path::{Path, PathBuf};
use std::process::Command;

use accord_recordings::clock::{ClockGroup, TrackClock};
use accord_recordings::log::{LogHeader, read_log};
use accord_recordings::rtp::RtpPacket;
use accord_recordings::track::{TrackFile, TrackFileSpec, TrackSummary, rebuild_from_log};
use bytes::Bytes;

const FPS: u64 = 30;
const FRAME_US: u64 = 1_000_000 / FPS;
const VIDEO_TICKS_PER_FRAME: u32 = 90_000 / FPS as u32;
const MAX_RTP_PAYLOAD: usize = 1_100;

/// One packet as a publisher would send it, with its arrival on the session clock.
#[derive(Clone)]
struct Sent {
    arrival_us: u64,
    packet: RtpPacket,
}

fn header(kind: &str, mime_type: &str, clock_rate: u32, channels: u16) -> LogHeader {
    LogHeader {
        track_id: format!("TR_{kind}"),
        participant_id: "PA_test".into(),
        kind: kind.into(),
        mime_type: mime_type.into(),
        clock_rate,
        channels,
        fmtp: String::new(),
        started_at_ms: 1_765_000_000_000,
    }
}

fn vp8_header() -> LogHeader {
    header("video", "video/VP8", 90_000, 0)
}

fn opus_header() -> LogHeader {
    header("audio", "audio/opus", 48_000, 2)
}

fn packet(seq: u16, timestamp: u32, marker: bool, payload: Vec<u8>, pt: u8) -> RtpPacket {
    RtpPacket {
        sequence_number: seq,
        timestamp,
        ssrc: 0x1234_5678,
        payload_type: pt,
        marker,
        payload: Bytes::from(payload),
    }
}

/// Three seconds of a 440 Hz tone from libopus, 20 ms per packet; sequence numbers wrap.
fn opus_packets(seconds: u64) -> Vec<Sent> {
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio).expect("enc");
    let frames = seconds * 50;
    let mut sent = Vec::new();
    for i in 0..frames {
        let pcm: Vec<i16> = (0..960u64)
            .map(|n| {
                let t = (i * 960 + n) as f64 / 48_000.0;
                ((t * 440.0 * std::f64::consts::TAU).sin() * 8_000.0) as i16
            })
            .collect();
        let data = encoder.encode_vec(&pcm, 4_000).expect("encode");
        let seq = 65_500u16.wrapping_add(i as u16);
        let ts = 1_000u32.wrapping_add((i * 960) as u32);
        sent.push(Sent {
            arrival_us: i * 20_000,
            packet: packet(seq, ts, false, data, 111),
        });
    }
    sent
}

fn run_ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Three seconds of ffmpeg's 640×360 test picture at 30 fps, encoded with `encoder_args`
/// (codec, keyframe every second, container) into `path`; the file's bytes.
fn encode_test_video(path: &Path, encoder_args: &str) -> Vec<u8> {
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=640x360:rate=30",
        "-t",
        "3",
    ];
    args.extend(encoder_args.split_whitespace());
    args.extend(["-g", "30", "-y", path.to_str().expect("utf-8 path")]);
    run_ffmpeg(&args);
    std::fs::read(path).expect("encoded video")
}

/// The frames of a VP8 IVF made by libvpx.
fn vp8_frames(dir: &Path) -> Vec<Vec<u8>> {
    let data = encode_test_video(&dir.join("src.ivf"), "-c:v libvpx -b:v 600k -f ivf");
    let mut frames = Vec::new();
    let mut at = 32;
    while at + 12 <= data.len() {
        let size =
            u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        frames.push(data[at + 12..at + 12 + size].to_vec());
        at += 12 + size;
    }
    frames
}

/// RFC 7741 packetization: a one-byte descriptor, S on the first packet, marker on the last.
fn vp8_packets(frames: &[Vec<u8>]) -> Vec<Sent> {
    let mut sent = Vec::new();
    let mut seq = 40_000u16;
    for (i, frame) in frames.iter().enumerate() {
        let chunks: Vec<&[u8]> = frame.chunks(MAX_RTP_PAYLOAD).collect();
        for (n, chunk) in chunks.iter().enumerate() {
            let mut payload = vec![if n == 0 { 0x10 } else { 0x00 }];
            payload.extend_from_slice(chunk);
            let ts = 7_000u32 + i as u32 * VIDEO_TICKS_PER_FRAME;
            sent.push(Sent {
                arrival_us: i as u64 * FRAME_US + n as u64 * 100,
                packet: packet(seq, ts, n + 1 == chunks.len(), payload, 96),
            });
            seq = seq.wrapping_add(1);
        }
    }
    sent
}

/// libx264 access units (Annex B with AUDs), each a list of NAL units.
fn h264_access_units(dir: &Path) -> Vec<Vec<Vec<u8>>> {
    let data = encode_test_video(
        &dir.join("src.h264"),
        "-pix_fmt yuv420p -c:v libx264 -bf 0 -x264-params aud=1 \
         -bsf:v h264_mp4toannexb -f h264",
    );
    let mut nals = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            if let Some(s) = start {
                let mut end = i;
                while end > s && data[end - 1] == 0 {
                    end -= 1;
                }
                nals.push(data[s..end].to_vec());
            }
            start = Some(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        nals.push(data[s..].to_vec());
    }
    let mut units: Vec<Vec<Vec<u8>>> = Vec::new();
    for nal in nals {
        if nal[0] & 0x1f == 9 || units.is_empty() {
            units.push(Vec::new());
        }
        if nal[0] & 0x1f != 9 {
            units.last_mut().expect("unit").push(nal);
        }
    }
    units.retain(|unit| !unit.is_empty());
    units
}

/// RFC 6184 mode 1: small NAL units alone, large ones as FU-A; marker on an access unit's end.
fn h264_packets(units: &[Vec<Vec<u8>>]) -> Vec<Sent> {
    let mut sent = Vec::new();
    let mut seq = 1u16;
    for (i, unit) in units.iter().enumerate() {
        let ts = 90_000u32 + i as u32 * VIDEO_TICKS_PER_FRAME;
        let mut payloads = Vec::new();
        for nal in unit {
            if nal.len() <= MAX_RTP_PAYLOAD {
                payloads.push(nal.clone());
                continue;
            }
            let chunks: Vec<&[u8]> = nal[1..].chunks(MAX_RTP_PAYLOAD).collect();
            for (n, chunk) in chunks.iter().enumerate() {
                let start = if n == 0 { 0x80 } else { 0 };
                let end = if n + 1 == chunks.len() { 0x40 } else { 0 };
                let mut payload = vec![(nal[0] & 0xe0) | 28, start | end | (nal[0] & 0x1f)];
                payload.extend_from_slice(chunk);
                payloads.push(payload);
            }
        }
        let last = payloads.len() - 1;
        for (n, payload) in payloads.into_iter().enumerate() {
            sent.push(Sent {
                arrival_us: i as u64 * FRAME_US + n as u64 * 100,
                packet: packet(seq, ts, n == last, payload, 102),
            });
            seq = seq.wrapping_add(1);
        }
    }
    sent
}

/// Records `sent` live into `dir`; `flush_every` packets the track is flushed, as the
/// recorder does every few seconds.
fn record(dir: &Path, stem: &str, header: LogHeader, sent: &[Sent]) -> TrackSummary {
    let clock = TrackClock::new(header.clock_rate, ClockGroup::default());
    let mut track = TrackFile::create(
        TrackFileSpec {
            dir: dir.to_path_buf(),
            stem: stem.into(),
            header,
        },
        clock,
    )
    .expect("create");
    for s in sent {
        track.push(s.arrival_us, &s.packet).expect("push");
    }
    track.finish().expect("finish")
}

struct Probe {
    codec: String,
    width: Option<u64>,
    height: Option<u64>,
    duration: f64,
}

fn probe(path: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name,width,height",
        ])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let stream = &json["streams"][0];
    Probe {
        codec: stream["codec_name"].as_str().unwrap_or_default().to_owned(),
        width: stream["width"].as_u64(),
        height: stream["height"].as_u64(),
        duration: json["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .unwrap_or(f64::NAN),
    }
}

/// Decodes the whole file: asserts ffmpeg reports no error (but that a `cut` file ends
/// early) and returns the decoded length (last frame's time plus its duration) and the
/// frame count.
fn decode(path: &Path, cut: bool) -> (f64, usize) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg decode failed");
    let errors = String::from_utf8_lossy(&out.stderr);
    let unexpected: Vec<&str> = errors
        .lines()
        .filter(|line| !(cut && line.ends_with("File ended prematurely")))
        .collect();
    assert!(unexpected.is_empty(), "decode errors: {errors}");
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "frame=pts_time,duration_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let frames: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(',');
            let pts = parts.next()?.parse().ok()?;
            let duration = parts.next().and_then(|d| d.parse().ok()).unwrap_or(0.0);
            Some((pts, duration))
        })
        .collect();
    let end = frames.iter().map(|(p, d)| p + d).fold(0.0, f64::max);
    (end, frames.len())
}

/// A hash of every frame's bytes (not their times, which move by the reordering's µs).
fn packet_hash(path: &Path) -> String {
    let out = run_ffmpeg(&[
        "-i",
        path.to_str().expect("utf-8 path"),
        "-c",
        "copy",
        "-f",
        "hash",
        "-",
    ]);
    String::from_utf8_lossy(&out).trim().to_owned()
}

fn media(dir: &Path, summary: &TrackSummary) -> PathBuf {
    dir.join(summary.media_file.as_deref().expect("a playable file"))
}

#[test]
fn opus_track_plays_for_as_long_as_it_was_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = record(dir.path(), "t01-audio", opus_header(), &opus_packets(3));
    let probe = probe(&media(dir.path(), &summary));
    assert_eq!(probe.codec, "opus");
    assert_close("duration", probe.duration, 3.0, 0.1);
    assert_eq!(summary.frames, 150);
    assert_eq!(
        (summary.start_us, summary.end_us),
        (Some(0), Some(3_000_000))
    );
    assert_eq!(summary.log_file, "t01-audio.rtplog");
    decode(&media(dir.path(), &summary), false);
}

/// Asserts a finished 3-second 640×360 video file: its name, codec, size, duration, and that
/// it decodes cleanly to the end with all 90 frames.
fn assert_whole_video(dir: &Path, summary: &TrackSummary, file: &str, codec: &str) {
    let path = media(dir, summary);
    assert!(path.ends_with(file), "{}", path.display());
    let probe = probe(&path);
    assert_eq!(probe.codec, codec);
    assert_eq!((probe.width, probe.height), (Some(640), Some(360)));
    assert_close("duration", probe.duration, 3.0, 0.1);
    let (decoded, frames) = decode(&path, false);
    assert_eq!(frames, 90);
    assert_close("decoded", decoded, 3.0, 0.1);
}

fn assert_close(what: &str, actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() < tolerance,
        "{what}: {actual}, expected {expected} ± {tolerance}"
    );
}

#[test]
fn vp8_track_keeps_size_and_duration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = vp8_packets(&vp8_frames(dir.path()));
    let summary = record(dir.path(), "t02-video", vp8_header(), &sent);
    assert_whole_video(dir.path(), &summary, "t02-video.webm", "vp8");
}

#[test]
fn h264_track_is_matroska_with_its_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = h264_packets(&h264_access_units(dir.path()));
    assert!(
        sent.iter().any(|s| s.packet.payload[0] & 0x1f == 28),
        "FU-A used"
    );
    let h264 = header("video", "video/H264", 90_000, 0);
    let summary = record(dir.path(), "t03-video", h264, &sent);
    assert_whole_video(dir.path(), &summary, "t03-video.mkv", "h264");
}

/// A SIGKILL at `kill_us`: what the file holds is what was flushed, plus a cluster cut short.
#[test]
fn a_file_cut_by_a_kill_still_plays_up_to_near_the_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = vp8_packets(&vp8_frames(dir.path()));
    let clock = TrackClock::new(90_000, ClockGroup::default());
    let spec = TrackFileSpec {
        dir: dir.path().to_path_buf(),
        stem: "t01-video".into(),
        header: vp8_header(),
    };
    let mut track = TrackFile::create(spec, clock).expect("create");
    let kill_us = 2_200_000;
    let mut last_flush_us = 0;
    for s in sent.iter().filter(|s| s.arrival_us < kill_us) {
        track.push(s.arrival_us, &s.packet).expect("push");
        if s.arrival_us - last_flush_us >= 500_000 {
            track.flush().expect("flush");
            last_flush_us = s.arrival_us;
        }
    }
    track.flush().expect("flush");
    let at_kill = std::fs::read(track.media_path()).expect("live file");
    let log_at_kill = std::fs::read(track.log_path()).expect("live log");
    drop(track);

    // The write of the last cluster was under way: half of it reached the disk.
    let cut = dir.path().join("cut.webm");
    let last_cluster = at_kill
        .windows(4)
        .rposition(|w| w == [0x1f, 0x43, 0xb6, 0x75])
        .expect("a cluster");
    let cut_at = last_cluster + (at_kill.len() - last_cluster) / 2;
    std::fs::write(&cut, &at_kill[..cut_at]).expect("write");
    let cut_probe = probe(&cut);
    assert_eq!(cut_probe.codec, "vp8");
    let (decoded, _) = decode(&cut, true);
    let kill = kill_us as f64 / 1e6;
    assert!(
        decoded <= kill && kill - decoded < 1.5,
        "decoded {decoded}s of {kill}s"
    );

    // The log cut mid-record keeps every whole record, and rebuilds a file that plays.
    let rebuilt_dir = tempfile::tempdir().expect("tempdir");
    let log = rebuilt_dir.path().join("t01-video.rtplog");
    std::fs::write(&log, &log_at_kill[..log_at_kill.len() - 7]).expect("write");
    let contents = read_log(&log).expect("read");
    let pushed = sent.iter().filter(|s| s.arrival_us < kill_us).count();
    assert_eq!(contents.records.len(), pushed - 1);
    assert!(contents.valid_bytes < contents.file_bytes);
    let clock = TrackClock::new(90_000, ClockGroup::default());
    let summary = rebuild_from_log(&log, rebuilt_dir.path(), "t01-video", clock).expect("rebuild");
    let rebuilt = media(rebuilt_dir.path(), &summary);
    let (decoded, _) = decode(&rebuilt, false);
    assert!(kill - decoded < 0.2, "rebuilt plays {decoded}s of {kill}s");
    assert_close("rebuilt duration", probe(&rebuilt).duration, decoded, 0.1);
}

#[test]
fn rebuilding_from_the_log_gives_the_live_file_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = record(dir.path(), "t01-audio", opus_header(), &opus_packets(3));
    let live_file = media(dir.path(), &live);
    let live_bytes = std::fs::read(&live_file).expect("live");
    // A crash left a cut file beside the log: it is replaced.
    std::fs::write(&live_file, &live_bytes[..live_bytes.len() / 3]).expect("cut");
    let clock = TrackClock::new(48_000, ClockGroup::default());
    let rebuilt = rebuild_from_log(
        &dir.path().join(&live.log_file),
        dir.path(),
        "t01-audio",
        clock,
    )
    .expect("rebuild");
    assert_eq!(rebuilt, live);
    assert_eq!(std::fs::read(&live_file).expect("rebuilt"), live_bytes);
    assert_close("rebuilt duration", probe(&live_file).duration, 3.0, 0.1);
}

#[test]
fn reordered_packets_make_the_same_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = vp8_packets(&vp8_frames(dir.path()));
    let in_order = record(dir.path(), "t01-video", vp8_header(), &sent);
    let mut shuffled = sent.clone();
    for pair in shuffled.chunks_mut(5) {
        // The first of every fifth pair is held up in the network and comes after the second.
        if pair.len() >= 2 {
            let second_arrival = pair[1].arrival_us;
            pair.swap(0, 1);
            pair[1].arrival_us = second_arrival + 50;
        }
    }
    let mut with_duplicates = Vec::new();
    for (i, s) in shuffled.into_iter().enumerate() {
        if i % 17 == 3 {
            with_duplicates.push(s.clone());
        }
        with_duplicates.push(s);
    }
    let reordered = record(dir.path(), "t02-video", vp8_header(), &with_duplicates);
    assert_eq!(reordered.frames, in_order.frames);
    let a = packet_hash(&media(dir.path(), &in_order));
    let b = packet_hash(&media(dir.path(), &reordered));
    assert!(a == b, "the same frames: {a} vs {b}");
    decode(&media(dir.path(), &reordered), false);
}

/// Records `sent` without the first packet that matches `lost`, and returns what plays: the
/// decoded length and frame count (decoding must report no error) and the file's duration.
fn record_with_loss(
    dir: &Path,
    stem: &str,
    header: LogHeader,
    sent: &[Sent],
    lost: impl Fn(&Sent) -> bool,
) -> (f64, usize, f64) {
    let mut sent = sent.to_vec();
    let at = sent.iter().position(lost).expect("a packet to lose");
    sent.remove(at);
    let summary = record(dir, stem, header, &sent);
    let path = media(dir, &summary);
    let (decoded, count) = decode(&path, false);
    (decoded, count, probe(&path).duration)
}

#[test]
fn a_lost_video_packet_never_yields_a_broken_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = vp8_packets(&vp8_frames(dir.path()));

    // An inter frame at 1.3 s is lost whole: what refers to it is dropped up to the keyframe
    // at 2 s, and the file freezes there instead of showing a damaged picture.
    let (decoded, count, duration) =
        record_with_loss(dir.path(), "t01-video", vp8_header(), &sent, |s| {
            s.arrival_us == 39 * FRAME_US
        });
    assert_eq!(count, 90 - (60 - 39), "frames 39 to 59 are dropped");
    assert_close("decoded", decoded, 3.0, 0.1);
    assert_close("duration", duration, 3.0, 0.1);

    // A piece of the keyframe at 2 s is lost: nothing after it can be shown.
    let (decoded, count, _) = record_with_loss(dir.path(), "t02-video", vp8_header(), &sent, |s| {
        s.arrival_us > 60 * FRAME_US && s.arrival_us < 61 * FRAME_US
    });
    assert_eq!(count, 60);
    assert_close("decoded", decoded, 2.0, 0.1);
}

#[test]
fn a_lost_h264_packet_never_yields_a_broken_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = h264_packets(&h264_access_units(dir.path()));
    let h264 = || header("video", "video/H264", 90_000, 0);
    // The last packet of the access unit at 1.3 s goes missing.
    let (decoded, count, duration) =
        record_with_loss(dir.path(), "t01-video", h264(), &sent, |s| {
            s.packet.marker && s.arrival_us >= 39 * FRAME_US && s.arrival_us < 40 * FRAME_US
        });
    assert_eq!(count, 90 - (60 - 39), "frames 39 to 59 are dropped");
    assert_close("decoded", decoded, 3.0, 0.1);
    assert_close("duration", duration, 3.0, 0.1);
}
