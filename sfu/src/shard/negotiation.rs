//! Offer and answer with a participant that renegotiates: applying the client's offers and
//! answers, server-initiated renegotiation (adding and removing the senders a subscriber gets,
//! then offering), and reading what a client's SDP says.

use std::collections::BTreeMap;
use std::time::Instant;

use rtc::peer_connection::sdp::RTCSessionDescription;

use super::Shard;
use super::publication::MAX_LAYERS;
use crate::error::{Error, Result};
use crate::events::{SfuEvent, TrackDeclaration};
use crate::ids::{Layer, MediaKind};
use crate::net::PeerKey;
use crate::peer::{self};

impl Shard {
    pub(super) fn client_offer(
        &mut self,
        index: usize,
        sdp: String,
        tracks: Vec<TrackDeclaration>,
    ) -> Result<String> {
        let now = self.now;
        let p = &mut self.participants[index];
        if p.negotiation.offer_outstanding {
            return Err(Error::Glare);
        }
        if !p.can_publish && offer_sends_media(&sdp) {
            return Err(Error::Forbidden("this participant may not publish"));
        }
        let offered_layers = offered_layers(&sdp);
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| Error::BadSdp(e.to_string()))?;
        p.pc.set_remote_description(now, offer)
            .map_err(|e| Error::BadSdp(e.to_string()))?;
        p.publishing.offered_layers = offered_layers;
        let answer = p.pc.create_answer(None)?;
        p.pc.set_local_description(now, answer)?;
        let local =
            p.pc.local_description()
                .ok_or_else(|| Error::Engine("no local description after answering".into()))?;
        for declaration in tracks {
            p.publishing.declared.retain(|d| d.mid != declaration.mid);
            p.publishing.declared.push(declaration);
        }
        p.negotiation.complete(now);
        // A track the client no longer sends (its transceiver stopped, or turned recvonly)
        // is unpublished; the engine raises no event for it.
        let stopped: Vec<usize> = p
            .publishing
            .publications
            .iter()
            .copied()
            .filter(|&k| {
                self.publications.get(k).is_some_and(|pubn| {
                    let transceiver: usize = pubn.receiver_id.into();
                    p.pc.rtp_transceiver(transceiver)
                        .is_none_or(|t| !t.current_direction().has_recv())
                })
            })
            .collect();
        p.publishing.publications.retain(|k| !stopped.contains(k));
        for k in stopped {
            self.unpublish(k);
        }
        self.reroute_if_ufrag_changed(index, &local.sdp);
        self.drain(index);
        self.negotiate(index, now);
        Ok(local.sdp)
    }

    pub(super) fn client_answer(&mut self, index: usize, sdp: String) -> Result<()> {
        let now = self.now;
        let p = &mut self.participants[index];
        if !p.negotiation.offer_outstanding {
            return Err(Error::NoOfferOutstanding);
        }
        let answer =
            RTCSessionDescription::answer(sdp).map_err(|e| Error::BadSdp(e.to_string()))?;
        p.pc.set_remote_description(now, answer)
            .map_err(|e| Error::BadSdp(e.to_string()))?;
        p.negotiation.offer_outstanding = false;
        p.negotiation.complete(now);
        self.activate_subscriptions(index, now);
        self.drain(index);
        self.negotiate(index, now);
        Ok(())
    }

    /// A publisher's transceiver changed its ICE credentials (ICE restart): route the new ones.
    pub(super) fn reroute_if_ufrag_changed(&mut self, index: usize, local_sdp: &str) {
        let p = &mut self.participants[index];
        if let Some(ufrag) = peer::sdp_ufrag(local_sdp)
            && ufrag != p.ufrag
        {
            p.ufrag = ufrag.to_owned();
            let key = PeerKey {
                index,
                token: p.token,
            };
            self.ctx.router.route(p.ufrag.clone(), self.ctx.index, key);
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
                if let Some(t) = p.pc.rtp_transceiver(transceiver)
                    && let Some(mid) = t.mid()
                {
                    tracks.insert(mid.clone(), pubn.id.clone());
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
pub(crate) struct OfferedSection {
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
pub(crate) fn offered_sections(sdp: &str) -> Vec<OfferedSection> {
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
                } else if let Some(map) = line.strip_prefix("a=rtpmap:")
                    && let Some(name) = map
                        .split_whitespace()
                        .nth(1)
                        .and_then(|e| e.split('/').next())
                {
                    offered.codecs.push(name.to_owned());
                }
            }
            offered
        })
        .collect()
}

/// Whether an SDP offer has any audio or video section the client sends on.
fn offer_sends_media(sdp: &str) -> bool {
    sdp.split("\nm=").skip(1).any(|section| {
        let is_media = section.starts_with("audio") || section.starts_with("video");
        // Without a direction attribute a section is sendrecv.
        is_media
            && !section
                .lines()
                .any(|l| matches!(l.trim(), "a=recvonly" | "a=inactive"))
    })
}

/// The simulcast layers each media section of an offer sends (its `a=rid:<rid> send` lines),
/// by `mid`; sections without simulcast are left out.
fn offered_layers(sdp: &str) -> Vec<(String, [bool; MAX_LAYERS])> {
    sdp.split("\nm=")
        .skip(1)
        .filter_map(|section| {
            let mut mid = None;
            let mut layers = [false; MAX_LAYERS];
            for line in section.lines().map(str::trim) {
                if let Some(m) = line.strip_prefix("a=mid:") {
                    mid = Some(m.to_owned());
                } else if let Some(rid) = line.strip_prefix("a=rid:") {
                    let mut words = rid.split_whitespace();
                    let (Some(rid), Some("send")) = (words.next(), words.next()) else {
                        continue;
                    };
                    if let Some(slot) =
                        Layer::from_rid(rid).and_then(|l| layers.get_mut(usize::from(l.0)))
                    {
                        *slot = true;
                    }
                }
            }
            layers.contains(&true).then_some((mid?, layers))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layers_an_offer_sends_are_read_by_mid() {
        let sdp = "v=0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\n\
            a=rid:h send\r\na=rid:f send\r\na=simulcast:send h;f\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=recvonly\r\na=rid:q recv\r\n";
        assert_eq!(
            offered_layers(sdp),
            vec![("1".to_owned(), [false, true, true])]
        );
    }

    #[test]
    fn an_offers_sections_say_what_the_viewer_receives_and_in_which_codecs() {
        let sdp = "v=0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\na=mid:0\r\n\
            a=rtpmap:111 opus/48000/2\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 102 103\r\na=mid:1\r\n\
            a=rtpmap:102 H264/90000\r\na=rtpmap:103 rtx/90000\r\n\
            m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=recvonly\r\n\
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:3\r\n";
        let sections = offered_sections(sdp);
        let seen: Vec<_> = sections
            .iter()
            .map(|s| (s.mid.as_deref(), s.kind, s.receives, s.codecs.join(" ")))
            .collect();
        assert_eq!(
            seen,
            vec![
                (Some("0"), Some(MediaKind::Audio), false, "opus".to_owned()),
                (
                    Some("1"),
                    Some(MediaKind::Video),
                    true,
                    "H264 rtx".to_owned()
                ),
                // A rejected section (port 0) is no media at all.
                (Some("2"), None, true, String::new()),
                (Some("3"), None, true, String::new()),
            ]
        );
    }
}
