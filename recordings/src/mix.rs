//! The mixed audio of a whole session: every Opus track decoded, placed on the session clock
//! ([`crate::clock`]), summed and encoded once, so a listener hears the session without
//! juggling tracks.
//!
//! Time is walked in 20 ms steps with one cursor per track, so memory stays bounded by a few
//! packets per track however long the session (an hour is 172 M samples). Each packet is placed
//! at its own session time rather than after the previous one, so small clock differences
//! never add up to drift; the few samples of overlap or gap this leaves are trimmed or held.

use std::collections::VecDeque;

use bytes::Bytes;
use opus::{Application, Bitrate, Channels, Decoder, Encoder, Signal};

use crate::{Error, Result};

/// The mixer's sample rate (Opus decodes and encodes at 48 kHz natively).
pub const SAMPLE_RATE: u32 = 48_000;
/// The duration of one mixed frame.
pub const FRAME_US: u64 = 20_000;

const FRAME_SAMPLES: usize = 960;
/// The longest Opus packet: 120 ms at 48 kHz.
const MAX_PACKET_SAMPLES: usize = 5_760;
/// How far ahead of the window being mixed packets are decoded: a lost packet is only known
/// when the next one is seen, and its concealment must be in place before its time is mixed.
const DECODE_AHEAD_SAMPLES: u64 = MAX_PACKET_SAMPLES as u64;
/// Placement differences up to this many samples (10 ms) are clock noise, resolved by trimming
/// or holding; a larger gap is silence.
const SNAP_SAMPLES: u64 = 480;
/// The limiter's ceiling, 2.5 dB under full scale: Opus's reconstruction of a loud peak
/// overshoots it (summed tones limited to 0.89 decoded to 1.07).
const LIMITER_CEILING: f32 = 0.75;
/// How fast the limiter's gain recovers per frame (+0.4 dB per 20 ms: about 2.5 s from −50 dB),
/// slow enough not to pump on speech.
const LIMITER_RELEASE: f32 = 1.05;
/// Longer than any mediation session (24 hours): a longer one is a wrong clock, not a session.
const MAX_DURATION_US: u64 = 24 * 3_600 * 1_000_000;
/// Room for one encoded frame; Opus never needs more than 1275 bytes per frame.
const MAX_ENCODED_BYTES: usize = 1_500;

/// One track's audio, ready to mix.
#[derive(Debug, Clone, Default)]
pub struct AudioInput {
    /// The track's Opus packets in session order, each once.
    pub packets: Vec<PlacedPacket>,
}

/// One Opus packet placed on the session clock.
#[derive(Debug, Clone)]
pub struct PlacedPacket {
    /// Session time of the packet's first sample, µs (from [`crate::clock::TrackClock::place`]).
    pub at_us: u64,
    /// The RTP sequence number extended across wraps: a gap of one means one lost packet.
    pub sequence: u64,
    /// One Opus packet.
    pub payload: Bytes,
}

/// One 20 ms frame of the mixed audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedFrame {
    /// Session time of the frame's first sample, µs.
    pub at_us: u64,
    /// The frame, one Opus packet.
    pub opus: Vec<u8>,
}

/// How the mixed audio is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixOptions {
    /// 1 (mono) or 2 (stereo).
    pub channels: u16,
    /// Target bitrate, bits per second.
    pub bitrate: i32,
}

impl Default for MixOptions {
    fn default() -> Self {
        Self {
            channels: 1,
            bitrate: 32_000,
        }
    }
}

