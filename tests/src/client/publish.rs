//! Publishing: local tracks on send-only transceivers, and tasks that pace generated media
//! onto them in real time, looping the clips.
//!
//! We packetize ourselves and write through `TrackLocalStaticRTP`, because that is the only
//! way to send rid simulcast with the async crate, and it lets us record every payload's hash
//! before it leaves (see [`crate::payload`]).

use super::VideoPublish;
use crate::media::{
    self, AUDIO_FRAME, AUDIO_SAMPLES_PER_FRAME, AudioClip, VIDEO_CLOCK_RATE, VIDEO_FPS, VideoClip,
    VideoSize,
};
use crate::payload::{PayloadKind, PayloadLedger};
use crate::protocol::TrackDescription;
use anyhow::{Context, Result};
use bytes::Bytes;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp;
use rtc::rtp::codec::vp8::Vp8Payloader;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sdp::extmap::{AUDIO_LEVEL_URI, SDES_MID_URI, SDES_RTP_STREAM_ID_URI};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::{RtpSender, RtpTransceiver};

/// How often a pacer re-reads the negotiated payload type and extension ids, which can change
/// with every renegotiation.
const PARAMS_REFRESH: Duration = Duration::from_secs(1);

/// One published track.
pub(crate) struct LocalTrack {
    pub(crate) track: Arc<TrackLocalStaticRTP>,
    pub(crate) transceiver: Arc<dyn RtpTransceiver>,
    source: &'static str,
    /// Size of the largest layer, for video.
    size: Option<VideoSize>,
    /// Per layer (one for audio and single-layer video): rid and SSRC.
    pub(crate) layers: Vec<(Option<&'static str>, u32)>,
    pub(crate) kind: RtpCodecKind,
}

impl LocalTrack {
    /// The track as the client's `offer` describes it; `None` before a mid is assigned.
    pub(crate) async fn describe(&self) -> Result<Option<TrackDescription>> {
        let Some(mid) = self.transceiver.mid().await.context("reading a mid")? else {
            return Ok(None);
        };
        let (width, height) = match self.size.map(VideoSize::dimensions) {
            Some((w, h)) => (Some(w), Some(h)),
            None => (None, None),
        };
        Ok(Some(TrackDescription {
            mid,
            source: self.source.to_owned(),
            width,
            height,
        }))
    }
}

/// Everything this client publishes.
#[derive(Default)]
pub(crate) struct LocalMedia {
    pub tracks: Vec<LocalTrack>,
}

impl LocalMedia {
    /// Adds an Opus track and/or a VP8 track (single or simulcast) on send-only transceivers.
    ///
    /// Send-only transceivers of our own, not `add_track`: `add_track` would reuse a
    /// receive-only transceiver that a server offer created, and we would end up sending our
    /// camera on the mid that carries somebody else's.
    pub(crate) async fn create(
        pc: &Arc<dyn PeerConnection>,
        stream_id: &str,
        audio: bool,
        video: VideoPublish,
    ) -> Result<Self> {
        let mut tracks = Vec::new();
        if audio {
            let ssrc = rand::random::<u32>();
            let encoding = encoding(None, ssrc, opus_codec());
            tracks.push(
                add_track(pc, stream_id, RtpCodecKind::Audio, vec![encoding])
                    .await
                    .map(|(track, transceiver)| LocalTrack {
                        track,
                        transceiver,
                        source: "microphone",
                        size: None,
                        layers: vec![(None, ssrc)],
                        kind: RtpCodecKind::Audio,
                    })?,
            );
        }
        let sizes: Vec<(Option<&'static str>, VideoSize)> = match video {
            VideoPublish::None => vec![],
            VideoPublish::Single(size) => vec![(None, size)],
            VideoPublish::Simulcast => [VideoSize::Quarter, VideoSize::Half, VideoSize::Full]
                .into_iter()
                .map(|s| (Some(s.rid()), s))
                .collect(),
        };
        if let Some(&(_, largest)) = sizes.last() {
            let layers: Vec<(Option<&'static str>, u32)> = sizes
                .iter()
                .map(|(rid, _)| (*rid, rand::random::<u32>()))
                .collect();
            let encodings = layers
                .iter()
                .map(|(rid, ssrc)| encoding(*rid, *ssrc, vp8_codec()))
                .collect();
            let (track, transceiver) =
                add_track(pc, stream_id, RtpCodecKind::Video, encodings).await?;
            tracks.push(LocalTrack {
                track,
                transceiver,
                source: "camera",
                size: Some(largest),
                layers,
                kind: RtpCodecKind::Video,
            });
        }
        Ok(Self { tracks })
    }

    /// Descriptions of every track that has a mid.
    pub(crate) async fn describe(&self) -> Result<Vec<TrackDescription>> {
        let mut out = Vec::new();
        for t in &self.tracks {
            if let Some(d) = t.describe().await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Starts one pacing task per track. They idle until `ready` turns true (connected and our
    /// offer answered) and stop when `stop` turns true.
    pub(crate) async fn start_pacers(
        &self,
        variant: u32,
        audio_level: u8,
        ledger: Arc<PayloadLedger>,
        ready: watch::Receiver<bool>,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<tokio::task::JoinHandle<()>>> {
        let mut handles = Vec::new();
        for t in &self.tracks {
            let out = Outlet {
                track: Arc::clone(&t.track),
                transceiver: Arc::clone(&t.transceiver),
                ledger: Arc::clone(&ledger),
            };
            match t.kind {
                RtpCodecKind::Audio => {
                    let clip = media::audio_clip_async(variant).await?;
                    let ssrc = t.layers.first().map(|l| l.1).unwrap_or_default();
                    handles.push(tokio::spawn(pace_audio(
                        out,
                        clip,
                        ssrc,
                        audio_level,
                        ready.clone(),
                        stop.clone(),
                    )));
                }
                _ => {
                    let sizes = match t.layers.len() {
                        1 => vec![t.size.unwrap_or(VideoSize::Half)],
                        _ => vec![VideoSize::Quarter, VideoSize::Half, VideoSize::Full],
                    };
                    let mut layers = Vec::new();
                    for ((rid, ssrc), size) in t.layers.iter().zip(sizes) {
                        layers.push(VideoLayer {
                            rid: *rid,
                            ssrc: *ssrc,
                            clip: media::video_clip_async(size, variant).await?,
                            payloader: media::new_vp8_payloader(),
                            seq: rand::random(),
                            ts: rand::random(),
                        });
                    }
                    handles.push(tokio::spawn(pace_video(
                        out,
                        layers,
                        ready.clone(),
                        stop.clone(),
                    )));
                }
            }
        }
        Ok(handles)
    }
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

fn vp8_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: VIDEO_CLOCK_RATE,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

fn encoding(rid: Option<&str>, ssrc: u32, codec: RTCRtpCodec) -> RTCRtpEncodingParameters {
    RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters {
            rid: rid.unwrap_or_default().to_owned(),
            ssrc: Some(ssrc),
            ..Default::default()
        },
        active: true,
        codec,
        ..Default::default()
    }
}

async fn add_track(
    pc: &Arc<dyn PeerConnection>,
    stream_id: &str,
    kind: RtpCodecKind,
    encodings: Vec<RTCRtpEncodingParameters>,
) -> Result<(Arc<TrackLocalStaticRTP>, Arc<dyn RtpTransceiver>)> {
    let track_id = format!("{kind}-{:08x}", rand::random::<u32>());
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        stream_id.to_owned(),
        track_id.clone(),
        track_id,
        kind,
        encodings,
    )));
    let transceiver = pc
        .add_transceiver_from_track(
            Arc::clone(&track) as Arc<dyn TrackLocal>,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                streams: vec![stream_id.to_owned()],
                send_encodings: vec![],
            }),
        )
        .await
        .with_context(|| format!("adding a send-only {kind} transceiver"))?;
    Ok((track, transceiver))
}

/// Where a pacer writes, and what it needs to stamp packets correctly.
pub(crate) struct Outlet {
    pub(crate) track: Arc<TrackLocalStaticRTP>,
    pub(crate) transceiver: Arc<dyn RtpTransceiver>,
    pub(crate) ledger: Arc<PayloadLedger>,
}

/// Negotiated values a packet must carry.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stamp {
    pub(crate) payload_type: Option<u8>,
    pub(crate) mid: Option<Bytes>,
    pub(crate) mid_id: Option<u8>,
    pub(crate) rid_id: Option<u8>,
    pub(crate) audio_level_id: Option<u8>,
}

