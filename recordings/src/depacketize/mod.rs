//! From RTP packets (in sequence order, see [`crate::reorder`]) to whole media frames.
//!
//! Opus is one frame per packet. Video frames span packets of one RTP timestamp; a frame is
//! complete at the marker bit, or when the timestamp changes with no packet missing in
//! between. A frame with a missing packet is dropped, and so is every frame after it until
//! a keyframe: a decoder given a frame whose reference is gone shows garbage, and a court
//! must never see a picture that was not sent. The recorded file then holds a short freeze
//! where the loss was, which is what the viewers saw too.

mod h264;
mod opus;
mod vp8;

use bytes::Bytes;

use crate::mkv::TrackCodec;
use crate::rtp::RtpPacket;
use crate::{Error, Result};

pub use h264::{avc_decoder_configuration, sps_dimensions};
pub use opus::opus_frame_duration_us;
pub use vp8::vp8_keyframe_dimensions;

/// Largest video frame kept: a 4K keyframe is well under this; a sender that never ends a
/// frame must not make the recorder hold its packets forever.
const MAX_FRAME_BYTES: usize = 8 << 20;

/// One whole frame, ready to be written as a Matroska block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Session-clock time of the frame's first packet, µs.
    pub session_us: u64,
    /// The frame: an Opus packet, a VP8 frame, or an H.264 access unit in AVCC form
    /// (4-byte big-endian length before each NAL unit).
    pub data: Bytes,
    /// Decodable on its own (always true for audio).
    pub keyframe: bool,
    /// How long the frame plays, when the codec says so (Opus).
    pub duration_us: Option<u64>,
}

/// A packet as the depacketizer takes it: in sequence order, placed on the session clock.
#[derive(Debug, Clone, Copy)]
pub struct SequencedPacket<'a> {
    /// Extended sequence number: consecutive packets differ by one, a gap means loss.
    pub extended_sequence: u64,
    /// Session-clock time of the media in this packet, µs.
    pub session_us: u64,
    /// The packet.
    pub packet: &'a RtpPacket,
}

/// Turns one track's packets into frames, for the codecs the recorder writes.
#[derive(Debug)]
pub enum Depacketizer {
    /// Opus audio.
    Opus(opus::OpusDepacketizer),
    /// VP8 video (RFC 7741).
    Vp8(VideoAssembler<vp8::Vp8Payload>),
    /// H.264 video (RFC 6184, packetization mode 1).
    H264(VideoAssembler<h264::H264Payload>),
}

impl Depacketizer {
    /// The depacketizer for a codec MIME type ("audio/opus", "video/VP8", "video/H264").
    pub fn for_mime_type(mime_type: &str, channels: u16) -> Result<Self> {
        match mime_type.to_ascii_lowercase().as_str() {
            "audio/opus" => Ok(Self::Opus(opus::OpusDepacketizer::new(channels))),
            "video/vp8" => Ok(Self::Vp8(VideoAssembler::default())),
            "video/h264" => Ok(Self::H264(VideoAssembler::default())),
            _ => Err(Error::UnsupportedCodec(mime_type.to_owned())),
        }
    }

    /// Takes the next packet in sequence order and appends the frames it completes to `out`.
    pub fn push(&mut self, packet: SequencedPacket<'_>, out: &mut Vec<Frame>) {
        match self {
            Self::Opus(opus) => opus.push(packet, out),
            Self::Vp8(video) => video.push(packet, out),
            Self::H264(video) => video.push(packet, out),
        }
    }

    /// The end of the stream: a last frame still being collected is emitted if it is whole.
    pub fn finish(&mut self, out: &mut Vec<Frame>) {
        match self {
            Self::Opus(_) => {}
            Self::Vp8(video) => video.finish(out),
            Self::H264(video) => video.finish(out),
        }
    }

    /// What a file needs to describe the track, once `frame` (the first one to be written)
    /// says it: None while it cannot be known yet (video before a keyframe with its sizes, or
    /// H.264 before SPS and PPS).
    pub fn track_codec(&self, frame: &Frame) -> Option<TrackCodec> {
        match self {
            Self::Opus(opus) => Some(TrackCodec::Opus {
                channels: opus.channels(),
            }),
            Self::Vp8(_) => {
                let (width, height) = vp8_keyframe_dimensions(&frame.data)?;
                Some(TrackCodec::Vp8 { width, height })
            }
            Self::H264(video) => video.payload.track_codec(frame),
        }
    }
}