/// Mixes `inputs` into 20 ms Opus frames covering `0..duration_us` of the session; frames where
/// nobody spoke are encoded silence. The first decoded sample of the result is the session's
/// first (the encoder's lookahead is taken out here, so a container needs no pre-skip).
///
/// A packet libopus cannot decode is treated as lost; only bad options or an encoder failure
/// are errors.
pub fn mix(
    inputs: &[AudioInput],
    duration_us: u64,
    options: &MixOptions,
) -> Result<Vec<MixedFrame>> {
    let channels = match options.channels {
        1 => Channels::Mono,
        2 => Channels::Stereo,
        other => return Err(Error::Audio(format!("{other} channels cannot be mixed"))),
    };
    if duration_us > MAX_DURATION_US {
        return Err(Error::Audio(format!(
            "a session of {} s is too long to mix",
            duration_us / 1_000_000
        )));
    }
    let width = usize::from(options.channels);
    let mut encoder = Encoder::new(SAMPLE_RATE, channels, Application::Audio).map_err(codec)?;
    encoder
        .set_bitrate(Bitrate::Bits(options.bitrate))
        .map_err(codec)?;
    // CELT keeps the waveform; SILK's speech model reshapes it (tones limited to 0.75 came back
    // at 1.01), which would defeat the limiter and blur timing for whoever checks the mix.
    encoder.set_signal(Signal::Music).map_err(codec)?;
    let lookahead = u64::try_from(encoder.get_lookahead().map_err(codec)?).unwrap_or(0);
    let mut cursors = inputs
        .iter()
        .map(|input| TrackCursor::new(&input.packets, channels, width))
        .collect::<Result<Vec<_>>>()?;

    let frame_count = duration_us.div_ceil(FRAME_US);
    let mut frames = Vec::with_capacity(usize::try_from(frame_count).unwrap_or(0));
    let mut limiter = Limiter::default();
    let mut pcm = vec![0.0f32; FRAME_SAMPLES * width];
    let mut encoded = vec![0u8; MAX_ENCODED_BYTES];
    for index in 0..frame_count {
        // Fed `lookahead` samples ahead, the encoder's delay lands each sample on its own time.
        let window_start = index * FRAME_SAMPLES as u64 + lookahead;
        pcm.fill(0.0);
        for cursor in &mut cursors {
            cursor.mix_into(window_start, &mut pcm);
        }
        limiter.apply(&mut pcm);
        let size = encoder.encode_float(&pcm, &mut encoded).map_err(codec)?;
        frames.push(MixedFrame {
            at_us: index * FRAME_US,
            opus: encoded.get(..size).unwrap_or_default().to_vec(),
        });
    }
    let unreadable: usize = cursors.iter().map(|c| c.unreadable).sum();
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "mixed audio: Opus packets libopus could not decode were treated as lost"
        );
    }
    Ok(frames)
}

fn codec(error: opus::Error) -> Error {
    Error::Audio(error.to_string())
}

/// Session time in µs to a sample position at 48 kHz.
fn sample_position(at_us: u64) -> u64 {
    let samples = u128::from(at_us) * u128::from(SAMPLE_RATE) / 1_000_000;
    u64::try_from(samples).unwrap_or(u64::MAX)
}

/// One track's decoder and the decoded samples not yet mixed.
struct TrackCursor<'a> {
    packets: &'a [PlacedPacket],
    next: usize,
    decoder: Decoder,
    width: usize,
    /// Interleaved samples not yet mixed; the first is at `pending_start` (a sample position).
    pending: VecDeque<f32>,
    pending_start: u64,
    /// Where the last decoded packet ended, its sequence number and length in samples.
    last: Option<(u64, u64, usize)>,
    /// The sample position after the last sample placed (mixed already or not).
    written_end: Option<u64>,
    /// The last sample frame decoded, held across a gap of a few samples to avoid a click.
    last_values: Vec<f32>,
    scratch: Vec<f32>,
    unreadable: usize,
}

impl<'a> TrackCursor<'a> {
    fn new(packets: &'a [PlacedPacket], channels: Channels, width: usize) -> Result<Self> {
        Ok(Self {
            packets,
            next: 0,
            decoder: Decoder::new(SAMPLE_RATE, channels).map_err(codec)?,
            width,
            pending: VecDeque::with_capacity(2 * MAX_PACKET_SAMPLES * width),
            pending_start: 0,
            last: None,
            written_end: None,
            last_values: vec![0.0; width],
            scratch: vec![0.0; MAX_PACKET_SAMPLES * width],
            unreadable: 0,
        })
    }

