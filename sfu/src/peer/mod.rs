//! Building one participant's peer connection on the sans-I/O `rtc` engine: the codecs and
//! header extensions we accept, the interceptors that answer NACKs and report to publishers,
//! ICE-lite with credentials we choose (so the demultiplexer can route by ufrag), and our own
//! host candidates (so NAT 1:1 is just a different address in them).

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rtc::interceptor::{
    CongestionControlBuilder, Gcc, NackGeneratorBuilder, NackResponderBuilder, Registry, Slot,
    TwccSenderBuilder,
};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCDtlsRole, RTCIceCandidate,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};

use rtc::ice::tcp_type::TcpType;

use crate::error::{Error, Result};
use crate::health::LinkMeter;

mod interceptors;

pub(crate) use interceptors::{Adopted, EchoedLoss, SeenSenderReport};
use interceptors::{ApplicationTap, Hooked, LossEcho};

/// RFC 6464 client-to-mixer audio level; drives active-speaker detection.
pub(crate) const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
const TRANSPORT_CC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
const REPAIRED_RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";

/// The header extensions we negotiate, numbered as Chromium (and Safari, the same engine)
/// numbers them in its own offers: `(id, URI, kinds)`; the ids in between are Chromium's for
/// extensions we do not use, kept free.
///
/// Why: when we offer first (a participant who had not offered yet), `rtc` numbers our
/// extensions in the order they were registered. The browser adopts our numbers, and the
/// m-lines it adds later for its own camera and microphone take its own numbers: with sdes:mid
/// as our id 2, Chromium's abs-send-time (its id 2) collided in the BUNDLE group, and every
/// later offer of that browser failed ("codec collision for header extension id=2"), so its
/// media never went out. Once the browser has offered, `rtc` answers and offers with the
/// browser's own numbers, whatever these are.
pub(crate) const HEADER_EXTENSIONS: [(u16, &str, &[RtpCodecKind]); 5] = [
    (1, AUDIO_LEVEL_URI, &[RtpCodecKind::Audio]),
    (
        3,
        TRANSPORT_CC_URI,
        &[RtpCodecKind::Audio, RtpCodecKind::Video],
    ),
    (4, MID_URI, &[RtpCodecKind::Video]),
    (10, RID_URI, &[RtpCodecKind::Video]),
    (11, REPAIRED_RID_URI, &[RtpCodecKind::Video]),
];

/// Registers [`HEADER_EXTENSIONS`] so that `rtc`, which numbers extensions 1, 2, … in the
/// order they were registered, gives each its id: a placeholder registered for no media kind
/// takes each id in between and never appears in a description.
fn register_header_extensions(media: &mut MediaEngine) -> Result<()> {
    let mut next = 1;
    for (id, uri, kinds) in HEADER_EXTENSIONS {
        while next < id {
            media.register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: format!("urn:accord:unused-header-extension-id:{next}"),
                },
                RtpCodecKind::Unspecified,
                None,
            )?;
            next += 1;
        }
        for &kind in kinds {
            media.register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: uri.to_owned(),
                },
                kind,
                None,
            )?;
        }
        next = id + 1;
    }
    Ok(())
}

/// What a new peer connection needs to know about us.
pub(crate) struct PeerSetup<'a> {
    /// Our ICE username fragment; the demultiplexer routes binding requests by it.
    pub ufrag: &'a str,
    /// Our ICE password.
    pub pwd: &'a str,
    /// Host candidates to announce (one per announced address, all on the one media port).
    pub candidates: &'a [SocketAddr],
    /// Passive ICE-TCP candidates (RFC 6544), for clients whose network blocks UDP.
    pub tcp_candidates: &'a [SocketAddr],
    /// Where the send-side bandwidth estimate toward this participant is published (bits
    /// per second; 0 until the first estimate).
    pub estimate: Arc<AtomicU64>,
    /// Incoming media the SFU takes straight from the interceptor chain (see [`Adopted`]).
    pub adopted: Arc<Mutex<Adopted>>,
    /// Counters shared by the whole SFU.
    pub stats: Arc<crate::stats::SfuStats>,
    /// Where this connection's loss, round-trip time and bitrates are counted.
    pub link: Arc<Mutex<LinkMeter>>,
    /// The loss its subscribers suffer, to report to it as a publisher (see [`LossEcho`]).
    pub loss_echo: Arc<Mutex<EchoedLoss>>,
}