/// One video codec's way of building a frame from packet payloads.
pub trait FramePayload: Default + std::fmt::Debug {
    /// Adds one packet's payload; `first_of_frame` is true for the first packet of a new
    /// timestamp. False when the packet cannot belong to a whole frame (a frame that does not
    /// begin at its start, a fragment without its beginning, a payload that does not parse).
    fn add(&mut self, payload: &[u8], first_of_frame: bool) -> bool;
    /// The frame collected so far and whether it is a keyframe; None if it is not whole.
    fn take(&mut self) -> Option<(Bytes, bool)>;
    /// Forgets a partly collected frame.
    fn clear(&mut self);
}

/// Collects the packets of one video frame and drops broken frames until a keyframe.
#[derive(Debug)]
pub struct VideoAssembler<P> {
    payload: P,
    /// RTP timestamp and session time of the frame being collected.
    current: Option<(u32, u64)>,
    broken: bool,
    /// Payload bytes of the frame being collected, to bound it.
    collected: usize,
    next_sequence: Option<u64>,
    need_keyframe: bool,
}

impl<P: FramePayload> Default for VideoAssembler<P> {
    fn default() -> Self {
        Self {
            payload: P::default(),
            current: None,
            broken: false,
            collected: 0,
            next_sequence: None,
            need_keyframe: true,
        }
    }
}

impl<P: FramePayload> VideoAssembler<P> {
    fn push(&mut self, input: SequencedPacket<'_>, out: &mut Vec<Frame>) {
        let packet = input.packet;
        let lost = self
            .next_sequence
            .is_some_and(|next| input.extended_sequence != next);
        self.next_sequence = Some(input.extended_sequence + 1);
        if packet.payload.is_empty() {
            // RTP padding, which browsers send to probe bandwidth (often right after a layer
            // starts): no media, only a sequence number. Taken as the first packet of a frame
            // it would break that frame and stop the track until the next keyframe, which
            // may be minutes away. A loss just before it still counts.
            if lost {
                if self.current.is_some() {
                    self.broken = true;
                } else {
                    self.need_keyframe = true;
                }
            }
            return;
        }
        if let Some((timestamp, _)) = self.current {
            if timestamp != packet.timestamp {
                // A gap right before a new timestamp may have taken the old frame's end.
                self.broken |= lost;
                self.end_frame(out);
            } else if lost {
                self.broken = true;
            }
        } else if lost {
            // Whole frames may be gone: what follows refers to them.
            self.need_keyframe = true;
        }
        let first_of_frame = self.current.is_none();
        if first_of_frame {
            self.current = Some((packet.timestamp, input.session_us));
        }
        self.collected += packet.payload.len();
        if self.collected > MAX_FRAME_BYTES {
            // Not a frame any phone or browser sends: stop holding it rather than grow.
            self.broken = true;
            self.payload.clear();
        }
        if !self.broken && !self.payload.add(&packet.payload, first_of_frame) {
            self.broken = true;
        }
        if packet.marker {
            self.end_frame(out);
        }
    }

    fn finish(&mut self, out: &mut Vec<Frame>) {
        if self.current.is_some() {
            self.end_frame(out);
        }
    }