    fn pending_end(&self) -> u64 {
        self.pending_start
            .saturating_add((self.pending.len() / self.width) as u64)
    }

    /// Adds this track's samples in `window_start..window_start + FRAME_SAMPLES` to `pcm`,
    /// decoding the packets that start before the window ends.
    fn mix_into(&mut self, window_start: u64, pcm: &mut [f32]) {
        let window_end = window_start + FRAME_SAMPLES as u64;
        while let Some(packet) = self.packets.get(self.next) {
            if sample_position(packet.at_us) >= window_end + DECODE_AHEAD_SAMPLES {
                break;
            }
            self.next += 1;
            self.decode(packet);
        }
        // Samples placed before the window (a packet placed in the past) are too late to hear.
        self.drop_before(window_start);
        let offset = usize::try_from(self.pending_start.saturating_sub(window_start))
            .unwrap_or(usize::MAX)
            .saturating_mul(self.width);
        let available = self.pending.len().min(pcm.len().saturating_sub(offset));
        for (out, sample) in pcm
            .iter_mut()
            .skip(offset)
            .zip(self.pending.iter().take(available))
        {
            *out += sample;
        }
        self.drop_before(window_end);
    }

    fn drop_before(&mut self, position: u64) {
        if self.pending_start >= position {
            return;
        }
        let count = usize::try_from(position - self.pending_start)
            .unwrap_or(usize::MAX)
            .saturating_mul(self.width)
            .min(self.pending.len());
        self.pending.drain(..count);
        self.pending_start = if self.pending.is_empty() {
            position
        } else {
            self.pending_start + (count / self.width) as u64
        };
    }

    fn decode(&mut self, packet: &PlacedPacket) {
        let position = sample_position(packet.at_us);
        if let Some((end, sequence, length)) = self.last {
            let lost_slot_end = end.saturating_add(length as u64);
            let one_lost = packet.sequence == sequence.wrapping_add(2)
                && position.abs_diff(lost_slot_end) <= SNAP_SAMPLES;
            if one_lost {
                // One packet lost inside a talk spurt: libopus conceals it from what it heard.
                self.conceal(end, sequence.wrapping_add(1), length);
            } else if packet.sequence != sequence.wrapping_add(1) || position > lost_slot_end {
                // Several lost, or the sender stopped: start afresh after the silence. Should
                // the reset fail, the old state only colours the first packet.
                let _ = self.decoder.reset_state();
            }
        }
        let Some(length) = self.decode_packet(&packet.payload) else {
            return;
        };
        self.place(position, length);
        self.last = Some((
            position.saturating_add(length as u64),
            packet.sequence,
            length,
        ));
    }

    fn conceal(&mut self, at: u64, sequence: u64, length: usize) {
        let Some(buffer) = self.scratch.get_mut(..length * self.width) else {
            return;
        };
        if let Ok(decoded) = self.decoder.decode_float(&[], buffer, false) {
            self.place(at, decoded);
            self.last = Some((at.saturating_add(decoded as u64), sequence, decoded));
        }
    }

    /// Decodes into `scratch`; the number of samples per channel, or `None` for an unreadable
    /// packet (then the next packet is concealed or follows silence, as after a loss).
    fn decode_packet(&mut self, payload: &[u8]) -> Option<usize> {
        if payload.is_empty() {
            self.unreadable += 1;
            return None;
        }
        match self.decoder.decode_float(payload, &mut self.scratch, false) {
            Ok(length) if length > 0 => Some(length),
            _ => {
                self.unreadable += 1;
                None
            }
        }
    }

