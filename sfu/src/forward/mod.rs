//! The per-subscriber forwarding decision: which simulcast layer to pass, and how to rewrite
//! sequence numbers, timestamps and VP8 picture ids so the subscriber sees one continuous
//! stream whatever layer it is fed from. Pure logic with no I/O, tested on its own.

pub(crate) mod h264;
pub(crate) mod vp8;

use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::ids::Layer;

/// The codec a forwarded track carries, as far as forwarding cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Opus or another audio codec: no layers, no keyframes.
    Audio,
    /// VP8: keyframes and picture ids in the payload descriptor.
    Vp8,
    /// H.264: keyframes from the NAL unit type.
    H264,
    /// A video codec we cannot inspect: forwarded as is, never switched.
    OpaqueVideo,
}

impl Codec {
    /// Picks the codec from its MIME type (`video/VP8`, …).
    pub fn from_mime(mime: &str) -> Codec {
        let mime = mime.to_ascii_lowercase();
        if mime.starts_with("audio/") {
            Codec::Audio
        } else if mime == "video/vp8" {
            Codec::Vp8
        } else if mime == "video/h264" {
            Codec::H264
        } else {
            Codec::OpaqueVideo
        }
    }

    /// What the forwarder needs to know about one incoming packet.
    pub fn inspect(self, payload: &[u8]) -> PacketInfo {
        match self {
            Codec::Audio | Codec::OpaqueVideo => PacketInfo {
                keyframe_start: self == Codec::Audio,
                vp8: None,
            },
            Codec::Vp8 => {
                let vp8 = vp8::parse(payload);
                PacketInfo {
                    keyframe_start: vp8.is_some_and(|d| d.keyframe_start),
                    vp8,
                }
            }
            Codec::H264 => PacketInfo {
                keyframe_start: h264::is_keyframe_start(payload),
                vp8: None,
            },
        }
    }

    fn clock_rate(self) -> u32 {
        match self {
            Codec::Audio => 48_000,
            _ => 90_000,
        }
    }
}

/// What [`Codec::inspect`] found in a packet.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PacketInfo {
    /// A decoder can start here.
    pub keyframe_start: bool,
    /// The VP8 descriptor, for picture-id rewriting.
    pub vp8: Option<vp8::Vp8Descriptor>,
}

/// How to rewrite one packet that is to be forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rewrite {
    /// Outgoing sequence number.
    pub sequence_number: u16,
    /// Outgoing RTP timestamp.
    pub timestamp: u32,
    /// Outgoing VP8 picture id and TL0PICIDX, when the payload must be edited.
    pub vp8: Option<(u16, Option<u8>)>,
    /// This packet switched layers (or started the stream).
    pub switched: bool,
}

impl Rewrite {
    /// The payload to send: the incoming one, or a copy with the VP8 picture id and
    /// TL0PICIDX rewritten when the stream switched layers.
    pub fn payload(&self, payload: &Bytes, info: &PacketInfo) -> Bytes {
        match (self.vp8, info.vp8) {
            (Some((picture_id, tl0)), Some(descriptor)) => {
                let mut edited = BytesMut::from(&payload[..]);
                vp8::rewrite(&mut edited, &descriptor, picture_id, tl0);
                edited.freeze()
            }
            _ => Bytes::clone(payload),
        }
    }
}

/// Rewriting state of one subscriber's view of one track.
#[derive(Debug)]
pub(crate) struct Forwarder {
    codec: Codec,
    /// The layer the subscriber should get; `None` pauses the track.
    target: Option<Layer>,
    /// The layer being forwarded now.
    current: Option<Layer>,
    /// First incoming sequence number of the current layer since the last switch; older
    /// packets of that layer (late retransmissions) would collide with the previous layer's
    /// numbers and are dropped.
    switch_in_seq: u16,
    seq_offset: u16,
    ts_offset: u32,
    pid_offset: u16,
    tl0_offset: u8,
    last_out: Option<LastOut>,
}

#[derive(Clone, Copy, Debug)]
struct LastOut {
    seq: u16,
    ts: u32,
    at: Instant,
    picture_id: Option<u16>,
    tl0: Option<u8>,
}

