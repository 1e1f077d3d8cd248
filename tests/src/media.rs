//! Test media: VP8 (IVF) and Opus (Ogg) clips generated with ffmpeg, cached on disk, loaded
//! into memory as encoded frames, and packetized into RTP payloads.
//!
//! Every clip exists in several *variants* (a hue shift for video, a different sine frequency
//! for audio) so that each test participant publishes bytes nobody else publishes: a receiver
//! can then prove not only that payloads arrive intact but that they came from the publisher
//! the server said they came from.

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use rtc::media::io::ivf_reader::IVFReader;
use rtc::media::io::ogg_reader::OggReader;
use rtc::rtp::codec::opus::OpusPayloader;
use rtc::rtp::codec::vp8::Vp8Payloader;
use rtc::rtp::packetizer::Payloader;
use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Frames per second of every generated video clip.
pub const VIDEO_FPS: u32 = 30;
/// RTP clock rate of VP8.
pub const VIDEO_CLOCK_RATE: u32 = 90_000;
/// Duration of one Opus packet in the generated audio.
pub const AUDIO_FRAME: Duration = Duration::from_millis(20);
/// Samples (at 48 kHz) in one Opus packet; also the RTP timestamp step.
pub const AUDIO_SAMPLES_PER_FRAME: u32 = 960;
/// How many distinct variants exist; participant `i` uses variant `i % VARIANTS`.
pub const VARIANTS: u32 = 8;
/// Largest RTP payload we produce; leaves room for header extensions and SRTP under 1200.
pub const MAX_PAYLOAD: usize = 1100;

const CLIP_SECONDS: u32 = 5;
const KEYFRAME_INTERVAL: u32 = 30;

/// The three video sizes; `Quarter`, `Half` and `Full` are also the simulcast layers q, h, f.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoSize {
    /// 320x180, simulcast rid `q`.
    Quarter,
    /// 640x360, simulcast rid `h`.
    Half,
    /// 1280x720, simulcast rid `f`.
    Full,
}

impl VideoSize {
    /// Width and height in pixels.
    pub fn dimensions(self) -> (u32, u32) {
        match self {
            VideoSize::Quarter => (320, 180),
            VideoSize::Half => (640, 360),
            VideoSize::Full => (1280, 720),
        }
    }

    /// Target bitrate for the encoder, roughly what a browser would send at this size.
    fn bitrate_kbps(self) -> u32 {
        match self {
            VideoSize::Quarter => 150,
            VideoSize::Half => 500,
            VideoSize::Full => 1200,
        }
    }

    /// The simulcast rid conventionally used for this size.
    pub fn rid(self) -> &'static str {
        match self {
            VideoSize::Quarter => "q",
            VideoSize::Half => "h",
            VideoSize::Full => "f",
        }
    }
}

/// A VP8 clip held in memory: one entry per encoded frame.
#[derive(Debug)]
pub struct VideoClip {
    /// Encoded VP8 frames in display order.
    pub frames: Vec<Bytes>,
    /// Pixel size.
    pub size: VideoSize,
}

/// An Opus clip held in memory: one entry per 20 ms packet.
#[derive(Debug)]
pub struct AudioClip {
    /// Opus packets, each [`AUDIO_FRAME`] long.
    pub packets: Vec<Bytes>,
}

