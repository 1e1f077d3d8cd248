//! One simulated participant: a full-ICE `rtc` peer connection on a made-up address that
//! publishes synthetic Opus and VP8 and logs what it receives, as a browser would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};

use crate::error::{Error, Result};
use crate::ids::{MediaKind, TrackId};

const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
/// Simulcast layers as browsers name them, lowest first, with the size each sends.
const LAYERS: [(&str, (u16, u16)); 3] = [("q", (160, 90)), ("h", (320, 180)), ("f", (640, 360))];
const OPUS_PT: u8 = 111;
const VP8_PT: u8 = 96;
/// 20 ms of Opus at 48 kHz.
const OPUS_TICKS_PER_PACKET: u32 = 960;
/// One frame at 30 fps on the 90 kHz video clock.
const VP8_TICKS_PER_FRAME: u32 = 3000;
/// The size a simulated camera's keyframes announce (its top layer's, with simulcast).
pub(super) const FRAME_SIZE: (u16, u16) = (640, 360);

/// What one subscriber received of one track, in arrival order.
#[derive(Clone, Debug, Default)]
pub struct TrackLog {
    /// The publisher's index in the room.
    pub publisher: Option<usize>,
    /// Audio or video, once the track was announced.
    pub kind: Option<MediaKind>,
    /// RTP packets received, retransmissions included.
    pub packets: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Sequence numbers in arrival order (empty when history is off).
    pub sequence_numbers: Vec<u16>,
    /// RTP timestamps in arrival order (empty when history is off).
    pub timestamps: Vec<u32>,
}

impl TrackLog {
    /// Sequence numbers missing between the first and the last received, once duplicates
    /// and reordering are set aside (unwrapped over the 16-bit wrap).
    pub fn missing(&self) -> u64 {
        let unwrapped = unwrap_sequence(&self.sequence_numbers);
        let (Some(first), Some(last)) = (unwrapped.iter().min(), unwrapped.iter().max()) else {
            return 0;
        };
        let mut seen = unwrapped.clone();
        seen.sort_unstable();
        seen.dedup();
        (last - first + 1) as u64 - seen.len() as u64
    }

    /// Steps between consecutive arrivals that are not exactly +1 (loss, reordering,
    /// retransmission or a broken rewrite).
    pub fn discontinuities(&self) -> usize {
        self.sequence_numbers
            .windows(2)
            .filter(|w| w[1] != w[0].wrapping_add(1))
            .count()
    }
}

/// Sequence numbers extended past the 16-bit wrap, relative to the first.
fn unwrap_sequence(seqs: &[u16]) -> Vec<i64> {
    let mut out = Vec::with_capacity(seqs.len());
    let mut last: Option<(u16, i64)> = None;
    for &s in seqs {
        let value = match last {
            None => i64::from(s),
            Some((prev, prev_value)) => prev_value + i64::from(s.wrapping_sub(prev) as i16),
        };
        out.push(value);
        last = Some((s, value));
    }
    out
}

/// One outgoing stream of a publisher: its sender and RTP state.
pub(super) struct Outgoing {
    sender: RTCRtpSenderId,
    ssrc: u32,
    sequence_number: u16,
    timestamp: u32,
    /// The negotiated id of the sdes:mid extension and the mid, once known.
    mid_extension: Option<(u8, Bytes)>,
    /// The simulcast layer's rid, and the negotiated id of the rid extension once known.
    rid: Option<&'static str>,
    rid_extension: Option<u8>,
    /// The size its keyframes announce.
    frame_size: (u16, u16),
    /// VP8 picture id of the next frame (each layer is its own VP8 stream).
    picture_id: u16,
}

impl Outgoing {
    fn new(
        sender: RTCRtpSenderId,
        ssrc: u32,
        rid: Option<&'static str>,
        frame_size: (u16, u16),
    ) -> Self {
        Self {
            sender,
            ssrc,
            sequence_number: rand::random(),
            timestamp: rand::random(),
            mid_extension: None,
            rid,
            rid_extension: None,
            frame_size,
            picture_id: rand::random::<u16>() & 0x7fff,
        }
    }
}

pub(super) struct Client {
    pub pc: RTCPeerConnection,
    /// The address its connection believes it has (its host candidate).
    pub local: SocketAddr,
    /// Where its datagrams appear to come from on the server's side (a NAT may move it).
    pub public: SocketAddr,
    pub key: Option<crate::net::PeerKey>,
    pub events: Option<tokio::sync::mpsc::Receiver<crate::events::SfuEvent>>,
    pub connected: bool,
    pub audio: Option<Outgoing>,
    /// The camera: one stream, or one per simulcast layer (lowest first).
    pub video: Vec<Outgoing>,
    /// `mid` → track, from the server's offers.
    pub mids: HashMap<String, TrackId>,
    /// Track → what arrived of it; the key is the receiving track id (the server's TrackId).
    pub received: HashMap<String, TrackLog>,
    /// Track ids announced to it (`TrackPublished`, or in the join reply), with their owner.
    pub announced: HashMap<String, (crate::ids::ParticipantId, MediaKind)>,
    /// ICE restarts the server asked for.
    pub restarts_asked: u32,
    /// What its engine said when it gave up on the connection (a DTLS handshake out of
    /// retransmissions fails the next timer), as a browser reports a failed connection; its
    /// timers are not fired again.
    pub failed: Option<String>,
    /// The server told it its media path is lost for good (`SfuEvent::MediaLost`).
    pub media_lost: bool,
    /// RTCP sender reports the server sent it, by the SSRC they report on (read on the wire:
    /// SRTCP leaves the first header and SSRC in the clear).
    pub sender_reports: HashMap<u32, u64>,
    /// Keep every sequence number and timestamp received (off for long runs).
    pub keep_history: bool,
}

