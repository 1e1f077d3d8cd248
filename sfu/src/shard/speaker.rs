//! Active-speaker detection from the RFC 6464 audio level each publisher's packets carry.

/// Levels are dBov 0 (loudest) to 127 (silence); we work with loudness = 127 − level.
/// Speech at a normal distance from a phone sits around −30…−50 dBov.
const SPEAKING_LOUDNESS: f32 = 127.0 - 55.0;
/// Exponential smoothing per packet (50 packets a second): about a 200 ms window.
const SMOOTHING: f32 = 0.1;

/// Folds one packet's level into a track's smoothed loudness.
pub(crate) fn smooth(loudness: f32, level_byte: u8) -> f32 {
    let level = f32::from(level_byte & 0x7f);
    loudness + SMOOTHING * ((127.0 - level) - loudness)
}

/// Whether a smoothed loudness counts as speaking.
pub(crate) fn is_speaking(loudness: f32) -> bool {
    loudness >= SPEAKING_LOUDNESS
}

/// Loudness as the 0–100 level clients show.
pub(crate) fn percent(loudness: f32) -> u8 {
    (loudness / 127.0 * 100.0).clamp(0.0, 100.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_speech_is_detected_and_silence_is_not() {
        let mut loud = 0.0;
        for _ in 0..50 {
            loud = smooth(loud, 30);
        }
        assert!(is_speaking(loud));
        for _ in 0..50 {
            loud = smooth(loud, 127);
        }
        assert!(!is_speaking(loud));
    }

    #[test]
    fn the_voice_activity_bit_is_ignored() {
        assert_eq!(smooth(0.0, 0x80 | 20), smooth(0.0, 20));
    }
}
