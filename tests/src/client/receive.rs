//! Receiving: one task per remote track, counting every RTP packet against the publication the
//! server says the track's mid carries.

use super::state::Shared;
use crate::payload::PayloadKind;
use std::sync::{Arc, Weak};
use std::time::Duration;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::PeerConnection;

/// How long to look for the transceiver of a new remote track before giving up on its mid.
const MID_LOOKUP_ATTEMPTS: u32 = 40;

/// Reads a remote track until it ends, recording its packets in `shared`.
pub(crate) async fn run(
    track: Arc<dyn TrackRemote>,
    pc: Option<Weak<dyn PeerConnection>>,
    shared: Arc<Shared>,
) {
    let found = match &pc {
        Some(pc) => find_mid(&track, pc).await,
        None => None,
    };
    let mid = match found {
        Some(mid) => mid,
        None => {
            shared.local_error(format!(
                "a remote track ({}) arrived on no transceiver with a mid",
                track.track_id().await
            ));
            // Still drain it, so the connection's queue for this track does not fill up.
            String::from("?")
        }
    };
    let mut kind = match track.kind().await {
        rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio => PayloadKind::Opus,
        _ => PayloadKind::Vp8,
    };
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnOpen(init) => {
                // Trust the negotiated codec over the track kind when it is known.
                if let Some(codec) = track.codec(init.ssrc).await {
                    let mime = codec.mime_type.to_ascii_lowercase();
                    if mime.ends_with("/vp8") {
                        kind = PayloadKind::Vp8;
                    } else if mime.ends_with("/opus") {
                        kind = PayloadKind::Opus;
                    } else {
                        shared.local_error(format!(
                            "mid {mid}: received codec {} which the test client does not check",
                            codec.mime_type
                        ));
                    }
                }
            }
            TrackRemoteEvent::OnRtpPacket(pkt) => shared.record_rtp(&mid, kind, &pkt),
            TrackRemoteEvent::OnEnded => break,
            _ => {}
        }
    }
}

/// Finds the mid of the transceiver whose receiver owns `track`.
///
/// The crate does not put the mid on the track, but it installs the receiver on its
/// transceiver before `on_track` fires; we retry briefly in case that races.
async fn find_mid(track: &Arc<dyn TrackRemote>, pc: &Weak<dyn PeerConnection>) -> Option<String> {
    // Compared as an address (not a raw pointer, which is not `Send` across the awaits).
    let wanted = Arc::as_ptr(track) as *const () as usize;
    for _ in 0..MID_LOOKUP_ATTEMPTS {
        let pc = pc.upgrade()?;
        for transceiver in pc.get_transceivers().await {
            let Ok(Some(receiver)) = transceiver.receiver().await else {
                continue;
            };
            if Arc::as_ptr(receiver.track()) as *const () as usize == wanted
                && let Ok(Some(mid)) = transceiver.mid().await
            {
                return Some(mid);
            }
        }
        drop(pc);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}
