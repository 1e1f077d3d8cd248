//! Payload integrity: hashing RTP payloads the same way on the sending and the receiving side.
//!
//! An SFU legitimately rewrites the RTP header (SSRC, sequence number, timestamp, payload type,
//! extensions) and, for VP8, may rewrite the *payload descriptor* (picture id, TL0PICIDX) to
//! keep it continuous across simulcast layer switches. It must not touch the codec bitstream.
//! So we compare per packet:
//! - Opus: the whole RTP payload;
//! - VP8: the bytes after the VP8 payload descriptor (RFC 7741 §4.2), plus the descriptor's
//!   S bit and partition index, which a forwarder has no reason to change.
//!
//! Packet-level comparison is sound because an SFU forwards packets, it does not re-fragment
//! frames. The sender records every hash in a [`PayloadLedger`]; a receiver checks each hash
//! it sees against the ledger of the participant the server says published the track.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Instant;

/// Media kinds we hash differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadKind {
    /// Opus audio: the whole payload is codec data.
    Opus,
    /// VP8 video: a payload descriptor precedes the codec data.
    Vp8,
}

/// The parts of a VP8 payload descriptor we need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Descriptor {
    /// Length of the descriptor in bytes; codec data starts here.
    pub len: usize,
    /// Start of a VP8 partition (S bit).
    pub start_of_partition: bool,
    /// Partition index (PID).
    pub partition_id: u8,
    /// Picture id, when present.
    pub picture_id: Option<u16>,
}

/// Parses the VP8 payload descriptor; `None` when the payload is too short to hold one.
///
/// Written here rather than using `Vp8Packet::depacketize` because that rejects payloads under
/// four bytes, which the last fragment of a frame can legitimately be.
pub fn parse_vp8_descriptor(payload: &[u8]) -> Option<Vp8Descriptor> {
    let first = *payload.first()?;
    let mut len = 1;
    let mut picture_id = None;
    if first & 0x80 != 0 {
        let ext = *payload.get(1)?;
        len = 2;
        if ext & 0x80 != 0 {
            let pid_hi = *payload.get(len)?;
            if pid_hi & 0x80 != 0 {
                let pid_lo = *payload.get(len + 1)?;
                picture_id = Some((u16::from(pid_hi & 0x7f) << 8) | u16::from(pid_lo));
                len += 2;
            } else {
                picture_id = Some(u16::from(pid_hi));
                len += 1;
            }
        }
        if ext & 0x40 != 0 {
            len += 1; // TL0PICIDX
        }
        if ext & 0x30 != 0 {
            len += 1; // TID/Y/KEYIDX
        }
    }
    if len > payload.len() {
        return None;
    }
    Some(Vp8Descriptor {
        len,
        start_of_partition: first & 0x10 != 0,
        partition_id: first & 0x07,
        picture_id,
    })
}

/// Whether an encoded VP8 frame (no descriptor) is a keyframe: the P bit of the frame tag is 0.
pub fn is_vp8_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 0x01 == 0)
}

/// Whether an RTP payload (with descriptor) begins a VP8 keyframe.
pub fn is_vp8_keyframe_packet(payload: &[u8]) -> bool {
    match parse_vp8_descriptor(payload) {
        Some(d) if d.start_of_partition && d.partition_id == 0 => {
            is_vp8_keyframe(&payload[d.len..])
        }
        _ => false,
    }
}

/// The integrity hash of one RTP payload; `None` for a VP8 payload too short to parse.
pub fn payload_hash(kind: PayloadKind, payload: &[u8]) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    kind.hash(&mut hasher);
    match kind {
        PayloadKind::Opus => payload.hash(&mut hasher),
        PayloadKind::Vp8 => {
            let d = parse_vp8_descriptor(payload)?;
            d.start_of_partition.hash(&mut hasher);
            d.partition_id.hash(&mut hasher);
            payload[d.len..].hash(&mut hasher);
        }
    }
    Some(hasher.finish())
}

/// Every payload hash one participant has sent, with the simulcast layer (rid) it was sent on.
#[derive(Debug, Default)]
pub struct PayloadLedger {
    hashes: Mutex<HashMap<u64, Option<&'static str>>>,
    /// Off (`None`) until [`PayloadLedger::start_send_log`]: the set above cannot tell two
    /// sends of the same payload apart (the clips loop), a time-stamped log can.
    send_log: Mutex<Option<Vec<SentPayload>>>,
}