/// `a` is after `b` in sequence-number space (RFC 3550 wrap-around).
pub(crate) fn seq_after(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

impl Forwarder {
    /// A forwarder that will pass `target` once a keyframe of it arrives.
    pub fn new(codec: Codec, target: Option<Layer>) -> Self {
        Self {
            codec,
            target,
            current: None,
            switch_in_seq: 0,
            seq_offset: 0,
            ts_offset: 0,
            pid_offset: 0,
            tl0_offset: 0,
            last_out: None,
        }
    }

    /// The layer wanted now.
    pub fn target(&self) -> Option<Layer> {
        self.target
    }

    /// The layer being forwarded now.
    pub fn current(&self) -> Option<Layer> {
        self.current
    }

    /// What is added to the current layer's RTP timestamps (for translating its sender
    /// reports onto the outgoing timeline).
    pub fn timestamp_offset(&self) -> u32 {
        self.ts_offset
    }

    /// Asks for another layer (or `None` to pause). Returns whether a keyframe of the new
    /// target is needed before anything changes for the subscriber.
    pub fn set_target(&mut self, target: Option<Layer>) -> bool {
        self.target = target;
        if target.is_none() {
            self.current = None;
        }
        target.is_some() && target != self.current
    }

    /// Decides about one incoming packet of `layer`. `None` drops it.
    pub fn forward(
        &mut self,
        layer: Layer,
        seq: u16,
        ts: u32,
        info: &PacketInfo,
        now: Instant,
    ) -> Option<Rewrite> {
        let target = self.target?;
        let mut switched = false;
        if Some(layer) == self.current {
            if !seq_after(seq, self.switch_in_seq) && seq != self.switch_in_seq {
                return None;
            }
        } else if layer == target && info.keyframe_start {
            self.switch_to(layer, seq, ts, info, now);
            switched = true;
        } else {
            return None;
        }

        let out_seq = seq.wrapping_add(self.seq_offset);
        let out_ts = ts.wrapping_add(self.ts_offset);
        let vp8 = info.vp8.and_then(|d| {
            let pid = d.picture_id?;
            let modulus = pid.modulus();
            let out_pid = ((u32::from(pid.value) + u32::from(self.pid_offset)) % modulus) as u16;
            let out_tl0 = d.tl0_pic_idx.map(|(_, v)| v.wrapping_add(self.tl0_offset));
            Some((out_pid, out_tl0))
        });

        let advance = match self.last_out {
            None => true,
            Some(last) => seq_after(out_seq, last.seq),
        };
        if advance {
            let previous = self.last_out;
            self.last_out = Some(LastOut {
                seq: out_seq,
                ts: out_ts,
                at: now,
                picture_id: vp8.map(|v| v.0).or(previous.and_then(|p| p.picture_id)),
                tl0: vp8.and_then(|v| v.1).or(previous.and_then(|p| p.tl0)),
            });
        }
        let needs_payload_edit = vp8.is_some() && (self.pid_offset != 0 || self.tl0_offset != 0);
        Some(Rewrite {
            sequence_number: out_seq,
            timestamp: out_ts,
            vp8: if needs_payload_edit { vp8 } else { None },
            switched,
        })
    }

    fn switch_to(&mut self, layer: Layer, seq: u16, ts: u32, info: &PacketInfo, now: Instant) {
        self.current = Some(layer);
        self.switch_in_seq = seq;
        let Some(last) = self.last_out else {
            // The first packet ever: keep the publisher's numbering.
            return;
        };
        self.seq_offset = last.seq.wrapping_add(1).wrapping_sub(seq);
        // Advance the timestamp by the wall-clock gap so players keep their pacing; at least
        // one tick so the new frame is never mistaken for the previous one.
        let elapsed = now.saturating_duration_since(last.at);
        let ticks = (elapsed.as_micros() * u128::from(self.codec.clock_rate()) / 1_000_000)
            .clamp(1, u128::from(u32::MAX / 2)) as u32;
        self.ts_offset = last.ts.wrapping_add(ticks).wrapping_sub(ts);
        if let Some(d) = info.vp8 {
            if let (Some(pid), Some(last_pid)) = (d.picture_id, last.picture_id) {
                let modulus = pid.modulus();
                self.pid_offset = ((u32::from(last_pid) + 1 + modulus
                    - u32::from(pid.value) % modulus)
                    % modulus) as u16;
            }
            if let (Some((_, tl0)), Some(last_tl0)) = (d.tl0_pic_idx, last.tl0) {
                self.tl0_offset = last_tl0.wrapping_add(1).wrapping_sub(tl0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key() -> PacketInfo {
        PacketInfo {
            keyframe_start: true,
            vp8: None,
        }
    }
    fn delta() -> PacketInfo {
        PacketInfo::default()
    }

    #[test]
    fn nothing_passes_until_a_keyframe_of_the_target_layer() {
        let now = Instant::now();
        let mut f = Forwarder::new(Codec::Vp8, Some(Layer(0)));
        assert!(f.forward(Layer(0), 10, 1000, &delta(), now).is_none());
        assert!(f.forward(Layer(1), 10, 1000, &key(), now).is_none());
        let first = f
            .forward(Layer(0), 11, 1000, &key(), now)
            .expect("keyframe passes");
        assert!(first.switched);
        assert_eq!(first.sequence_number, 11);
        assert_eq!(
            f.forward(Layer(0), 12, 1000, &delta(), now)
                .map(|r| r.sequence_number),
            Some(12)
        );
    }

    #[test]
    fn switching_layers_keeps_sequence_numbers_and_timestamps_continuous() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(Codec::Vp8, Some(Layer(0)));
        f.forward(Layer(0), 100, 9000, &key(), t0).expect("start");
        f.forward(Layer(0), 101, 12000, &delta(), t0)
            .expect("delta");
        assert!(f.set_target(Some(Layer(2))));
        // Layer 0 keeps flowing until layer 2's keyframe arrives.
        assert!(f.forward(Layer(0), 102, 15000, &delta(), t0).is_some());
        assert!(f.forward(Layer(2), 5000, 777_000, &delta(), t0).is_none());
        let t1 = t0 + Duration::from_millis(33);
        let sw = f
            .forward(Layer(2), 5001, 780_000, &key(), t1)
            .expect("switch");
        assert!(sw.switched);
        assert_eq!(sw.sequence_number, 103);
        assert_eq!(sw.timestamp, 15000 + 33 * 90);
        // The old layer is dropped from now on, the new one continues.
        assert!(f.forward(Layer(0), 103, 18000, &delta(), t1).is_none());
        let next = f
            .forward(Layer(2), 5002, 780_000, &delta(), t1)
            .expect("next");
        assert_eq!(next.sequence_number, 104);
        // A late packet from before the switch point would collide: dropped.
        assert!(f.forward(Layer(2), 4999, 777_000, &delta(), t1).is_none());
    }

    #[test]
    fn sequence_numbers_wrap() {
        let now = Instant::now();
        let mut f = Forwarder::new(Codec::Audio, Some(Layer(0)));
        f.forward(Layer(0), 65535, 0, &key(), now).expect("start");
        let r = f.forward(Layer(0), 0, 960, &delta(), now).expect("wrapped");
        assert_eq!(r.sequence_number, 0);
    }

    #[test]
    fn retransmissions_of_the_current_layer_pass_with_their_own_number() {
        let now = Instant::now();
        let mut f = Forwarder::new(Codec::Vp8, Some(Layer(1)));
        f.forward(Layer(1), 10, 0, &key(), now).expect("start");
        f.forward(Layer(1), 12, 0, &delta(), now).expect("12");
        let late = f.forward(Layer(1), 11, 0, &delta(), now).expect("late 11");
        assert_eq!(late.sequence_number, 11);
    }

    #[test]
    fn pausing_drops_everything_and_resuming_waits_for_a_keyframe() {
        let now = Instant::now();
        let mut f = Forwarder::new(Codec::Vp8, Some(Layer(0)));
        f.forward(Layer(0), 1, 0, &key(), now).expect("start");
        assert!(!f.set_target(None));
        assert!(f.forward(Layer(0), 2, 0, &key(), now).is_none());
        assert!(f.set_target(Some(Layer(0))));
        assert!(f.forward(Layer(0), 3, 0, &delta(), now).is_none());
        let r = f.forward(Layer(0), 4, 3000, &key(), now).expect("resumed");
        assert_eq!(r.sequence_number, 2);
    }

    #[test]
    fn vp8_picture_ids_continue_across_a_switch() {
        let payload = |pid: u16, key: bool| {
            let tag = if key { 0x10 } else { 0x11 };
            vec![0x90, 0xc0, 0x80 | (pid >> 8) as u8, pid as u8, 3, tag, 0, 0]
        };
        let info = |p: &[u8]| Codec::Vp8.inspect(p);
        let now = Instant::now();
        let mut f = Forwarder::new(Codec::Vp8, Some(Layer(0)));
        let p = payload(500, true);
        let r = f.forward(Layer(0), 1, 0, &info(&p), now).expect("start");
        assert_eq!(r.vp8, None, "no edit needed before the first switch");
        f.set_target(Some(Layer(1)));
        let p = payload(32000, true);
        let r = f.forward(Layer(1), 900, 0, &info(&p), now).expect("switch");
        assert_eq!(r.vp8, Some((501, Some(4))));
        let p = payload(32767, false);
        let r = f.forward(Layer(1), 901, 0, &info(&p), now).expect("next");
        assert_eq!(r.vp8.map(|v| v.0), Some(1268));
    }
}
