//! Just enough of the H.264 RTP payload format (RFC 6184) to tell where a keyframe starts.

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// Whether this packet starts an IDR picture (or the SPS that precedes one).
pub(crate) fn is_keyframe_start(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        NAL_IDR | NAL_SPS => true,
        STAP_A => {
            let mut at = 1;
            while let Some(size) = payload.get(at..at + 2) {
                let size = usize::from(u16::from_be_bytes([size[0], size[1]]));
                let Some(&nal) = payload.get(at + 2) else {
                    return false;
                };
                if matches!(nal & 0x1f, NAL_IDR | NAL_SPS) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        FU_A => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && fu & 0x1f == NAL_IDR),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sps_inside_stap_a() {
        let stap = [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce];
        assert!(is_keyframe_start(&stap));
    }

    #[test]
    fn fu_a_start_of_idr_is_a_keyframe_but_its_middle_is_not() {
        assert!(is_keyframe_start(&[0x7c, 0x85, 0xaa]));
        assert!(!is_keyframe_start(&[0x7c, 0x05, 0xaa]));
    }

    #[test]
    fn non_idr_slices_and_garbage_are_not() {
        assert!(!is_keyframe_start(&[0x41, 0x9a]));
        assert!(!is_keyframe_start(&[]));
        assert!(!is_keyframe_start(&[0x78, 0x00]));
        assert!(!is_keyframe_start(&[0x78, 0xff, 0xff]));
    }
}
