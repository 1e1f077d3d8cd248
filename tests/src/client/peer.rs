//! Building the client's peer connection and turning its callbacks into channel messages.

use super::receive;
use super::state::Shared;
use anyhow::{Context, Result};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpHeaderExtensionCapability, RtpCodecKind};
use rtc::sdp::extmap::{AUDIO_LEVEL_URI, SDES_MID_URI};
use std::sync::{Arc, OnceLock, Weak};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceGatheringState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, Registry, SettingEngineBuilder, register_default_interceptors,
};

/// Callbacks of the peer connection. They run on the connection's driver task, so they only
/// forward: candidates to the signaling task, state to a watch, tracks to a new reader task.
struct Handler {
    shared: Arc<Shared>,
    candidates: mpsc::UnboundedSender<RTCIceCandidateInit>,
    state: watch::Sender<RTCPeerConnectionState>,
    /// ICE gathering state, for non-trickle offers (WHIP/WHEP) that wait for `Complete`.
    gathering: watch::Sender<RTCIceGatheringState>,
    /// Set right after the connection is built; weak so the handler does not keep it alive.
    pc: OnceLock<Weak<dyn PeerConnection>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => {
                let _ = self.candidates.send(init);
            }
            Err(err) => self
                .shared
                .local_error(format!("cannot serialize a local candidate: {err}")),
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.gathering.send_replace(state);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!("peer connection state: {state}");
        self.state.send_replace(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        // `None` only before `build` returned, when no media can have arrived yet; the reader
        // then reports the missing mid.
        let pc = self.pc.get().cloned();
        tokio::spawn(receive::run(track, pc, Arc::clone(&self.shared)));
    }
}

/// A built peer connection and the streams its callbacks feed.
pub(crate) struct Peer {
    pub pc: Arc<dyn PeerConnection>,
    pub candidates: mpsc::UnboundedReceiver<RTCIceCandidateInit>,
    pub state: watch::Receiver<RTCPeerConnectionState>,
    /// ICE gathering state.
    pub gathering: watch::Receiver<RTCIceGatheringState>,
}

/// Builds a peer connection as a browser-like client: default codecs and interceptors, the
/// audio-level and mid extensions on audio too (browsers send both; an SFU ranks speakers by
/// audio level), no mDNS, and sockets on loopback only: UDP, or TCP alone when `tcp_only`.
pub(crate) async fn build(shared: Arc<Shared>, tcp_only: bool) -> Result<Peer> {
    let mut media_engine = MediaEngine::default();
    media_engine
        .register_default_codecs()
        .context("registering default codecs")?;
    for uri in [SDES_MID_URI, AUDIO_LEVEL_URI] {
        media_engine
            .register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: uri.to_owned(),
                },
                RtpCodecKind::Audio,
                None,
            )
            .with_context(|| format!("registering {uri} for audio"))?;
    }
    let registry = register_default_interceptors(Registry::new(), &mut media_engine)
        .context("registering default interceptors")?;
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .build();

    let (candidates_tx, candidates) = mpsc::unbounded_channel();
    let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
    let (gathering_tx, gathering) = watch::channel(RTCIceGatheringState::New);
    let handler = Arc::new(Handler {
        shared,
        candidates: candidates_tx,
        state: state_tx,
        gathering: gathering_tx,
        pc: OnceLock::new(),
    });
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media_engine)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .with_handler(Arc::clone(&handler) as Arc<dyn PeerConnectionEventHandler>)
        .with_udp_addrs(if tcp_only {
            Vec::new()
        } else {
            vec!["127.0.0.1:0".to_string()]
        })
        .with_tcp_addrs(if tcp_only {
            vec!["127.0.0.1:0".to_string()]
        } else {
            Vec::new()
        })
        .build()
        .await
        .context("building the peer connection")?;
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    let _ = handler.pc.set(Arc::downgrade(&pc));
    Ok(Peer {
        pc,
        candidates,
        state,
        gathering,
    })
}
