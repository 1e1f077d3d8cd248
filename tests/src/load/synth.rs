//! Synthetic media whose every RTP payload carries the time it was sent.
//!
//! The SFU never decodes media: it reads the VP8 payload descriptor (picture id, start of
//! partition), the first bytes of a frame (the frame tag's keyframe bit, and a keyframe's
//! start code and size, which drive simulcast layer choice) and nothing else. So a payload
//! only has to be valid up to there; the rest is ours. Each payload carries a [`SendStamp`]:
//!
//! - VP8, first packet of a frame: descriptor (4 bytes, 15-bit picture id) | frame tag (3) |
//!   for a keyframe, start code `9d 01 2a` and width/height (7) | stamp (16) | padding.
//! - VP8, later packets of a frame: descriptor (S=0) | stamp | padding.
//! - Opus: one TOC byte | stamp | padding.
//!
//! The stamp is `"ACLD"`, a stream byte (0 audio, 1 + layer for video), three zero bytes and
//! the send time in nanoseconds since a process-local epoch, little-endian. Everything runs
//! in one process, so sender and receiver read the same clock and no synchronisation is
//! needed. The magic makes a stamp impossible to mistake for padding.

use crate::payload::parse_vp8_descriptor;
use bytes::{BufMut, Bytes, BytesMut};
use std::sync::OnceLock;
use std::time::Instant;

/// The marker that opens every stamp.
pub const MAGIC: [u8; 4] = *b"ACLD";
/// Bytes of a stamp: magic, stream byte, 3 reserved, 8 of time.
pub const STAMP_LEN: usize = 16;
/// Bytes of the VP8 payload descriptor we write (X, I with a 15-bit picture id).
pub const VP8_DESCRIPTOR_LEN: usize = 4;
/// Largest RTP payload we produce, as [`crate::media::MAX_PAYLOAD`].
pub const MAX_PAYLOAD: usize = crate::media::MAX_PAYLOAD;
/// An Opus TOC byte: config 15 (hybrid fullband, 20 ms), mono, one frame. Browsers send
/// this kind of packet for speech.
const OPUS_TOC: u8 = 15 << 3;
/// The VP8 keyframe start code (RFC 6386 §9.1).
const VP8_START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];

/// Which stream of a publisher a payload belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum StreamTag {
    /// The microphone.
    Audio,
    /// A simulcast layer of the camera: 0 = q, 1 = h, 2 = f.
    Video(u8),
}

impl StreamTag {
    fn to_byte(self) -> u8 {
        match self {
            StreamTag::Audio => 0,
            StreamTag::Video(layer) => layer.saturating_add(1),
        }
    }

    fn from_byte(byte: u8) -> Self {
        match byte {
            0 => StreamTag::Audio,
            n => StreamTag::Video(n - 1),
        }
    }
}

/// What a payload says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendStamp {
    /// The stream it was sent on.
    pub stream: StreamTag,
    /// Send time, nanoseconds since [`epoch`].
    pub sent_ns: u64,
}

/// The process-local clock origin every stamp counts from.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds from [`epoch`] to `at` (0 for an instant before it).
pub fn ns_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds since [`epoch`], now.
pub fn now_ns() -> u64 {
    ns_since_epoch(Instant::now())
}

fn put_stamp(buf: &mut BytesMut, stamp: SendStamp) {
    buf.put_slice(&MAGIC);
    buf.put_u8(stamp.stream.to_byte());
    buf.put_slice(&[0, 0, 0]);
    buf.put_u64_le(stamp.sent_ns);
}

fn read_stamp(bytes: &[u8]) -> Option<SendStamp> {
    let stamp = bytes.get(..STAMP_LEN)?;
    if stamp[..4] != MAGIC {
        return None;
    }
    let mut time = [0u8; 8];
    time.copy_from_slice(&stamp[8..16]);
    Some(SendStamp {
        stream: StreamTag::from_byte(stamp[4]),
        sent_ns: u64::from_le_bytes(time),
    })
}

/// An Opus-sized audio payload of `size` bytes (at least TOC + stamp).
pub fn audio_payload(size: usize, sent_ns: u64) -> Bytes {
    let size = size.max(1 + STAMP_LEN);
    let mut buf = BytesMut::with_capacity(size);
    buf.put_u8(OPUS_TOC);
    put_stamp(
        &mut buf,
        SendStamp {
            stream: StreamTag::Audio,
            sent_ns,
        },
    );
    buf.resize(size, 0);
    buf.freeze()
}