/// Where generated media lives: `<target>/test-media`.
pub fn media_dir() -> Result<PathBuf> {
    let dir = crate::target_dir()?.join("test-media");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Loads (generating on first use) the VP8 clip of `size` for `variant`.
pub fn video_clip(size: VideoSize, variant: u32) -> Result<Arc<VideoClip>> {
    let variant = variant % VARIANTS;
    let key = format!("video-{size:?}-{variant}");
    cached(&key, || {
        let (w, h) = size.dimensions();
        let path = media_dir()?.join(format!("testsrc-{w}x{h}-v{variant}.ivf"));
        // Hue steps of 45 degrees make every variant's bitstream different.
        let hue = variant * 45;
        ensure_generated(&path, |out| {
            vec![
                "-f".into(),
                "lavfi".into(),
                "-i".into(),
                format!("testsrc2=size={w}x{h}:rate={VIDEO_FPS}"),
                "-t".into(),
                CLIP_SECONDS.to_string(),
                "-vf".into(),
                format!("hue=h={hue}"),
                "-c:v".into(),
                "libvpx".into(),
                "-g".into(),
                KEYFRAME_INTERVAL.to_string(),
                "-keyint_min".into(),
                KEYFRAME_INTERVAL.to_string(),
                "-deadline".into(),
                "realtime".into(),
                "-cpu-used".into(),
                "8".into(),
                // No invisible alt-ref frames: every IVF frame is one displayed frame, as from
                // a browser's real-time encoder.
                "-lag-in-frames".into(),
                "0".into(),
                "-auto-alt-ref".into(),
                "0".into(),
                "-b:v".into(),
                format!("{}k", size.bitrate_kbps()),
                "-f".into(),
                "ivf".into(),
                out.to_string_lossy().into_owned(),
            ]
        })?;
        let clip = read_ivf(&path, size)?;
        Ok(Arc::new(clip))
    })
}

/// Loads (generating on first use) the Opus clip for `variant`.
pub fn audio_clip(variant: u32) -> Result<Arc<AudioClip>> {
    let variant = variant % VARIANTS;
    let key = format!("audio-{variant}");
    cached(&key, || {
        let frequency = 220 + 110 * variant;
        let path = media_dir()?.join(format!("sine-{frequency}hz.ogg"));
        ensure_generated(&path, |out| {
            vec![
                "-f".into(),
                "lavfi".into(),
                "-i".into(),
                format!("sine=frequency={frequency}:sample_rate=48000:duration={CLIP_SECONDS}"),
                "-c:a".into(),
                "libopus".into(),
                "-b:a".into(),
                "32k".into(),
                "-frame_duration".into(),
                "20".into(),
                // One Opus packet per Ogg page: the reader hands us pages, not packets.
                "-page_duration".into(),
                "20000".into(),
                "-f".into(),
                "ogg".into(),
                out.to_string_lossy().into_owned(),
            ]
        })?;
        Ok(Arc::new(read_ogg(&path)?))
    })
}

/// [`video_clip`] off the async runtime: generating a clip runs ffmpeg for seconds.
pub async fn video_clip_async(size: VideoSize, variant: u32) -> Result<Arc<VideoClip>> {
    tokio::task::spawn_blocking(move || video_clip(size, variant))
        .await
        .context("video clip loader panicked")?
}

/// [`audio_clip`] off the async runtime.
pub async fn audio_clip_async(variant: u32) -> Result<Arc<AudioClip>> {
    tokio::task::spawn_blocking(move || audio_clip(variant))
        .await
        .context("audio clip loader panicked")?
}

/// Splits one VP8 frame into RTP payloads (with the VP8 payload descriptor).
///
/// The payloader is stateful (it numbers pictures), so each outgoing stream keeps its own.
pub fn vp8_payloads(payloader: &mut Vp8Payloader, frame: &Bytes) -> Result<Vec<Bytes>> {
    payloader
        .payload(MAX_PAYLOAD, frame)
        .map_err(|err| anyhow::anyhow!("VP8 payloader failed: {err}"))
}

/// Wraps one Opus packet as an RTP payload (Opus needs no descriptor; this is a copy).
pub fn opus_payload(packet: &Bytes) -> Result<Bytes> {
    let mut payloader = OpusPayloader;
    let mut payloads = payloader
        .payload(MAX_PAYLOAD, packet)
        .map_err(|err| anyhow::anyhow!("Opus payloader failed: {err}"))?;
    ensure!(
        payloads.len() == 1,
        "an Opus packet must fit one RTP payload"
    );
    Ok(payloads.remove(0))
}

/// A fresh VP8 payloader that writes 15-bit picture ids, as browsers do.
pub fn new_vp8_payloader() -> Vp8Payloader {
    let mut payloader = Vp8Payloader::default();
    payloader.enable_picture_id = true;
    payloader
}

/// Memoizes loaded clips per process, and serializes generation so that two tests in the same
/// binary never run ffmpeg for the same file at once.
fn cached<T: Send + Sync + 'static>(
    key: &str,
    load: impl FnOnce() -> Result<Arc<T>>,
) -> Result<Arc<T>> {
    type Cache = Mutex<HashMap<String, Arc<dyn std::any::Any + Send + Sync>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    // Holding the lock while loading is deliberate: generation is the expensive part and must
    // not run twice; later loads are memory lookups.
    let mut guard = cache
        .lock()
        .map_err(|_| anyhow::anyhow!("media cache lock poisoned"))?;
    if let Some(hit) = guard.get(key) {
        return Arc::clone(hit)
            .downcast::<T>()
            .map_err(|_| anyhow::anyhow!("media cache entry {key} has the wrong type"));
    }
    let value = load()?;
    guard.insert(
        key.to_owned(),
        Arc::clone(&value) as Arc<dyn std::any::Any + Send + Sync>,
    );
    Ok(value)
}