    fn end_frame(&mut self, out: &mut Vec<Frame>) {
        let Some((_, session_us)) = self.current.take() else {
            return;
        };
        let whole = if self.broken {
            None
        } else {
            self.payload.take()
        };
        self.payload.clear();
        self.broken = false;
        self.collected = 0;
        match whole {
            Some((data, keyframe)) => {
                if keyframe {
                    self.need_keyframe = false;
                }
                if !self.need_keyframe {
                    out.push(Frame {
                        session_us,
                        data,
                        keyframe,
                        duration_us: None,
                    });
                }
            }
            None => self.need_keyframe = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 packet: descriptor (S on a frame's first packet) and one byte of frame header
    /// (P bit clear for a keyframe).
    fn vp8(seq: u64, frame: u32, first: bool, keyframe: bool, marker: bool) -> (u64, RtpPacket) {
        let descriptor = if first { 0x10 } else { 0x00 };
        let header = if keyframe { 0x00 } else { 0x01 };
        let packet = RtpPacket {
            sequence_number: seq as u16,
            timestamp: frame * 3000,
            ssrc: 1,
            payload_type: 96,
            marker,
            payload: Bytes::from(vec![descriptor, header, 0xaa]),
        };
        (seq, packet)
    }

    fn frames(packets: &[(u64, RtpPacket)]) -> Vec<(u64, bool)> {
        let mut depacketizer = Depacketizer::for_mime_type("video/VP8", 0).expect("vp8");
        let mut out = Vec::new();
        for (seq, packet) in packets {
            let input = SequencedPacket {
                extended_sequence: *seq,
                session_us: u64::from(packet.timestamp) * 100 / 9,
                packet,
            };
            depacketizer.push(input, &mut out);
        }
        depacketizer.finish(&mut out);
        out.iter()
            .map(|f| (f.session_us / 1000, f.keyframe))
            .collect()
    }

    #[test]
    fn after_a_loss_nothing_is_written_until_a_keyframe() {
        let packets = [
            vp8(1, 0, true, true, false),
            vp8(2, 0, false, true, true),
            vp8(3, 1, true, false, true),
            // 4 (frame 2) is lost
            vp8(5, 3, true, false, true),
            vp8(6, 4, true, true, true),
            vp8(7, 5, true, false, false),
        ];
        // Frame 5 has no marker but ends the stream whole.
        assert_eq!(
            frames(&packets),
            vec![(0, true), (33, false), (133, true), (166, false)]
        );
        let lost_piece = [
            vp8(1, 0, true, true, false),
            // 2, the keyframe's end, is lost; frame 1 arrives whole
            vp8(3, 1, true, false, true),
        ];
        assert!(frames(&lost_piece).is_empty());
        let no_start = [vp8(1, 0, false, true, true)];
        assert!(
            frames(&no_start).is_empty(),
            "a frame must begin at its start"
        );
    }

    /// An RTP packet with nothing in it: padding, stripped of its padding bytes.
    fn padding(seq: u64, frame: u32) -> (u64, RtpPacket) {
        let (seq, mut packet) = vp8(seq, frame, false, false, false);
        packet.payload = Bytes::new();
        (seq, packet)
    }

    #[test]
    fn padding_between_frames_loses_nothing() {
        let packets = [
            vp8(1, 0, true, true, true),
            // Chrome probes bandwidth with padding stamped like the frame before it.
            padding(2, 0),
            padding(3, 0),
            vp8(4, 1, true, false, true),
            padding(5, 1),
            vp8(6, 2, true, false, false),
            padding(7, 2),
            vp8(8, 2, false, false, true),
            vp8(9, 3, true, false, true),
        ];
        assert_eq!(
            frames(&packets),
            vec![(0, true), (33, false), (66, false), (100, false)]
        );
        let lost_before_padding = [
            vp8(1, 0, true, true, true),
            // 2 (frame 1) is lost
            padding(3, 0),
            vp8(4, 2, true, false, true),
            vp8(5, 3, true, true, true),
        ];
        assert_eq!(frames(&lost_before_padding), vec![(0, true), (100, true)]);
    }

    #[test]
    fn a_frame_that_never_ends_is_not_held_without_bound() {
        let mut depacketizer = Depacketizer::for_mime_type("video/VP8", 0).expect("vp8");
        let big = RtpPacket {
            sequence_number: 0,
            timestamp: 0,
            ssrc: 1,
            payload_type: 96,
            marker: false,
            payload: Bytes::from(vec![0x10; 60_000]),
        };
        let mut out = Vec::new();
        for seq in 0..200u64 {
            let packet = RtpPacket {
                sequence_number: seq as u16,
                ..big.clone()
            };
            let input = SequencedPacket {
                extended_sequence: seq,
                session_us: 0,
                packet: &packet,
            };
            depacketizer.push(input, &mut out);
        }
        let Depacketizer::Vp8(assembler) = &mut depacketizer else {
            panic!("a VP8 depacketizer");
        };
        assert_eq!(assembler.payload.take(), None, "12 MB were not kept");
        depacketizer.finish(&mut out);
        assert!(out.is_empty(), "nor written");
    }
}