/// The stamp of an audio payload made by [`audio_payload`].
pub fn parse_audio(payload: &[u8]) -> Option<SendStamp> {
    read_stamp(payload.get(1..)?)
}

/// One synthetic VP8 frame of one simulcast layer, to be cut into RTP payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vp8Frame {
    /// The layer (0 = q, 1 = h, 2 = f).
    pub layer: u8,
    /// 15-bit picture id.
    pub picture_id: u16,
    /// Whether this is a keyframe.
    pub keyframe: bool,
    /// Frame size announced in a keyframe's header.
    pub width: u16,
    /// Frame size announced in a keyframe's header.
    pub height: u16,
    /// Encoded frame bytes (what follows the descriptors, summed over the packets).
    pub frame_len: usize,
}

impl Vp8Frame {
    /// How many RTP packets the frame takes: every packet carries a descriptor and a stamp,
    /// and none is larger than [`MAX_PAYLOAD`].
    pub fn packet_count(&self) -> usize {
        let per_packet = MAX_PAYLOAD - VP8_DESCRIPTOR_LEN;
        self.frame_len.div_ceil(per_packet).max(1)
    }

    /// Frame-tag and keyframe-header bytes at the start of the first packet.
    fn header_len(&self) -> usize {
        if self.keyframe { 10 } else { 3 }
    }

    /// Payload `index` (of [`Vp8Frame::packet_count`]), stamped with `sent_ns`.
    ///
    /// Built one at a time so each packet is stamped just before it is written.
    pub fn packet(&self, index: usize, sent_ns: u64) -> Bytes {
        let count = self.packet_count();
        let min_first = self.header_len() + STAMP_LEN;
        // Spread the frame evenly, as libwebrtc's packetizer does, but never below what a
        // packet must hold.
        let share = self.frame_len / count + usize::from(index < self.frame_len % count);
        let body = share.max(if index == 0 { min_first } else { STAMP_LEN });
        let mut buf = BytesMut::with_capacity(VP8_DESCRIPTOR_LEN + body);
        // X=1, S=1 on the first packet, partition index 0 | I=1 | M=1 and the 15-bit id.
        buf.put_u8(if index == 0 { 0x90 } else { 0x80 });
        buf.put_u8(0x80);
        buf.put_u16(0x8000 | (self.picture_id & 0x7fff));
        if index == 0 {
            // Frame tag (RFC 6386 §9.1): bit 0 is 0 for a keyframe, version 0, show_frame,
            // then a 19-bit first-partition size we make plausible.
            let first_partition = (self.frame_len.min(0x7_ffff) as u32) / 4;
            let tag = (first_partition << 5) | (1 << 4) | u32::from(!self.keyframe);
            buf.put_slice(&tag.to_le_bytes()[..3]);
            if self.keyframe {
                buf.put_slice(&VP8_START_CODE);
                buf.put_u16_le(self.width & 0x3fff);
                buf.put_u16_le(self.height & 0x3fff);
            }
        }
        put_stamp(
            &mut buf,
            SendStamp {
                stream: StreamTag::Video(self.layer),
                sent_ns,
            },
        );
        buf.resize(VP8_DESCRIPTOR_LEN + body, 0);
        buf.freeze()
    }
}

/// What [`parse_vp8`] reads back from a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedVp8 {
    /// The picture id (possibly rewritten by the SFU).
    pub picture_id: Option<u16>,
    /// The first packet of a keyframe.
    pub keyframe_start: bool,
    /// Size from a keyframe header.
    pub size: Option<(u16, u16)>,
    /// The stamp.
    pub stamp: SendStamp,
}