/// Runs ffmpeg unless `path` already exists. Writes to a temporary name and renames, so a
/// concurrently running test binary never reads a half-written file.
fn ensure_generated(path: &Path, args: impl FnOnce(&Path) -> Vec<String>) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    let tmp = path.with_extension(format!(
        "tmp-{}-{:08x}.{}",
        std::process::id(),
        rand::random::<u32>(),
        path.extension().and_then(|e| e.to_str()).unwrap_or("bin")
    ));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args(&tmp));
    let output = cmd
        .output()
        .context("running ffmpeg (is /usr/bin/ffmpeg installed?)")?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "ffmpeg failed generating {}: {}\n{}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("moving {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

fn read_ivf(path: &Path, size: VideoSize) -> Result<VideoClip> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (mut reader, header) = IVFReader::new(BufReader::new(file))
        .map_err(|err| anyhow::anyhow!("{}: bad IVF header: {err}", path.display()))?;
    ensure!(
        &header.four_cc == b"VP80",
        "{}: expected VP8, found fourcc {:?}",
        path.display(),
        header.four_cc
    );
    let mut frames = Vec::new();
    // The reader reports end of file as an error; every frame before it is what we want.
    while let Ok((frame, _)) = reader.parse_next_frame() {
        frames.push(frame.freeze());
    }
    ensure!(
        frames.len() >= VIDEO_FPS as usize,
        "{}: only {} frames",
        path.display(),
        frames.len()
    );
    ensure!(
        crate::payload::is_vp8_keyframe(&frames[0]),
        "{}: the first frame is not a keyframe",
        path.display()
    );
    Ok(VideoClip { frames, size })
}

fn read_ogg(path: &Path) -> Result<AudioClip> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (mut reader, _head) = OggReader::new(BufReader::new(file), true)
        .map_err(|err| anyhow::anyhow!("{}: bad Ogg/Opus header: {err}", path.display()))?;
    let mut packets = Vec::new();
    let mut last_granule = 0u64;
    while let Ok((data, header)) = reader.parse_next_page() {
        if data.starts_with(b"OpusTags") || data.starts_with(b"OpusHead") {
            continue;
        }
        // More than one packet's worth of samples in a page would mean several packets were
        // concatenated, which we could not split back apart.
        let step = header.granule_position.saturating_sub(last_granule);
        ensure!(
            step <= u64::from(AUDIO_SAMPLES_PER_FRAME),
            "{}: an Ogg page holds {step} samples; regenerate with -page_duration 20000",
            path.display()
        );
        last_granule = header.granule_position;
        packets.push(data.freeze());
    }
    ensure!(
        packets.len() >= 50,
        "{}: only {} Opus packets",
        path.display(),
        packets.len()
    );
    Ok(AudioClip { packets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{PayloadKind, is_vp8_keyframe_packet, payload_hash};

    #[test]
    fn clips_load_and_packetize() -> Result<()> {
        let video = video_clip(VideoSize::Quarter, 0)?;
        assert!(video.frames.len() >= 140, "{} frames", video.frames.len());
        let mut payloader = new_vp8_payloader();
        let payloads = vp8_payloads(&mut payloader, &video.frames[0])?;
        assert!(is_vp8_keyframe_packet(&payloads[0]));
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        assert!(
            payloads
                .iter()
                .all(|p| payload_hash(PayloadKind::Vp8, p).is_some())
        );

        let audio = audio_clip(0)?;
        assert!(
            audio.packets.len() >= 240,
            "{} packets",
            audio.packets.len()
        );
        let other = audio_clip(1)?;
        assert_ne!(audio.packets[10], other.packets[10], "variants must differ");
        Ok(())
    }
}