impl Client {
    pub fn new(local: SocketAddr, publishes: bool, simulcast: bool, now: Instant) -> Result<Self> {
        let mut media = MediaEngine::default();
        media.register_codec(crate::peer::opus(OPUS_PT), RtpCodecKind::Audio)?;
        let feedback = |typ: &str, parameter: &str| RTCPFeedback {
            typ: typ.to_owned(),
            parameter: parameter.to_owned(),
        };
        media.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: MIME_TYPE_VP8.to_owned(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: String::new(),
                    rtcp_feedback: vec![
                        feedback("nack", ""),
                        feedback("nack", "pli"),
                        feedback("ccm", "fir"),
                    ],
                },
                payload_type: VP8_PT,
            },
            RtpCodecKind::Video,
        )?;
        for (uri, kind) in [
            (MID_URI, RtpCodecKind::Audio),
            (MID_URI, RtpCodecKind::Video),
            (RID_URI, RtpCodecKind::Video),
        ] {
            media.register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: uri.to_owned(),
                },
                kind,
                None,
            )?;
        }
        let registry = register_default_interceptors(Registry::new(), &mut media)?;
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .build(now)?;
        let host = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: local.ip().to_string(),
                port: local.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .map_err(|e| Error::Engine(e.to_string()))?;
        pc.add_local_candidate(RTCIceCandidate::from(&host).to_json()?)?;

        let (mut audio, mut video) = (None, Vec::new());
        if publishes {
            let stream = format!("sim-{local}");
            let audio_ssrc: u32 = rand::random();
            let sender = pc.add_track(MediaStreamTrack::new(
                stream.clone(),
                format!("{stream}-audio"),
                format!("{stream}-audio"),
                RtpCodecKind::Audio,
                vec![encoding(None, audio_ssrc, MIME_TYPE_OPUS, 48_000, 2)],
            ))?;
            audio = Some(Outgoing::new(sender, audio_ssrc, None, (0, 0)));
            let layers: Vec<(Option<&'static str>, (u16, u16), u32)> = if simulcast {
                LAYERS
                    .iter()
                    .map(|&(rid, size)| (Some(rid), size, rand::random()))
                    .collect()
            } else {
                vec![(None, FRAME_SIZE, rand::random())]
            };
            let sender = pc.add_track(MediaStreamTrack::new(
                stream.clone(),
                format!("{stream}-video"),
                format!("{stream}-video"),
                RtpCodecKind::Video,
                layers
                    .iter()
                    .map(|&(rid, _, ssrc)| encoding(rid, ssrc, MIME_TYPE_VP8, 90_000, 0))
                    .collect(),
            ))?;
            video = layers
                .into_iter()
                .map(|(rid, size, ssrc)| Outgoing::new(sender, ssrc, rid, size))
                .collect();
        }
        Ok(Self {
            pc,
            local,
            public: local,
            key: None,
            events: None,
            connected: false,
            audio,
            video,
            mids: HashMap::new(),
            received: HashMap::new(),
            announced: HashMap::new(),
            restarts_asked: 0,
            failed: None,
            media_lost: false,
            sender_reports: HashMap::new(),
            keep_history: true,
        })
    }

    /// Learns the mid extension id and mid of each outgoing stream from what was negotiated.
    pub fn learn_sender_parameters(&mut self) {
        for outgoing in self.audio.iter_mut().chain(self.video.iter_mut()) {
            let transceiver: usize = outgoing.sender.into();
            let mid = self
                .pc
                .rtp_transceiver(transceiver)
                .and_then(|t| t.mid().clone());
            let Some(mut sender) = self.pc.rtp_sender(outgoing.sender) else {
                continue;
            };
            let extensions = &sender.get_parameters().rtp_parameters.header_extensions;
            let id_of = |uri: &str| extensions.iter().find(|h| h.uri == uri).map(|h| h.id as u8);
            outgoing.mid_extension = id_of(MID_URI).zip(mid.map(Bytes::from));
            outgoing.rid_extension = id_of(RID_URI);
        }
    }

    /// The `mid`s of its own audio and video transceivers, in that order.
    pub fn own_mids(&mut self) -> Vec<(MediaKind, String)> {
        let mut out = Vec::new();
        for (kind, outgoing) in [
            (MediaKind::Audio, self.audio.as_ref()),
            (MediaKind::Video, self.video.first()),
        ] {
            let Some(outgoing) = outgoing else { continue };
            let transceiver: usize = outgoing.sender.into();
            if let Some(mid) = self
                .pc
                .rtp_transceiver(transceiver)
                .and_then(|t| t.mid().clone())
            {
                out.push((kind, mid));
            }
        }
        out
    }

    /// Writes one Opus-sized packet of `len` payload bytes.
    pub fn write_audio(&mut self, len: usize, now: Instant) -> Result<()> {
        let Some(out) = self.audio.as_mut() else {
            return Err(Error::Forbidden("this simulated client does not publish"));
        };
        let payload = Bytes::from(vec![0xfc; len]);
        let packet = next_packet(out, OPUS_PT, true, payload);
        out.timestamp = out.timestamp.wrapping_add(OPUS_TICKS_PER_PACKET);
        write(&mut self.pc, out.sender, now, packet)
    }

    /// Writes one VP8 frame in `packets` packets of about `len` payload bytes each, on
    /// every simulcast layer.
    pub fn write_video_frame(
        &mut self,
        keyframe: bool,
        packets: usize,
        len: usize,
        now: Instant,
    ) -> Result<()> {
        if self.video.is_empty() {
            return Err(Error::Forbidden("this simulated client does not publish"));
        }
        let packets = packets.max(1);
        for out in &mut self.video {
            let picture_id = out.picture_id;
            out.picture_id = (out.picture_id + 1) & 0x7fff;
            for i in 0..packets {
                let payload = vp8_payload(picture_id, i == 0, keyframe, out.frame_size, len);
                let packet = next_packet(out, VP8_PT, i + 1 == packets, payload);
                write(&mut self.pc, out.sender, now, packet)?;
            }
            out.timestamp = out.timestamp.wrapping_add(VP8_TICKS_PER_FRAME);
        }
        Ok(())
    }

    /// Logs a received RTP packet against its track.
    pub fn record(&mut self, track: String, packet: &rtc::rtp::Packet) {
        let log = self.received.entry(track).or_default();
        log.packets += 1;
        log.bytes += packet.payload.len() as u64;
        if self.keep_history {
            log.sequence_numbers.push(packet.header.sequence_number);
            log.timestamps.push(packet.header.timestamp);
        }
    }
}