/// Parses a payload made by [`Vp8Frame::packet`], after whatever the SFU did to its
/// descriptor; `None` if it is not one of ours.
pub fn parse_vp8(payload: &[u8]) -> Option<ParsedVp8> {
    let descriptor = parse_vp8_descriptor(payload)?;
    let mut at = descriptor.len;
    let mut keyframe_start = false;
    let mut size = None;
    if descriptor.start_of_partition && descriptor.partition_id == 0 {
        let tag = *payload.get(at)?;
        keyframe_start = tag & 0x01 == 0;
        at += 3;
        if keyframe_start {
            let header = payload.get(at..at + 7)?;
            if header[..3] != VP8_START_CODE {
                return None;
            }
            let width = u16::from_le_bytes([header[3], header[4]]) & 0x3fff;
            let height = u16::from_le_bytes([header[5], header[6]]) & 0x3fff;
            size = Some((width, height));
            at += 7;
        }
    }
    let stamp = read_stamp(payload.get(at..)?)?;
    Some(ParsedVp8 {
        picture_id: descriptor.picture_id,
        keyframe_start,
        size,
        stamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{is_vp8_keyframe_packet, parse_vp8_descriptor};

    fn frame(keyframe: bool, frame_len: usize) -> Vp8Frame {
        Vp8Frame {
            layer: 2,
            picture_id: 0x1234,
            keyframe,
            width: 1280,
            height: 720,
            frame_len,
        }
    }

    #[test]
    fn keyframe_packets_carry_header_and_stamp() {
        let f = frame(true, 7000);
        let count = f.packet_count();
        assert_eq!(count, 7);
        let mut total = 0;
        for i in 0..count {
            let p = f.packet(i, 1_000_000 + i as u64);
            assert!(p.len() <= MAX_PAYLOAD, "packet {i} is {} bytes", p.len());
            total += p.len() - VP8_DESCRIPTOR_LEN;
            let parsed = parse_vp8(&p).expect("our own payload parses");
            assert_eq!(parsed.stamp.sent_ns, 1_000_000 + i as u64);
            assert_eq!(parsed.stamp.stream, StreamTag::Video(2));
            assert_eq!(parsed.picture_id, Some(0x1234));
            assert_eq!(parsed.keyframe_start, i == 0);
            assert_eq!(is_vp8_keyframe_packet(&p), i == 0);
            if i == 0 {
                assert_eq!(parsed.size, Some((1280, 720)));
                // Exactly the bytes the SFU's keyframe-size reader looks at.
                assert_eq!(&p[7..10], &[0x9d, 0x01, 0x2a]);
            }
        }
        assert_eq!(total, 7000, "the frame is split without losing bytes");
    }

    #[test]
    fn delta_frames_and_tiny_frames() {
        let f = frame(false, 500);
        assert_eq!(f.packet_count(), 1);
        let p = f.packet(0, 42);
        let parsed = parse_vp8(&p).expect("parses");
        assert!(!parsed.keyframe_start);
        assert_eq!(parsed.size, None);
        assert_eq!(parsed.stamp.sent_ns, 42);
        // A frame smaller than tag + stamp still gets a whole stamp.
        let tiny = frame(true, 5).packet(0, 7);
        assert_eq!(parse_vp8(&tiny).map(|p| p.stamp.sent_ns), Some(7));
    }

    #[test]
    fn stamp_survives_picture_id_rewrite() {
        let mut p = BytesMut::from(&frame(false, 900).packet(0, 99)[..]);
        // What the SFU does on a layer switch: a new 15-bit picture id in place.
        p[2] = 0x80 | 0x05;
        p[3] = 0x66;
        let parsed = parse_vp8(&p).expect("parses");
        assert_eq!(parsed.picture_id, Some(0x0566));
        assert_eq!(parsed.stamp.sent_ns, 99);
        let d = parse_vp8_descriptor(&p).expect("descriptor");
        assert_eq!(d.len, VP8_DESCRIPTOR_LEN);
    }

    #[test]
    fn audio_round_trip_and_foreign_payloads() {
        let p = audio_payload(90, 123_456_789);
        assert_eq!(p.len(), 90);
        assert_eq!(
            parse_audio(&p),
            Some(SendStamp {
                stream: StreamTag::Audio,
                sent_ns: 123_456_789
            })
        );
        assert_eq!(parse_audio(&[0x78, 1, 2, 3]), None);
        assert_eq!(parse_vp8(&[0x90, 0x80, 0x80, 0x01, 0x50, 0, 0]), None);
        let mut corrupted = BytesMut::from(&frame(false, 900).packet(1, 5)[..]);
        corrupted[VP8_DESCRIPTOR_LEN] ^= 0xff;
        assert_eq!(parse_vp8(&corrupted), None, "a damaged magic is refused");
    }

    #[test]
    fn clock_is_monotonic_from_the_epoch() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
        assert_eq!(ns_since_epoch(epoch()), 0);
    }
}
