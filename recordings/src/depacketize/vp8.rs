//! VP8 over RTP (RFC 7741): a payload descriptor before each piece of the frame.

use bytes::{Bytes, BytesMut};

use super::FramePayload;

/// Collects the pieces of one VP8 frame.
#[derive(Debug, Default)]
pub struct Vp8Payload {
    frame: BytesMut,
    keyframe: bool,
}

/// Where the VP8 data starts after the payload descriptor, and whether this packet starts
/// the frame (S bit with partition index 0); None if the descriptor is cut.
fn descriptor(payload: &[u8]) -> Option<(usize, bool)> {
    let first = *payload.first()?;
    let starts_frame = first & 0x10 != 0 && first & 0x07 == 0;
    let mut at = 1;
    if first & 0x80 != 0 {
        let extension = *payload.get(1)?;
        at = 2;
        if extension & 0x80 != 0 {
            // PictureID: 15 bits when its first bit (M) is set, else 7.
            at += if *payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if extension & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if extension & 0x30 != 0 {
            at += 1; // TID / Y / KEYIDX
        }
    }
    (at <= payload.len()).then_some((at, starts_frame))
}

impl FramePayload for Vp8Payload {
    fn add(&mut self, payload: &[u8], first_of_frame: bool) -> bool {
        let Some((at, starts_frame)) = descriptor(payload) else {
            return false;
        };
        if first_of_frame != starts_frame {
            return false;
        }
        let data = &payload[at..];
        if first_of_frame {
            let Some(&header) = data.first() else {
                return false;
            };
            // The P bit of the VP8 frame header: 0 means a key frame.
            self.keyframe = header & 0x01 == 0;
        }
        self.frame.extend_from_slice(data);
        true
    }

    fn take(&mut self) -> Option<(Bytes, bool)> {
        if self.frame.is_empty() {
            return None;
        }
        Some((std::mem::take(&mut self.frame).freeze(), self.keyframe))
    }

    fn clear(&mut self) {
        self.frame.clear();
        self.keyframe = false;
    }
}

/// Width and height from a VP8 key frame's header (RFC 6386 §9.1); None for other frames.
pub fn vp8_keyframe_dimensions(frame: &[u8]) -> Option<(u32, u32)> {
    let header = frame.get(..10)?;
    if header[0] & 0x01 != 0 || header[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u32::from(u16::from_le_bytes([header[6], header[7]]) & 0x3fff);
    let height = u32::from(u16::from_le_bytes([header[8], header[9]]) & 0x3fff);
    (width > 0 && height > 0).then_some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_with_every_optional_field_are_skipped() {
        // X, S, PID 0; I (15-bit picture id), L, T.
        let payload = [0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 0xaa];
        assert_eq!(descriptor(&payload), Some((6, true)));
        assert_eq!(descriptor(&[0x00, 0xbb]), Some((1, false)));
        assert_eq!(descriptor(&[0x80]), None, "cut after the first byte");
    }

    #[test]
    fn a_frame_that_does_not_begin_at_its_start_is_refused() {
        let mut payload = Vp8Payload::default();
        assert!(!payload.add(&[0x00, 0x01], true));
        assert!(payload.add(&[0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a], true));
        assert!(payload.add(&[0x00, 0x80, 0x02, 0xe0, 0x01], false));
        let (frame, keyframe) = payload.take().expect("whole");
        assert!(keyframe);
        assert_eq!(vp8_keyframe_dimensions(&frame), Some((640, 480)));
    }
}