/// One payload sent while the send log was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentPayload {
    /// When it was handed to the connection.
    pub at: Instant,
    /// Its codec.
    pub kind: PayloadKind,
    /// Its [`payload_hash`].
    pub hash: u64,
}

impl PayloadLedger {
    /// Records a sent payload; `layer` is its rid for simulcast video.
    pub fn record(&self, kind: PayloadKind, payload: &[u8], layer: Option<&'static str>) {
        let Some(hash) = payload_hash(kind, payload) else {
            return;
        };
        if let Ok(mut hashes) = self.hashes.lock() {
            hashes.insert(hash, layer);
        }
        if let Ok(mut log) = self.send_log.lock()
            && let Some(log) = log.as_mut()
        {
            log.push(SentPayload {
                at: Instant::now(),
                kind,
                hash,
            });
        }
    }

    /// Starts logging every payload sent from now on with its send time (for loss accounting
    /// that must tell repeated payloads apart). Off by default: it grows with every packet.
    pub fn start_send_log(&self) {
        if let Ok(mut log) = self.send_log.lock() {
            log.get_or_insert_with(Vec::new);
        }
    }

    /// The payloads sent since [`PayloadLedger::start_send_log`], oldest first.
    pub fn send_log(&self) -> Vec<SentPayload> {
        self.send_log
            .lock()
            .ok()
            .and_then(|log| log.clone())
            .unwrap_or_default()
    }

    /// Whether a payload with this hash was sent.
    pub fn contains(&self, hash: u64) -> bool {
        self.hashes.lock().is_ok_and(|h| h.contains_key(&hash))
    }

    /// The layer a payload was sent on: `None` if never sent, `Some(None)` if not simulcast.
    ///
    /// The three layers are encoded separately at different sizes, so a payload belongs to
    /// exactly one of them.
    pub fn layer_of(&self, hash: u64) -> Option<Option<&'static str>> {
        self.hashes.lock().ok().and_then(|h| h.get(&hash).copied())
    }

    /// How many distinct payloads were sent.
    pub fn len(&self) -> usize {
        self.hashes.lock().map(|h| h.len()).unwrap_or(0)
    }

    /// Whether nothing was sent yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Of `hashes`, those this ledger has never seen.
    pub fn unknown<'a>(&self, hashes: impl IntoIterator<Item = &'a u64>) -> Vec<u64> {
        match self.hashes.lock() {
            Ok(sent) => hashes
                .into_iter()
                .filter(|h| !sent.contains_key(h))
                .copied()
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_with_15_bit_picture_id() {
        // X=1,S=1 | I=1 | M=1 pid=0x1234 | data
        let p = [0x90, 0x80, 0x80 | 0x12, 0x34, 0xAA, 0xBB];
        let d = parse_vp8_descriptor(&p).expect("parses");
        assert_eq!(d.len, 4);
        assert_eq!(d.picture_id, Some(0x1234));
        assert!(d.start_of_partition);
    }

    #[test]
    fn rewritten_picture_id_keeps_the_hash() {
        let a = [0x90, 0x80, 0x80, 0x05, 0x10, 0x20, 0x30];
        let b = [0x90, 0x80, 0x81, 0x77, 0x10, 0x20, 0x30];
        let short = [0x90, 0x80, 0x05, 0x10, 0x20, 0x30];
        let ha = payload_hash(PayloadKind::Vp8, &a);
        assert_eq!(ha, payload_hash(PayloadKind::Vp8, &b));
        assert_eq!(ha, payload_hash(PayloadKind::Vp8, &short));
        let c = [0x90, 0x80, 0x80, 0x05, 0x10, 0x20, 0x31];
        assert_ne!(ha, payload_hash(PayloadKind::Vp8, &c));
    }

    #[test]
    fn keyframe_detection() {
        assert!(is_vp8_keyframe_packet(&[0x10, 0x50]));
        assert!(!is_vp8_keyframe_packet(&[0x10, 0x51]));
        assert!(!is_vp8_keyframe_packet(&[0x00, 0x50]));
    }
}