    /// Places the first `length` decoded samples of `scratch` at `position`.
    fn place(&mut self, position: u64, length: usize) {
        if let Some(end) = self.written_end {
            let short = position.saturating_sub(end);
            if short > 0 && short <= SNAP_SAMPLES {
                // A few samples short of the last packet (clock noise): hold its last value
                // rather than drop to zero for an instant, which clicks.
                let held = self.last_values.repeat(usize::try_from(short).unwrap_or(0));
                self.write(end, &held);
            }
        }
        let decoded = std::mem::take(&mut self.scratch);
        let samples = decoded.get(..length * self.width).unwrap_or_default();
        if let Some(last) = samples.chunks_exact(self.width).last() {
            self.last_values.copy_from_slice(last);
        }
        self.write(position, samples);
        self.scratch = decoded;
    }

    /// Appends interleaved samples at `position`; what overlaps audio already placed is
    /// trimmed (the earlier packet wins), a gap before them is silence.
    fn write(&mut self, position: u64, samples: &[f32]) {
        let mut position = position;
        let mut samples = samples;
        if let Some(end) = self.written_end
            && position < end
        {
            let overlap = usize::try_from(end - position).unwrap_or(usize::MAX);
            samples = samples
                .get(overlap.saturating_mul(self.width)..)
                .unwrap_or_default();
            position = end;
        }
        if samples.is_empty() {
            return;
        }
        if self.pending.is_empty() {
            self.pending_start = position;
        } else {
            // Only packets starting before the window's end plus the decoding lead are decoded,
            // and what is pending reaches into the window, so this gap is short.
            let gap = usize::try_from(position.saturating_sub(self.pending_end())).unwrap_or(0);
            self.pending
                .extend(std::iter::repeat_n(0.0, gap * self.width));
        }
        self.pending.extend(samples.iter().copied());
        self.written_end = Some(self.pending_end());
    }
}

/// Keeps the sum of the tracks under full scale without clipping: the gain drops at once when a
/// frame would exceed the ceiling and recovers slowly.
struct Limiter {
    gain: f32,
}

impl Default for Limiter {
    fn default() -> Self {
        Self { gain: 1.0 }
    }
}

impl Limiter {
    fn apply(&mut self, pcm: &mut [f32]) {
        let peak = pcm.iter().fold(0.0f32, |peak, s| peak.max(s.abs()));
        let allowed = if peak > 0.0 {
            (LIMITER_CEILING / peak).min(1.0)
        } else {
            1.0
        };
        let start = self.gain.min(allowed);
        let end = (self.gain * LIMITER_RELEASE).min(allowed).min(1.0);
        // Ramping between two gains that both keep this frame's peak under the ceiling keeps
        // every sample under it, with no step to hear.
        let step = (end - start) / pcm.len().max(1) as f32;
        for (i, sample) in pcm.iter_mut().enumerate() {
            *sample = (*sample * (start + step * i as f32)).clamp(-1.0, 1.0);
        }
        self.gain = end;
    }
}

/// Signal measurements shared by the mixer's tests and the recorder's end-to-end test.
#[doc(hidden)]
pub mod analysis {
    /// The rate cross-correlation runs at: fine enough for a few samples' precision at 48 kHz
    /// once a tone's period is allowed for, coarse enough to search minutes of signal.
    const CORRELATION_RATE: u32 = 8_000;

