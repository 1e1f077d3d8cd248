//! H.264 over RTP (RFC 6184, packetization mode 1: single NAL units, STAP-A, FU-A), written
//! as AVCC access units, with the SPS and PPS kept for the file's `avcC` CodecPrivate.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Frame, FramePayload};
use crate::mkv::TrackCodec;

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// Collects the NAL units of one access unit.
#[derive(Debug, Default)]
pub struct H264Payload {
    access_unit: BytesMut,
    /// A fragmented NAL unit still being put together.
    fragment: Option<BytesMut>,
    keyframe: bool,
    sps: Option<Bytes>,
    pps: Option<Bytes>,
}

impl H264Payload {
    fn add_nal(&mut self, nal: &[u8]) {
        let Some(&first) = nal.first() else {
            return;
        };
        match first & 0x1f {
            NAL_IDR => self.keyframe = true,
            NAL_SPS => self.sps = Some(Bytes::copy_from_slice(nal)),
            NAL_PPS => self.pps = Some(Bytes::copy_from_slice(nal)),
            _ => {}
        }
        // NAL units come from RTP packets, far below 4 GiB.
        self.access_unit
            .put_u32(u32::try_from(nal.len()).unwrap_or(u32::MAX));
        self.access_unit.extend_from_slice(nal);
    }

    /// The file's codec description once an IDR access unit has come with SPS and PPS known.
    pub(super) fn track_codec(&self, frame: &Frame) -> Option<TrackCodec> {
        if !frame.keyframe {
            return None;
        }
        let (sps, pps) = (self.sps.as_ref()?, self.pps.as_ref()?);
        let (width, height) = sps_dimensions(sps)?;
        Some(TrackCodec::H264 {
            width,
            height,
            avcc: avc_decoder_configuration(sps, pps)?,
        })
    }
}

impl FramePayload for H264Payload {
    fn add(&mut self, payload: &[u8], _first_of_frame: bool) -> bool {
        let Some(&indicator) = payload.first() else {
            return false;
        };
        match indicator & 0x1f {
            1..=23 => {
                self.add_nal(payload);
                true
            }
            STAP_A => {
                let mut rest = &payload[1..];
                while !rest.is_empty() {
                    let Some(size) = rest.get(..2) else {
                        return false;
                    };
                    let size = usize::from(u16::from_be_bytes([size[0], size[1]]));
                    let Some(nal) = rest.get(2..2 + size) else {
                        return false;
                    };
                    self.add_nal(nal);
                    rest = &rest[2 + size..];
                }
                true
            }
            FU_A => {
                let Some(&header) = payload.get(1) else {
                    return false;
                };
                let (start, end) = (header & 0x80 != 0, header & 0x40 != 0);
                if start {
                    if self.fragment.is_some() {
                        return false; // the previous unit's end never came
                    }
                    let mut nal = BytesMut::with_capacity(payload.len() * 8);
                    nal.put_u8((indicator & 0xe0) | (header & 0x1f));
                    self.fragment = Some(nal);
                }
                let Some(nal) = self.fragment.as_mut() else {
                    return false; // a middle or end without its start
                };
                nal.extend_from_slice(&payload[2..]);
                if end && let Some(nal) = self.fragment.take() {
                    self.add_nal(&nal);
                }
                true
            }
            _ => false,
        }
    }

    fn take(&mut self) -> Option<(Bytes, bool)> {
        if self.fragment.is_some() || self.access_unit.is_empty() {
            return None;
        }
        Some((
            std::mem::take(&mut self.access_unit).freeze(),
            self.keyframe,
        ))
    }

    fn clear(&mut self) {
        self.access_unit.clear();
        self.fragment = None;
        self.keyframe = false;
    }
}

/// The `avcC` box body (ISO/IEC 14496-15 AVCDecoderConfigurationRecord) for one SPS and PPS,
/// with 4-byte NAL lengths; None if the SPS is too short to name its profile.
pub fn avc_decoder_configuration(sps: &[u8], pps: &[u8]) -> Option<Vec<u8>> {
    let profile = sps.get(1..4)?;
    let mut out = Vec::with_capacity(11 + sps.len() + pps.len());
    out.push(1);
    out.extend_from_slice(profile);
    out.push(0xfc | 3); // lengthSizeMinusOne = 3
    out.push(0xe0 | 1);
    out.extend_from_slice(&u16::try_from(sps.len()).ok()?.to_be_bytes());
    out.extend_from_slice(sps);
    out.push(1);
    out.extend_from_slice(&u16::try_from(pps.len()).ok()?.to_be_bytes());
    out.extend_from_slice(pps);
    Some(out)
}

/// Reads an SPS bit by bit, emulation-prevention bytes removed.
struct Bits {
    data: Vec<u8>,
    at: usize,
}

impl Bits {
    fn new(nal: &[u8]) -> Self {
        let mut data = Vec::with_capacity(nal.len());
        let mut zeros = 0;
        for &byte in nal {
            if zeros >= 2 && byte == 3 {
                zeros = 0;
                continue;
            }
            zeros = if byte == 0 { zeros + 1 } else { 0 };
            data.push(byte);
        }
        Self { data, at: 0 }
    }

    fn bit(&mut self) -> Option<u32> {
        let byte = self.data.get(self.at / 8)?;
        let bit = (byte >> (7 - self.at % 8)) & 1;
        self.at += 1;
        Some(u32::from(bit))
    }

