//! RTP packets as the recorder keeps them: the fixed 12-byte header and the payload.
//!
//! The SFU's tap hands the recorder packets whose header extensions are already gone, and the
//! log stores them in exactly this form, so [`RtpPacket::marshal`] never writes extensions or
//! CSRCs. [`RtpPacket::parse`] still skips CSRCs, an extension and padding, so a log written by
//! a different sender (or a test that captured real traffic) reads back.

use bytes::{BufMut, Bytes, BytesMut};

use crate::{Error, Result};

/// Size of the fixed RTP header.
const HEADER_LEN: usize = 12;
/// RTP version 2, the only one in use.
const VERSION: u8 = 2;

/// One RTP packet: the header fields the recorder needs and the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// 16-bit sequence number (wraps).
    pub sequence_number: u16,
    /// Media timestamp in the codec's clock rate (wraps).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Marker bit: for video, the last packet of a frame.
    pub marker: bool,
    /// The payload, padding removed.
    pub payload: Bytes,
}

impl RtpPacket {
    /// Reads a packet; fails on anything shorter than its header says or not version 2.
    pub fn parse(bytes: &Bytes) -> Result<Self> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::Malformed(format!(
                "RTP packet of {} bytes",
                bytes.len()
            )));
        }
        let first = bytes[0];
        if first >> 6 != VERSION {
            return Err(Error::Malformed(format!("RTP version {}", first >> 6)));
        }
        let has_padding = first & 0x20 != 0;
        let has_extension = first & 0x10 != 0;
        let csrc_count = usize::from(first & 0x0f);
        let second = bytes[1];
        let mut start = HEADER_LEN + 4 * csrc_count;
        if has_extension {
            let words_at = start + 2;
            let Some(words) = bytes.get(words_at..words_at + 2) else {
                return Err(Error::Malformed("RTP header extension cut".into()));
            };
            start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
        }
        let mut end = bytes.len();
        if has_padding {
            let padding = usize::from(bytes[end - 1]);
            if padding == 0 || padding > end {
                return Err(Error::Malformed("RTP padding".into()));
            }
            end -= padding;
        }
        if start > end {
            return Err(Error::Malformed("RTP header longer than packet".into()));
        }
        Ok(Self {
            sequence_number: u16::from_be_bytes([bytes[2], bytes[3]]),
            timestamp: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            ssrc: u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
            payload_type: second & 0x7f,
            marker: second & 0x80 != 0,
            payload: bytes.slice(start..end),
        })
    }

    /// The packet's bytes: a 12-byte header (no CSRCs, no extension, no padding) and the payload.
    pub fn marshal(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(HEADER_LEN + self.payload.len());
        out.put_u8(VERSION << 6);
        out.put_u8((u8::from(self.marker) << 7) | (self.payload_type & 0x7f));
        out.put_u16(self.sequence_number);
        out.put_u32(self.timestamp);
        out.put_u32(self.ssrc);
        out.extend_from_slice(&self.payload);
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RtpPacket {
        RtpPacket {
            sequence_number: 65535,
            timestamp: 0xdead_beef,
            ssrc: 42,
            payload_type: 111,
            marker: true,
            payload: Bytes::from_static(b"opus"),
        }
    }

    #[test]
    fn marshal_then_parse_gives_the_same_packet() {
        let packet = sample();
        let bytes = packet.marshal();
        assert_eq!(bytes.len(), 16);
        assert_eq!(RtpPacket::parse(&bytes).expect("parses"), packet);
    }

    #[test]
    fn csrcs_extension_and_padding_are_skipped() {
        let mut raw = vec![0xb1, 0x6f, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        raw.extend_from_slice(&[0, 0, 0, 9]); // one CSRC
        raw.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // one-word extension
        raw.extend_from_slice(b"data");
        raw.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let packet = RtpPacket::parse(&Bytes::from(raw)).expect("parses");
        assert_eq!(&packet.payload[..], b"data");
        assert_eq!(packet.sequence_number, 1);
        assert!(!packet.marker);
    }

    #[test]
    fn short_or_wrong_version_is_malformed_not_a_panic() {
        for raw in [vec![0x80; 5], vec![0x40; 12], {
            let mut v = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            v.push(200);
            v
        }] {
            assert!(RtpPacket::parse(&Bytes::from(raw)).is_err());
        }
    }
}
