//! The VP8 RTP payload descriptor (RFC 7741 §4.2): what the forwarder must read to find
//! keyframes and rewrite picture ids so a subscriber sees one continuous stream across
//! simulcast layer switches.

/// Where the rewritable fields sit in one packet's payload descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Vp8Descriptor {
    /// Offset and value of the picture id, and whether it is the 15-bit form.
    pub picture_id: Option<PictureId>,
    /// Offset and value of TL0PICIDX.
    pub tl0_pic_idx: Option<(usize, u8)>,
    /// The first packet of a keyframe (start of partition 0 of an intra frame).
    pub keyframe_start: bool,
    /// The first packet of any frame.
    pub frame_start: bool,
}

/// The picture id field of a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PictureId {
    /// Byte offset of the field in the payload.
    pub offset: usize,
    /// The id itself.
    pub value: u16,
    /// 15-bit form (M bit set) rather than 7-bit.
    pub long: bool,
}

impl PictureId {
    /// Ids wrap at this value.
    pub fn modulus(&self) -> u32 {
        if self.long { 1 << 15 } else { 1 << 7 }
    }
}

/// Parses the descriptor at the start of `payload`; `None` when it is truncated.
pub(crate) fn parse(payload: &[u8]) -> Option<Vp8Descriptor> {
    let first = *payload.first()?;
    let extended = first & 0x80 != 0;
    let start_of_partition = first & 0x10 != 0;
    let partition_index = first & 0x07;
    let mut at = 1;
    let mut out = Vp8Descriptor::default();
    if extended {
        let flags = *payload.get(at)?;
        at += 1;
        let has_picture_id = flags & 0x80 != 0;
        let has_tl0 = flags & 0x40 != 0;
        let has_tid_or_keyidx = flags & 0x30 != 0;
        if has_picture_id {
            let b = *payload.get(at)?;
            if b & 0x80 != 0 {
                let low = *payload.get(at + 1)?;
                out.picture_id = Some(PictureId {
                    offset: at,
                    value: (u16::from(b & 0x7f) << 8) | u16::from(low),
                    long: true,
                });
                at += 2;
            } else {
                out.picture_id = Some(PictureId {
                    offset: at,
                    value: u16::from(b),
                    long: false,
                });
                at += 1;
            }
        }
        if has_tl0 {
            out.tl0_pic_idx = Some((at, *payload.get(at)?));
            at += 1;
        }
        if has_tid_or_keyidx {
            payload.get(at)?;
            at += 1;
        }
    }
    out.frame_start = start_of_partition && partition_index == 0;
    if out.frame_start {
        // VP8 payload header, RFC 6386 §9.1: bit 0 of the frame tag is 0 for a key frame.
        let tag = *payload.get(at)?;
        out.keyframe_start = tag & 0x01 == 0;
    }
    Some(out)
}

/// The frame size a keyframe announces (RFC 6386 §9.1), read from its first packet.
pub(crate) fn keyframe_size(payload: &[u8]) -> Option<(u16, u16)> {
    let d = parse(payload)?;
    if !d.keyframe_start {
        return None;
    }
    let header_len = descriptor_len(payload)?;
    let frame = payload.get(header_len..header_len + 10)?;
    if frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let height = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    Some((width, height))
}

fn descriptor_len(payload: &[u8]) -> Option<usize> {
    let d = parse(payload)?;
    let mut len = 1;
    if payload.first()? & 0x80 != 0 {
        len += 1;
        let flags = *payload.get(1)?;
        if let Some(p) = d.picture_id {
            len += if p.long { 2 } else { 1 };
        }
        if d.tl0_pic_idx.is_some() {
            len += 1;
        }
        if flags & 0x30 != 0 {
            len += 1;
        }
    }
    Some(len)
}

/// Writes a new picture id and TL0PICIDX into a copy of the descriptor's bytes.
pub(crate) fn rewrite(payload: &mut [u8], d: &Vp8Descriptor, picture_id: u16, tl0: Option<u8>) {
    if let Some(p) = d.picture_id {
        if p.long {
            payload[p.offset] = 0x80 | ((picture_id >> 8) as u8 & 0x7f);
            payload[p.offset + 1] = picture_id as u8;
        } else {
            payload[p.offset] = picture_id as u8 & 0x7f;
        }
    }
    if let (Some((offset, _)), Some(tl0)) = (d.tl0_pic_idx, tl0) {
        payload[offset] = tl0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// X=1, S=1, PID=0; I=1, L=1; 15-bit picture id 0x1234; TL0PICIDX 7; frame tag (key).
    const KEYFRAME_START: [u8; 15] = [
        0x90, 0xc0, 0x92, 0x34, 0x07, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01,
    ];

    #[test]
    fn reads_picture_id_tl0_and_keyframe_flag() {
        let d = parse(&KEYFRAME_START).expect("valid descriptor");
        assert_eq!(
            d.picture_id,
            Some(PictureId {
                offset: 2,
                value: 0x1234,
                long: true
            })
        );
        assert_eq!(d.tl0_pic_idx, Some((4, 7)));
        assert!(d.frame_start && d.keyframe_start);
    }

    #[test]
    fn reads_the_size_a_keyframe_announces() {
        assert_eq!(keyframe_size(&KEYFRAME_START), Some((640, 360)));
    }

    #[test]
    fn an_inter_frame_is_not_a_keyframe() {
        let mut p = KEYFRAME_START;
        p[5] = 0x11;
        let d = parse(&p).expect("valid descriptor");
        assert!(d.frame_start && !d.keyframe_start);
    }

    #[test]
    fn a_continuation_packet_starts_nothing() {
        let mut p = KEYFRAME_START;
        p[0] = 0x80;
        let d = parse(&p).expect("valid descriptor");
        assert!(!d.frame_start && !d.keyframe_start);
    }

    #[test]
    fn rewrite_keeps_the_field_widths() {
        let mut p = KEYFRAME_START;
        let d = parse(&p).expect("valid descriptor");
        rewrite(&mut p, &d, 0x7ffe, Some(200));
        let again = parse(&p).expect("still valid");
        assert_eq!(again.picture_id.map(|p| p.value), Some(0x7ffe));
        assert_eq!(again.tl0_pic_idx, Some((4, 200)));
    }

    #[test]
    fn truncated_descriptors_are_refused_not_panicked_on() {
        for len in 0..5 {
            let _ = parse(&KEYFRAME_START[..len]);
        }
        assert!(parse(&[0x90, 0xc0, 0x92]).is_none());
    }
}
