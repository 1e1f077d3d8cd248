//! Server-initiated renegotiation: adding and removing the senders a subscriber gets, then
//! offering.

use std::collections::BTreeMap;
use std::time::Instant;

use super::Shard;
use crate::events::SfuEvent;
use crate::ids::MediaKind;
use crate::net::PeerKey;
use crate::peer::{self};

impl Shard {
    /// A publisher's transceiver changed its ICE credentials (ICE restart): route the new ones.
    pub(super) fn reroute_if_ufrag_changed(&mut self, index: usize, local_sdp: &str) {
        let p = &mut self.participants[index];
        if let Some(ufrag) = peer::sdp_ufrag(local_sdp) {
            if ufrag != p.ufrag {
                p.ufrag = ufrag.to_owned();
                let key = PeerKey {
                    index,
                    token: p.token,
                };
                self.ctx.router.route(p.ufrag.clone(), self.ctx.index, key);
            }
        }
    }

    /// Adds tracks and removes departed ones on the subscriber's connection, then offers.
    pub(super) fn negotiate(&mut self, index: usize, now: Instant) {
        let Some(p) = self.participants.get(index) else {
            return;
        };
        if !p.may_offer(now) {
            return;
        }
        let room_pubs = self.publications_around(index);
        let p = &mut self.participants[index];
        p.negotiation.needed = false;
        for sender in std::mem::take(&mut p.negotiation.removals) {
            if let Err(e) = p.pc.remove_track(sender) {
                tracing::debug!(error = %e, "removing a sender");
            }
        }
        for &k in &room_pubs {
            let Some(pubn) = self.publications.get_mut(k) else {
                continue;
            };
            let Some(slot) = pubn
                .subscriptions
                .iter()
                .position(|s| s.subscriber == index && s.sender_id.is_none())
            else {
                continue;
            };
            let track = outgoing_track(pubn, pubn.subscriptions[slot].out_ssrc);
            // A transceiver of its own, never one the client publishes on: the client's
            // offers and ours then never contend for the same m-line.
            let init = rtc::rtp_transceiver::RTCRtpTransceiverInit {
                direction: rtc::rtp_transceiver::RTCRtpTransceiverDirection::Sendonly,
                streams: vec![pubn.owner_id.to_string()],
                send_encodings: Vec::new(),
            };
            match p.pc.add_transceiver_from_track(track, Some(init)) {
                Ok(transceiver) => pubn.subscriptions[slot].sender_id = Some(transceiver.into()),
                Err(e) => tracing::warn!(error = %e, "cannot add a track for a subscriber"),
            }
        }
        let offer = match p.pc.create_offer(None) {
            Ok(offer) => offer,
            Err(e) => {
                tracing::warn!(error = %e, "cannot create an offer");
                return;
            }
        };
        if let Err(e) = p.pc.set_local_description(now, offer) {
            tracing::warn!(error = %e, "cannot apply our own offer");
            return;
        }
        let Some(local) = p.pc.local_description() else {
            return;
        };
        let mut tracks = BTreeMap::new();
        for &k in &room_pubs {
            let Some(pubn) = self.publications.get(k) else {
                continue;
            };
            for sub in pubn.subscriptions.iter().filter(|s| s.subscriber == index) {
                let Some(sender) = sub.sender_id else {
                    continue;
                };
                let transceiver: usize = sender.into();
                if let Some(t) = p.pc.rtp_transceiver(transceiver) {
                    if let Some(mid) = t.mid() {
                        tracks.insert(mid.clone(), pubn.id.clone());
                    }
                }
            }
        }
        p.negotiation.offer_outstanding = true;
        p.tell(SfuEvent::Offer {
            sdp: local.sdp,
            tracks,
        });
        self.drain(index);
    }
}

/// The track a subscriber's connection sends for a publication.
pub(super) fn outgoing_track(
    pubn: &super::publication::Publication,
    ssrc: u32,
) -> rtc::media_stream::MediaStreamTrack {
    use rtc::rtp_transceiver::rtp_sender::{
        RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
    };
    rtc::media_stream::MediaStreamTrack::new(
        pubn.owner_id.to_string(),
        pubn.id.to_string(),
        pubn.id.to_string(),
        match pubn.kind {
            MediaKind::Audio => RtpCodecKind::Audio,
            MediaKind::Video => RtpCodecKind::Video,
        },
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: pubn.codec_params.clone(),
            ..Default::default()
        }],
    )
}

/// One media section of a client's offer, as far as answering it needs.
pub(super) struct OfferedSection {
    /// Its `a=mid`.
    pub mid: Option<String>,
    /// Audio or video; `None` for anything else (data channels) and rejected sections.
    pub kind: Option<MediaKind>,
    /// Whether the client receives on it (`sendrecv`, the default, or `recvonly`).
    pub receives: bool,
    /// The encoding names of its `a=rtpmap` lines (`VP8`, `opus`, `rtx`, …).
    pub codecs: Vec<String>,
}

/// The media sections of an SDP, in order.
pub(super) fn offered_sections(sdp: &str) -> Vec<OfferedSection> {
    sdp.split("\nm=")
        .skip(1)
        .map(|section| {
            let mut words = section.split_whitespace();
            let media = words.next().unwrap_or_default();
            let port = words.next().unwrap_or_default();
            let kind = match media {
                _ if port == "0" => None,
                "audio" => Some(MediaKind::Audio),
                "video" => Some(MediaKind::Video),
                _ => None,
            };
            let mut offered = OfferedSection {
                mid: None,
                kind,
                receives: true,
                codecs: Vec::new(),
            };
            for line in section.lines().map(str::trim) {
                if let Some(mid) = line.strip_prefix("a=mid:") {
                    offered.mid = Some(mid.to_owned());
                } else if matches!(line, "a=sendonly" | "a=inactive") {
                    offered.receives = false;
                } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
                    if let Some(name) = map
                        .split_whitespace()
                        .nth(1)
                        .and_then(|e| e.split('/').next())
                    {
                        offered.codecs.push(name.to_owned());
                    }
                }
            }
            offered
        })
        .collect()
}