impl Outlet {
    async fn sender(&self) -> Option<Arc<dyn RtpSender>> {
        self.transceiver.sender().await.ok().flatten()
    }

    /// Reads the negotiated payload type and extension ids. The write path rejects packets
    /// whose PT or extension ids are not negotiated, and it does so silently, so guessing is
    /// not an option.
    pub(crate) async fn stamp(&self, mime: &str) -> Stamp {
        let mut stamp = Stamp::default();
        let Some(sender) = self.sender().await else {
            return stamp;
        };
        let Ok(params) = sender.get_parameters().await else {
            return stamp;
        };
        stamp.payload_type = params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
            .map(|c| c.payload_type);
        for ext in &params.rtp_parameters.header_extensions {
            let id = u8::try_from(ext.id).ok();
            match ext.uri.as_str() {
                SDES_MID_URI => stamp.mid_id = id,
                SDES_RTP_STREAM_ID_URI => stamp.rid_id = id,
                AUDIO_LEVEL_URI => stamp.audio_level_id = id,
                _ => {}
            }
        }
        stamp.mid = self
            .transceiver
            .mid()
            .await
            .ok()
            .flatten()
            .map(|m| Bytes::from(m.into_bytes()));
        stamp
    }

    async fn write(&self, kind: PayloadKind, layer: Option<&'static str>, pkt: rtp::Packet) {
        self.ledger.record(kind, &pkt.payload, layer);
        // `write_rtp` only fails when the track is not bound (e.g. during teardown); a packet
        // the connection refuses is logged by the crate, not returned.
        if let Err(err) = self.track.write_rtp(pkt).await {
            tracing::debug!("write_rtp: {err}");
        }
    }
}