    /// Where a sound that begins like `reference` (for instance the first 200 ms of a tone)
    /// starts in `signal`, in seconds from the signal's start; `None` when the signal is shorter
    /// than the reference or nothing in it correlates. The sound must go on for at least the
    /// reference's length. While the reference slides into a steady sound its cross-correlation
    /// rises linearly to a plateau, and the plateau's start is ambiguous (a mixer's limiter can
    /// even make it sag), so the onset is where the rise reaches half the highest value plus half
    /// the reference's length: within one period of the tone.
    pub fn onset_of(reference: &[f32], signal: &[f32], sample_rate: u32) -> Option<f64> {
        if reference.is_empty() || signal.len() < reference.len() || sample_rate == 0 {
            return None;
        }
        let factor = (sample_rate / CORRELATION_RATE).max(1) as usize;
        let reference_coarse = decimate(reference, factor);
        let signal_coarse = decimate(signal, factor);
        let last = signal_coarse.len().checked_sub(reference_coarse.len())?;
        let correlation: Vec<f64> = (0..=last)
            .map(|lag| {
                reference_coarse
                    .iter()
                    .zip(&signal_coarse[lag..])
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum()
            })
            .collect();
        let highest = correlation.iter().copied().fold(0.0f64, f64::max);
        if highest <= 0.0 {
            return None;
        }
        let rise = correlation.iter().position(|&c| c >= highest / 2.0)?;
        let rate = f64::from(sample_rate);
        Some((rise * factor) as f64 / rate + reference.len() as f64 / rate / 2.0)
    }

    /// The mean power of `signal` at `frequency` Hz (Goertzel), comparable across lengths:
    /// a full-scale sine at that frequency gives 0.25.
    pub fn tone_power(signal: &[f32], sample_rate: u32, frequency: f64) -> f64 {
        if signal.is_empty() || sample_rate == 0 {
            return 0.0;
        }
        let coefficient =
            2.0 * (2.0 * std::f64::consts::PI * frequency / f64::from(sample_rate)).cos();
        let (mut previous, mut before) = (0.0f64, 0.0f64);
        for &sample in signal {
            let current = f64::from(sample) + coefficient * previous - before;
            before = previous;
            previous = current;
        }
        let power = previous * previous + before * before - coefficient * previous * before;
        let length = signal.len() as f64;
        power / (length * length)
    }

