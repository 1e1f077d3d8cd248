//! The mixed audio, end to end through real libopus: two tones encoded as a browser would,
//! one joining 5 s late and one falling silent for 2 s, mixed and decoded again.

use accord_recordings::mix::analysis::{onset_of, tone_power};
use accord_recordings::mix::{AudioInput, FRAME_US, MixOptions, PlacedPacket, SAMPLE_RATE, mix};
use bytes::Bytes;
use opus::{Application, Channels, Decoder, Encoder};

const RATE: f64 = SAMPLE_RATE as f64;
const FRAME: usize = 960;

/// What one simulated publisher sends.
struct Publisher {
    frequency: f64,
    amplitude: f32,
    /// Session seconds during which the publisher sends (start inclusive, end exclusive).
    talks: Vec<(f64, f64)>,
    /// Frames (20 ms, counted from session 0) whose packet is lost in the network.
    lost: Vec<u64>,
}

/// Encodes the publisher's tone 20 ms at a time, as a browser does, placing each packet at its
/// session time give or take 0.3 ms of clock noise; like webrtc-rs, the sequence number does
/// not advance while the publisher is silent.
fn publish(publisher: &Publisher) -> AudioInput {
    let mut encoder =
        Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip).expect("encoder");
    let mut packets = Vec::new();
    let mut sequence = 1_000u64;
    let mut buffer = vec![0u8; 1500];
    for frame in 0..500u64 {
        let at_s = frame as f64 * 0.02;
        if !publisher
            .talks
            .iter()
            .any(|&(from, to)| at_s >= from && at_s < to)
        {
            continue;
        }
        let pcm: Vec<f32> = (0..FRAME)
            .map(|i| {
                let t = (frame as usize * FRAME + i) as f64 / RATE;
                publisher.amplitude
                    * (2.0 * std::f64::consts::PI * publisher.frequency * t).sin() as f32
            })
            .collect();
        let size = encoder.encode_float(&pcm, &mut buffer).expect("encode");
        sequence += 1;
        if publisher.lost.contains(&frame) {
            continue;
        }
        let noise = (frame * 7919 % 600) as i64 - 300;
        packets.push(PlacedPacket {
            at_us: (frame as i64 * FRAME_US as i64 + noise).max(0) as u64,
            sequence,
            payload: Bytes::copy_from_slice(&buffer[..size]),
        });
    }
    AudioInput { packets }
}

fn decode_all(frames: &[accord_recordings::mix::MixedFrame]) -> Vec<f32> {
    let mut decoder = Decoder::new(SAMPLE_RATE, Channels::Mono).expect("decoder");
    let mut pcm = Vec::new();
    let mut buffer = vec![0f32; 5760];
    for frame in frames {
        let n = decoder
            .decode_float(&frame.opus, &mut buffer, false)
            .expect("decode mixed frame");
        pcm.extend_from_slice(&buffer[..n]);
    }
    pcm
}

fn seconds(pcm: &[f32], from: f64, to: f64) -> &[f32] {
    &pcm[(from * RATE) as usize..(to * RATE) as usize]
}

fn rms(samples: &[f32]) -> f64 {
    (samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64)
        .sqrt()
}

fn tone(frequency: f64, seconds: f64) -> Vec<f32> {
    (0..(seconds * RATE) as usize)
        .map(|i| (2.0 * std::f64::consts::PI * frequency * i as f64 / RATE).sin() as f32)
        .collect()
}

#[test]
fn a_late_joiner_and_a_silence_land_where_they_happened() {
    // A talks from 0 s, is silent 2–4 s and loses one packet at 1 s; B joins at 5 s. Both
    // are loud enough that their sum would clip without the limiter.
    let a = publish(&Publisher {
        frequency: 440.0,
        amplitude: 0.7,
        talks: vec![(0.0, 2.0), (4.0, 10.0)],
        lost: vec![50],
    });
    let b = publish(&Publisher {
        frequency: 880.0,
        amplitude: 0.7,
        talks: vec![(5.0, 10.0)],
        lost: vec![],
    });
    let frames = mix(&[a, b], 10_000_000, &MixOptions::default()).expect("mix");
    let pcm = decode_all(&frames);

    let duration = pcm.len() as f64 / RATE;
    assert!(
        (duration - 10.0).abs() <= 0.020,
        "mixed audio lasts {duration} s"
    );
    assert_eq!(frames.last().map(|f| f.at_us), Some(9_980_000));

    let before_b = seconds(&pcm, 0.1, 1.9);
    let (a_power, b_power) = (
        tone_power(before_b, SAMPLE_RATE, 440.0),
        tone_power(before_b, SAMPLE_RATE, 880.0),
    );
    assert!(
        a_power > 0.05,
        "A's 440 Hz is missing before 5 s (power {a_power})"
    );
    assert!(
        b_power < a_power / 1000.0,
        "B's 880 Hz is heard before B joined ({b_power} vs {a_power})"
    );

    // B's onset by cross-correlation with its tone.
    let window_start = 4.0;
    let onset = onset_of(
        &tone(880.0, 0.2),
        seconds(&pcm, window_start, 6.5),
        SAMPLE_RATE,
    )
    .expect("B's tone is found")
        + window_start;
    assert!(
        (onset - 5.0).abs() <= 0.020,
        "B starts at {onset:.4} s, expected 5.000 s"
    );

    let silence = rms(seconds(&pcm, 2.1, 3.9));
    assert!(silence < 0.001, "A's silence is not silent (rms {silence})");

    // The lost packet at 1 s is concealed, not a hole: every 5 ms around it carries sound.
    let quietest = seconds(&pcm, 0.9, 1.1)
        .chunks(240)
        .map(rms)
        .fold(f64::MAX, f64::min);
    assert!(quietest > 0.1, "a hole at the lost packet (rms {quietest})");

    let both = seconds(&pcm, 6.0, 9.9);
    assert!(
        tone_power(both, SAMPLE_RATE, 440.0) > 0.005
            && tone_power(both, SAMPLE_RATE, 880.0) > 0.005,
        "both tones after 5 s"
    );
    let peak = pcm.iter().fold(0.0f32, |peak, s| peak.max(s.abs()));
    assert!(peak <= 1.0, "the mix clips: peak {peak}");
}

#[test]
fn nobody_speaking_is_encoded_silence_for_the_whole_session() {
    let frames = mix(&[AudioInput::default()], 3_010_000, &MixOptions::default()).expect("mix");
    assert_eq!(frames.len(), 151, "3.01 s in 20 ms frames");
    let pcm = decode_all(&frames);
    assert!(rms(&pcm) < 1e-4);
}