pub(crate) fn set_ext(header: &mut rtp::Header, id: Option<u8>, value: &Bytes) {
    if let Some(id) = id
        && let Err(err) = header.set_extension(id, value.clone())
    {
        tracing::warn!("cannot set header extension {id}: {err}");
    }
}

/// Waits until `ready` is true; false if `stop` fired first.
pub(crate) async fn wait_ready(
    ready: &mut watch::Receiver<bool>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        r = ready.wait_for(|r| *r) => r.is_ok(),
        _ = stop.wait_for(|s| *s) => false,
    }
}

async fn pace_audio(
    out: Outlet,
    clip: Arc<AudioClip>,
    ssrc: u32,
    level: u8,
    mut ready: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    if !wait_ready(&mut ready, &mut stop).await {
        return;
    }
    let mut stamp = out.stamp(MIME_TYPE_OPUS).await;
    let mut refreshed = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(AUDIO_FRAME);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq: u16 = rand::random();
    let mut ts: u32 = rand::random();
    // Audio level extension: V flag set, level in -dBov (0 = loudest).
    let level_ext = Bytes::from(vec![0x80 | (level & 0x7f)]);
    for i in 0usize.. {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if refreshed.elapsed() >= PARAMS_REFRESH {
            stamp = out.stamp(MIME_TYPE_OPUS).await;
            refreshed = tokio::time::Instant::now();
        }
        let Some(pt) = stamp.payload_type else {
            continue;
        };
        let packet = &clip.packets[i % clip.packets.len()];
        let Ok(payload) = media::opus_payload(packet) else {
            continue;
        };
        let mut pkt = rtp::Packet {
            header: rtp::Header {
                version: 2,
                marker: i == 0,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                ..Default::default()
            },
            payload,
        };
        if let Some(mid) = &stamp.mid {
            set_ext(&mut pkt.header, stamp.mid_id, mid);
        }
        set_ext(&mut pkt.header, stamp.audio_level_id, &level_ext);
        out.write(PayloadKind::Opus, None, pkt).await;
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(AUDIO_SAMPLES_PER_FRAME);
    }
}

/// One simulcast layer (or the only layer) of a video track.
struct VideoLayer {
    rid: Option<&'static str>,
    ssrc: u32,
    clip: Arc<VideoClip>,
    payloader: Vp8Payloader,
    seq: u16,
    ts: u32,
}

async fn pace_video(
    out: Outlet,
    mut layers: Vec<VideoLayer>,
    mut ready: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    if !wait_ready(&mut ready, &mut stop).await {
        return;
    }
    let mut stamp = out.stamp(MIME_TYPE_VP8).await;
    let mut refreshed = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / VIDEO_FPS);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ts_step = VIDEO_CLOCK_RATE / VIDEO_FPS;
    for i in 0usize.. {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if refreshed.elapsed() >= PARAMS_REFRESH {
            stamp = out.stamp(MIME_TYPE_VP8).await;
            refreshed = tokio::time::Instant::now();
        }
        let Some(pt) = stamp.payload_type else {
            continue;
        };
        for layer in &mut layers {
            let frame = &layer.clip.frames[i % layer.clip.frames.len()];
            let payloads = match media::vp8_payloads(&mut layer.payloader, frame) {
                Ok(p) => p,
                Err(err) => {
                    tracing::warn!("{err}");
                    continue;
                }
            };
            let count = payloads.len();
            for (n, payload) in payloads.into_iter().enumerate() {
                let mut pkt = rtp::Packet {
                    header: rtp::Header {
                        version: 2,
                        marker: n + 1 == count,
                        payload_type: pt,
                        sequence_number: layer.seq,
                        timestamp: layer.ts,
                        ssrc: layer.ssrc,
                        ..Default::default()
                    },
                    payload,
                };
                if let Some(mid) = &stamp.mid {
                    set_ext(&mut pkt.header, stamp.mid_id, mid);
                }
                if let Some(rid) = layer.rid {
                    set_ext(
                        &mut pkt.header,
                        stamp.rid_id,
                        &Bytes::from_static(rid.as_bytes()),
                    );
                }
                out.write(PayloadKind::Vp8, layer.rid, pkt).await;
                layer.seq = layer.seq.wrapping_add(1);
            }
            layer.ts = layer.ts.wrapping_add(ts_step);
        }
    }
}