    /// Averages blocks of `factor` samples: a crude low-pass against aliasing, enough for
    /// speech and test tones.
    fn decimate(samples: &[f32], factor: usize) -> Vec<f32> {
        samples
            .chunks(factor)
            .map(|block| block.iter().sum::<f32>() / block.len() as f32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TONE_HZ: f32 = 440.0;

    /// `frames` 20 ms packets of a 440 Hz tone, encoded as a publisher would.
    fn tone_packets(frames: usize, channels: Channels) -> Vec<Bytes> {
        let width = channels as usize;
        let mut encoder = Encoder::new(SAMPLE_RATE, channels, Application::Voip).expect("encoder");
        let mut out = vec![0u8; MAX_ENCODED_BYTES];
        (0..frames)
            .map(|frame| {
                let pcm: Vec<f32> = (0..FRAME_SAMPLES * width)
                    .map(|i| {
                        let t = (frame * FRAME_SAMPLES + i / width) as f32 / SAMPLE_RATE as f32;
                        0.5 * (2.0 * std::f32::consts::PI * TONE_HZ * t).sin()
                    })
                    .collect();
                let size = encoder.encode_float(&pcm, &mut out).expect("encode");
                Bytes::copy_from_slice(&out[..size])
            })
            .collect()
    }

    fn placed(payloads: Vec<Bytes>, at_us: impl Fn(u64) -> u64) -> AudioInput {
        let packets = payloads
            .into_iter()
            .zip(0u64..)
            .map(|(payload, n)| PlacedPacket {
                at_us: at_us(n),
                sequence: n,
                payload,
            })
            .collect();
        AudioInput { packets }
    }

    fn decode(frames: &[MixedFrame], channels: Channels) -> Vec<f32> {
        let mut decoder = Decoder::new(SAMPLE_RATE, channels).expect("decoder");
        let mut buffer = vec![0.0f32; MAX_PACKET_SAMPLES * channels as usize];
        let mut pcm = Vec::new();
        for frame in frames {
            let n = decoder
                .decode_float(&frame.opus, &mut buffer, false)
                .expect("decode");
            pcm.extend_from_slice(&buffer[..n * channels as usize]);
        }
        pcm
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
    }

    #[test]
    fn bad_options_are_refused() {
        let three = MixOptions {
            channels: 3,
            ..MixOptions::default()
        };
        assert!(matches!(mix(&[], 1_000_000, &three), Err(Error::Audio(_))));
        assert!(matches!(
            mix(&[], u64::MAX, &MixOptions::default()),
            Err(Error::Audio(_))
        ));
    }

    #[test]
    fn undecodable_packets_are_treated_as_lost() {
        let garbage = vec![
            Bytes::from_static(&[0xff, 0xff, 0xff]),
            Bytes::new(),
            Bytes::from_static(&[0x0b]),
        ];
        let frames = mix(
            &[placed(garbage, |n| n * FRAME_US)],
            200_000,
            &MixOptions::default(),
        )
        .expect("mix");
        assert_eq!(frames.len(), 10);
    }

    #[test]
    fn a_mono_track_is_heard_on_both_channels_of_a_stereo_mix() {
        let input = placed(tone_packets(50, Channels::Mono), |n| n * FRAME_US);
        let stereo = MixOptions {
            channels: 2,
            bitrate: 64_000,
        };
        let pcm = decode(
            &mix(&[input], 1_000_000, &stereo).expect("mix"),
            Channels::Stereo,
        );
        let left: Vec<f32> = pcm.iter().step_by(2).copied().collect();
        let right: Vec<f32> = pcm.iter().skip(1).step_by(2).copied().collect();
        assert_eq!(left.len(), 48_000);
        assert!(rms(&left[4_800..43_200]) > 0.2 && rms(&right[4_800..43_200]) > 0.2);
    }

    #[test]
    fn packets_a_little_early_or_late_keep_their_place_without_holes() {
        // From 1.003 s, each packet up to 2 ms early or late against its neighbours.
        let input = placed(tone_packets(50, Channels::Mono), |n| {
            1_003_000 + n * FRAME_US + [0, 2_000, 500, 1_500][(n % 4) as usize]
        });
        let pcm = decode(
            &mix(&[input], 2_100_000, &MixOptions::default()).expect("mix"),
            Channels::Mono,
        );
        // The publisher's encoder delays its own sound by its lookahead, as a browser's does.
        let publisher_delay = Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip)
            .and_then(|mut e| e.get_lookahead())
            .expect("lookahead");
        let expected_ms = 1_003.0 + f64::from(publisher_delay) / 48.0;
        let onset = pcm.iter().position(|s| s.abs() > 0.05).expect("the tone");
        let onset_ms = onset as f64 / 48.0;
        assert!(
            (onset_ms - expected_ms).abs() <= 1.0,
            "starts at {onset_ms} ms, expected {expected_ms}"
        );
        let quietest = pcm[49_000..95_000]
            .chunks(240)
            .map(rms)
            .fold(f32::MAX, f32::min);
        assert!(quietest > 0.2, "a hole in the tone (rms {quietest})");
        assert!(rms(&pcm[..47_000]) < 1e-3, "sound before the track started");
    }

    #[test]
    fn the_limiter_keeps_every_sample_under_the_ceiling_and_recovers() {
        let mut limiter = Limiter::default();
        let mut loud = vec![1.6f32; FRAME_SAMPLES];
        limiter.apply(&mut loud);
        assert!(loud.iter().all(|s| s.abs() <= LIMITER_CEILING + 1e-6));
        for _ in 0..200 {
            let mut quiet = vec![0.1f32; FRAME_SAMPLES];
            limiter.apply(&mut quiet);
            assert!(quiet.iter().all(|s| s.abs() <= 0.1 + 1e-6));
        }
        assert!(
            (limiter.gain - 1.0).abs() < 1e-6,
            "gain stuck at {}",
            limiter.gain
        );
    }
}