/// Where the send-side estimate starts before any feedback: high enough that a subscriber
/// on a good network gets the layer it renders at once; GCC lowers it within a second or
/// two of congestion or loss.
const INITIAL_ESTIMATE_BPS: f64 = 3_000_000.0;
const MIN_ESTIMATE_BPS: f64 = 50_000.0;
const MAX_ESTIMATE_BPS: f64 = 50_000_000.0;

/// How often a packet lost on its way from a publisher is asked for again (one NACK round
/// every 100 ms). Unbounded, as `rtc` has it by default, every packet lost in an outage of a
/// second or more is asked for ten times a second for as long as it stays in the 512-packet
/// window; a simulcast layer the publisher paused meanwhile never moves the window on, and
/// its retransmissions crowd out the fresh video (after a 3 s outage a phone's encoder was
/// starved for over ten seconds). After such a gap subscribers need a keyframe, not old packets.
const NACKS_PER_LOST_PACKET: u16 = 5;
/// Only the newest packets are asked for again: ~0.5 s of a phone's video layer.
const NACK_WINDOW_PACKETS: u16 = 64;

/// Builds a peer connection that is ready for a remote offer or for an offer of our own.
pub(crate) fn build(setup: &PeerSetup<'_>, now: Instant) -> Result<RTCPeerConnection> {
    let mut media = MediaEngine::default();
    register_codecs(&mut media)?;
    register_header_extensions(&mut media)?;
    // The video codecs carry the `nack` feedback themselves (`register_codecs`).
    let registry = Registry::new()
        .with(Slot::NackResponder, NackResponderBuilder::new().build())
        .with(
            Slot::NackGenerator,
            NackGeneratorBuilder::new()
                .with_size(NACK_WINDOW_PACKETS)
                .with_max_nacks_per_packet(NACKS_PER_LOST_PACKET)
                .build(),
        );
    let registry = configure_rtcp_reports(registry);
    let registry = configure_twcc_receiver_only(registry, &mut media)?;
    // Send-side congestion control toward subscribers from their TWCC feedback: the estimate
    // chooses simulcast layers. No pacer: forwarding is already paced by the publishers, and
    // a pacer's queue would add latency to every hop.
    let registry = registry
        .with(
            Slot::CongestionControl,
            CongestionControlBuilder::new(Gcc::new(
                INITIAL_ESTIMATE_BPS,
                MIN_ESTIMATE_BPS,
                MAX_ESTIMATE_BPS,
            ))
            .build(),
        )
        .with(Slot::TwccSender, TwccSenderBuilder::new().build());
    // Wire-ward of the receiver-report generator, so the reports it writes pass through.
    let registry = registry.with(
        Slot::from(9_500),
        Hooked::new(LossEcho {
            echo: setup.loss_echo.clone(),
        }),
    );
    let registry = registry.with(
        Slot::from(14_000),
        Hooked::new(ApplicationTap {
            estimate: setup.estimate.clone(),
            adopted: setup.adopted.clone(),
            stats: setup.stats.clone(),
            link: setup.link.clone(),
        }),
    );

    let settings = SettingEngineBuilder::new()
        .with_lite(true)
        .with_answering_dtls_role(RTCDtlsRole::Server)
        .with_ice_credentials(setup.ufrag.to_owned(), setup.pwd.to_owned())
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .build();

    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .build(now)?;

    let udp = setup
        .candidates
        .iter()
        .map(|a| ("udp", TcpType::Unspecified, a));
    let tcp = setup
        .tcp_candidates
        .iter()
        .map(|a| ("tcp", TcpType::Passive, a));
    for (network, tcp_type, addr) in udp.chain(tcp) {
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: network.to_owned(),
                address: addr.ip().to_string(),
                port: addr.port(),
                component: 1,
                ..Default::default()
            },
            tcp_type,
        }
        .new_candidate_host()
        .map_err(|e| Error::Config(format!("announced address {network} {addr}: {e}")))?;
        pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json()?)?;
    }
    Ok(pc)
}