    fn bits(&mut self, count: u32) -> Option<u32> {
        (0..count).try_fold(0, |value, _| Some((value << 1) | self.bit()?))
    }

    /// Exp-Golomb unsigned.
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }

    /// Exp-Golomb signed; only skipped, so its value does not matter.
    fn skip_se(&mut self) -> Option<()> {
        self.ue().map(|_| ())
    }
}

/// Width and height of the pictures an SPS describes (after cropping); None if it does not
/// parse.
pub fn sps_dimensions(sps: &[u8]) -> Option<(u32, u32)> {
    let mut bits = Bits::new(sps);
    bits.bits(8)?; // NAL header
    let profile = bits.bits(8)?;
    bits.bits(16)?; // constraint flags, level
    bits.ue()?; // seq_parameter_set_id
    let mut chroma_format = 1;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format = bits.ue()?;
        if chroma_format == 3 {
            bits.bit()?; // separate_colour_plane_flag
        }
        bits.ue()?; // bit_depth_luma
        bits.ue()?; // bit_depth_chroma
        bits.bit()?; // qpprime_y_zero_transform_bypass
        if bits.bit()? == 1 {
            let lists = if chroma_format == 3 { 12 } else { 8 };
            for list in 0..lists {
                if bits.bit()? == 1 {
                    skip_scaling_list(&mut bits, if list < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    bits.ue()?; // log2_max_frame_num_minus4
    match bits.ue()? {
        0 => {
            bits.ue()?;
        }
        1 => {
            bits.bit()?;
            bits.skip_se()?;
            bits.skip_se()?;
            for _ in 0..bits.ue()?.min(255) {
                bits.skip_se()?;
            }
        }
        _ => {}
    }
    bits.ue()?; // max_num_ref_frames
    bits.bit()?; // gaps_in_frame_num_value_allowed
    let width_mbs = bits.ue()?.checked_add(1)?;
    let height_units = bits.ue()?.checked_add(1)?;
    let frame_mbs_only = bits.bit()?;
    if frame_mbs_only == 0 {
        bits.bit()?; // mb_adaptive_frame_field
    }
    bits.bit()?; // direct_8x8_inference
    let (mut left, mut right, mut top, mut bottom) = (0, 0, 0, 0);
    if bits.bit()? == 1 {
        (left, right, top, bottom) = (bits.ue()?, bits.ue()?, bits.ue()?, bits.ue()?);
    }
    let field_factor = 2 - frame_mbs_only;
    let (crop_x, crop_y) = match chroma_format {
        0 | 3 => (1, field_factor),
        2 => (2, field_factor),
        _ => (2, 2 * field_factor),
    };
    let width = (width_mbs * 16).checked_sub(crop_x * (left + right))?;
    let height = (field_factor * height_units * 16).checked_sub(crop_y * (top + bottom))?;
    (width > 0 && height > 0).then_some((width, height))
}

fn skip_scaling_list(bits: &mut Bits, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let code = i64::from(bits.ue()?);
            let delta = if code % 2 == 1 {
                (code + 1) / 2
            } else {
                -(code / 2)
            };
            next = (last + delta + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_x264_sps_gives_its_size() {
        // 640×360 High profile SPS from libx264 (cropped from 368 lines).
        let sps = [
            0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00,
            0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x0f, 0x16, 0x2d, 0x96,
        ];
        assert_eq!(sps_dimensions(&sps), Some((640, 360)));
        let avcc = avc_decoder_configuration(&sps, &[0x68, 0xeb, 0xe3, 0xcb]).expect("avcC");
        assert_eq!(&avcc[..6], &[1, 0x64, 0x00, 0x1e, 0xff, 0xe1]);
        assert_eq!(sps_dimensions(&sps[..5]), None);
        // The same size in High 4:4:4 Predictive (profile 244: chroma format and bit depths).
        let sps_444 = [
            0x67, 0xf4, 0x00, 0x1e, 0x91, 0x9b, 0x28, 0x14, 0x05, 0xff, 0x13, 0x80, 0x88, 0x00,
            0x00, 0x03, 0x00, 0x08, 0x00, 0x00, 0x03, 0x01, 0xe0, 0x78, 0xb1, 0x6c, 0xb0,
        ];
        assert_eq!(sps_dimensions(&sps_444), Some((640, 360)));
    }

    #[test]
    fn fragments_and_aggregates_become_one_avcc_access_unit() {
        let mut payload = H264Payload::default();
        // STAP-A with an SPS-like and a PPS-like unit.
        assert!(payload.add(&[0x18, 0, 2, 0x67, 0xaa, 0, 1, 0x68], true));
        // FU-A: IDR in two pieces.
        assert!(payload.add(&[0x7c, 0x85, 1, 2], false));
        assert!(payload.add(&[0x7c, 0x45, 3], false));
        let (unit, keyframe) = payload.take().expect("whole");
        assert!(keyframe);
        assert_eq!(
            &unit[..],
            &[
                0, 0, 0, 2, 0x67, 0xaa, 0, 0, 0, 1, 0x68, 0, 0, 0, 4, 0x65, 1, 2, 3
            ]
        );
        assert!(
            !payload.add(&[0x7c, 0x05, 9], false),
            "a middle without its start"
        );
    }
}