fn next_packet(
    out: &mut Outgoing,
    payload_type: u8,
    marker: bool,
    payload: Bytes,
) -> rtc::rtp::Packet {
    let mut header = rtc::rtp::header::Header {
        version: 2,
        marker,
        payload_type,
        sequence_number: out.sequence_number,
        timestamp: out.timestamp,
        ssrc: out.ssrc,
        ..Default::default()
    };
    out.sequence_number = out.sequence_number.wrapping_add(1);
    if let Some((id, mid)) = &out.mid_extension {
        // Only fails for ids outside 1–255, which negotiation never gives.
        let _ = header.set_extension(*id, mid.clone());
    }
    if let (Some(id), Some(rid)) = (out.rid_extension, out.rid) {
        let _ = header.set_extension(id, Bytes::from_static(rid.as_bytes()));
    }
    rtc::rtp::Packet { header, payload }
}

fn write(
    pc: &mut RTCPeerConnection,
    sender: RTCRtpSenderId,
    now: Instant,
    packet: rtc::rtp::Packet,
) -> Result<()> {
    let mut sender = pc
        .rtp_sender(sender)
        .ok_or_else(|| Error::Engine("the simulated client's sender is gone".into()))?;
    sender
        .write_rtp(now, packet)
        .map_err(|e| Error::Engine(e.to_string()))
}

/// A VP8 RTP payload (RFC 7741): an extended descriptor with a 15-bit picture id, then, on
/// a frame's first packet, the frame tag (and for a keyframe the start code and size),
/// filled up to `len` bytes.
fn vp8_payload(
    picture_id: u16,
    first: bool,
    keyframe: bool,
    size: (u16, u16),
    len: usize,
) -> Bytes {
    let mut b = BytesMut::with_capacity(len.max(16));
    b.put_u8(if first { 0x90 } else { 0x80 });
    b.put_u8(0x80);
    b.put_u16(0x8000 | picture_id);
    if first {
        // Frame tag: bit 0 is the inverse key frame flag; show_frame set.
        b.put_u8(if keyframe { 0x10 } else { 0x11 });
        b.put_u8(0x00);
        b.put_u8(0x00);
        if keyframe {
            b.put_slice(&[0x9d, 0x01, 0x2a]);
            b.put_u16_le(size.0);
            b.put_u16_le(size.1);
        }
    }
    if b.len() < len {
        b.put_bytes(0x5a, len - b.len());
    }
    b.freeze()
}

fn encoding(
    rid: Option<&str>,
    ssrc: u32,
    mime: &str,
    clock_rate: u32,
    channels: u16,
) -> RTCRtpEncodingParameters {
    RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters {
            rid: rid.unwrap_or_default().to_owned(),
            ssrc: Some(ssrc),
            ..Default::default()
        },
        codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate,
            channels,
            ..Default::default()
        },
        ..Default::default()
    }
}