/// Opus, VP8 and H.264, without RTX.
///
/// Why no RTX: `rtc` 0.21 cannot bind RTX packets that carry a repaired-rid (how browsers
/// send retransmissions of simulcast layers; webrtc-rs/rtc#12), so they would be dropped.
/// Without RTX negotiated, browsers and our NACK responder retransmit on the original SSRC,
/// which every part of the chain handles.
fn register_codecs(media: &mut MediaEngine) -> Result<()> {
    let video_feedback = vec![
        RTCPFeedback {
            typ: "ccm".to_owned(),
            parameter: "fir".to_owned(),
        },
        RTCPFeedback {
            typ: "nack".to_owned(),
            parameter: String::new(),
        },
        RTCPFeedback {
            typ: "nack".to_owned(),
            parameter: "pli".to_owned(),
        },
    ];
    media.register_codec(opus(111), RtpCodecKind::Audio)?;
    let video = [
        (96, MIME_TYPE_VP8, ""),
        (
            102,
            MIME_TYPE_H264,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        ),
        (
            104,
            MIME_TYPE_H264,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
        ),
    ];
    for (payload_type, mime, fmtp) in video {
        media.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: mime.to_owned(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: fmtp.to_owned(),
                    rtcp_feedback: video_feedback.clone(),
                },
                payload_type,
            },
            RtpCodecKind::Video,
        )?;
    }
    Ok(())
}

/// Opus as browsers send it (stereo-capable, in-band FEC), under `payload_type`.
pub(crate) fn opus(payload_type: u8) -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type,
    }
}

/// Our ICE username fragment in an SDP we produced (it changes on ICE restart).
pub(crate) fn sdp_ufrag(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

    /// `(kind, id, URI)` of every extmap line in an SDP, in order.
    fn extmaps(sdp: &str) -> Vec<(String, u16, String)> {
        let mut kind = String::new();
        let mut out = Vec::new();
        for line in sdp.lines() {
            if let Some(m) = line.strip_prefix("m=") {
                kind = m.split(' ').next().unwrap_or_default().to_owned();
            } else if let Some(ext) = line.strip_prefix("a=extmap:") {
                let mut parts = ext.split(' ');
                let id = parts.next().unwrap_or_default();
                let id = id
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .parse()
                    .unwrap_or(0);
                out.push((
                    kind.clone(),
                    id,
                    parts.next().unwrap_or_default().to_owned(),
                ));
            }
        }
        out
    }

    /// Chromium 156's own offer (audio and a simulcast camera), as dumped from
    /// /usr/bin/chromium: the id it gives each URI we use.
    const CHROMIUM_IDS: [(u16, &str); 5] = [
        (1, AUDIO_LEVEL_URI),
        (3, TRANSPORT_CC_URI),
        (4, MID_URI),
        (10, RID_URI),
        (11, REPAIRED_RID_URI),
    ];

    #[test]
    fn our_first_offer_numbers_header_extensions_as_chromium_does() {
        let setup = PeerSetup {
            ufrag: "ufragufragufrag1",
            pwd: "passwordpasswordpassword",
            candidates: &[],
            tcp_candidates: &[],
            estimate: Arc::default(),
            adopted: Arc::default(),
            stats: Arc::default(),
            link: Arc::default(),
            loss_echo: Arc::default(),
        };
        let now = Instant::now();
        let mut pc = build(&setup, now).expect("a peer connection");
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            pc.add_transceiver_from_kind(
                kind,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    streams: Vec::new(),
                    send_encodings: Vec::new(),
                }),
            )
            .expect("a transceiver");
        }
        let offer = pc.create_offer(None).expect("an offer");
        let offered = extmaps(&offer.sdp);
        assert!(!offered.is_empty(), "no extensions offered:\n{}", offer.sdp);
        for (kind, id, uri) in &offered {
            let chromium = CHROMIUM_IDS.iter().find(|(_, u)| u == uri);
            assert_eq!(
                chromium.map(|(id, _)| *id),
                Some(*id),
                "{kind} {uri} offered as id {id}"
            );
        }
        for uri in [AUDIO_LEVEL_URI, TRANSPORT_CC_URI] {
            assert!(
                offered.iter().any(|(k, _, u)| k == "audio" && u == uri),
                "audio lacks {uri}"
            );
        }
        for uri in [TRANSPORT_CC_URI, MID_URI, RID_URI, REPAIRED_RID_URI] {
            assert!(
                offered.iter().any(|(k, _, u)| k == "video" && u == uri),
                "video lacks {uri}"
            );
        }
    }
}
