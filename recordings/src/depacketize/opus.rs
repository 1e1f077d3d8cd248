//! Opus over RTP (RFC 7587): each packet is one Opus packet.

use super::{Frame, SequencedPacket};

/// Passes Opus packets through as frames, with their durations.
#[derive(Debug)]
pub struct OpusDepacketizer {
    channels: u8,
}

impl OpusDepacketizer {
    /// For a track negotiated with `channels` channels (WebRTC always says 2).
    pub fn new(channels: u16) -> Self {
        Self {
            channels: if channels == 1 { 1 } else { 2 },
        }
    }

    /// The channel count the file announces.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    pub(super) fn push(&mut self, input: SequencedPacket<'_>, out: &mut Vec<Frame>) {
        let payload = &input.packet.payload;
        // An empty payload is a DTX keep-alive with nothing to play.
        let Some(duration_us) = opus_frame_duration_us(payload) else {
            return;
        };
        out.push(Frame {
            session_us: input.session_us,
            data: payload.clone(),
            keyframe: true,
            duration_us: Some(duration_us),
        });
    }
}

/// How long an Opus packet plays, from its TOC byte (RFC 6716 §3.1); None if it is not one.
pub fn opus_frame_duration_us(packet: &[u8]) -> Option<u64> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let frame_us: u64 = match config {
        0..=11 => [10_000, 20_000, 40_000, 60_000][usize::from(config % 4)],
        12..=15 => [10_000, 20_000][usize::from(config % 2)],
        _ => [2_500, 5_000, 10_000, 20_000][usize::from(config % 4)],
    };
    let frames: u64 = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u64::from(packet.get(1)? & 0x3f),
    };
    Some(frame_us * frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_the_toc_byte() {
        assert_eq!(opus_frame_duration_us(&[0xfc, 0]), Some(20_000)); // CELT FB 20 ms
        assert_eq!(opus_frame_duration_us(&[0x78]), Some(20_000)); // hybrid FB 20 ms
        assert_eq!(opus_frame_duration_us(&[0x03, 0x03]), Some(30_000)); // SILK 10 ms × 3
        assert_eq!(opus_frame_duration_us(&[]), None);
        assert_eq!(opus_frame_duration_us(&[0x03]), None, "count byte missing");
    }
}
