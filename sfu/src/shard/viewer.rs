//! Viewers that cannot renegotiate (WHEP players): what they watch is bound once, to the
//! media sections of their one offer, in our one answer.

use rtc::peer_connection::sdp::RTCSessionDescription;

use super::Shard;
use super::negotiation::{OfferedSection, offered_sections, outgoing_track};
use crate::error::{Error, Result};
use crate::ids::{MediaKind, ParticipantId};

/// What a viewer that gives no size gets: the best layer there is.
const VIEWER_SIZE: (u32, u32) = (3840, 2160);

impl Shard {
    /// A receive-only client that cannot renegotiate (a WHEP player): the tracks it will
    /// ever get are bound to the media sections of its one offer, in our one answer.
    pub(super) fn viewer_offer(
        &mut self,
        index: usize,
        sdp: String,
        watch: Option<ParticipantId>,
    ) -> Result<String> {
        let now = self.now;
        let room = self.participants[index].room.clone();
        let candidates: Vec<usize> = self
            .rooms
            .get(&room)
            .map(|r| r.publications.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|&k| {
                self.publications.get(k).is_some_and(|p| {
                    p.owner != index
                        && self.space_of(p.owner) == self.space_of(index)
                        && watch.as_ref().is_none_or(|w| &p.owner_id == w)
                })
            })
            .collect();
        // The first publisher's audio and video (or the named participant's).
        let owner = candidates
            .first()
            .and_then(|&k| self.publications.get(k))
            .map(|p| p.owner);
        let mut chosen = Vec::new();
        for kind in [MediaKind::Audio, MediaKind::Video] {
            if let Some(&k) = candidates.iter().find(|&&k| {
                self.publications
                    .get(k)
                    .is_some_and(|p| Some(p.owner) == owner && p.kind == kind)
            }) {
                chosen.push(k);
            }
        }
        if chosen.is_empty() {
            return Err(Error::NothingToWatch);
        }
        let sections = offered_sections(&sdp);
        // Only what the viewer can receive and decode is bound; a kind it does not ask for
        // is left out, and one it asks for in codecs the publisher does not send is refused
        // (we forward, we do not transcode).
        let mut bound = Vec::with_capacity(chosen.len());
        for &k in &chosen {
            let pubn = &self.publications[k];
            let receiving: Vec<&OfferedSection> = sections
                .iter()
                .filter(|s| s.kind == Some(pubn.kind) && s.receives)
                .collect();
            if receiving.is_empty() {
                continue;
            }
            let codec = pubn
                .codec_params
                .mime_type
                .rsplit('/')
                .next()
                .unwrap_or_default();
            let accepted = codec.is_empty()
                || receiving
                    .iter()
                    .any(|s| s.codecs.iter().any(|c| c.eq_ignore_ascii_case(codec)));
            if !accepted {
                let offered: Vec<&str> = receiving
                    .iter()
                    .flat_map(|s| s.codecs.iter().map(String::as_str))
                    .collect();
                let kind = match pubn.kind {
                    MediaKind::Audio => "audio",
                    MediaKind::Video => "video",
                };
                return Err(Error::CodecMismatch(format!(
                    "the {kind} is sent as {codec}, and the offer receives {kind} only as {}",
                    offered.join(", ")
                )));
            }
            bound.push(k);
        }
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| Error::BadSdp(e.to_string()))?;
        let p = &mut self.participants[index];
        p.pc.set_remote_description(now, offer)
            .map_err(|e| Error::BadSdp(e.to_string()))?;
        for &k in &bound {
            let pubn = &mut self.publications[k];
            let out_ssrc = rand::random::<u32>();
            let track = outgoing_track(pubn, out_ssrc);
            // add_track binds to the viewer's own receive-only section of this kind
            // (JSEP: a transceiver created by the remote offer that has not sent yet).
            let sender = p.pc.add_track(track)?;
            let target = pubn.choose_layer(Some(VIEWER_SIZE), now, true);
            pubn.subscriptions.push(super::publication::Subscription {
                subscriber: index,
                sender_id: Some(sender),
                out_ssrc,
                out_payload_type: 0,
                active: false,
                forwarder: crate::forward::Forwarder::new(pubn.codec, target),
                wanted_size: Some(VIEWER_SIZE),
                cap: super::publication::Cap::Unlimited,
                packets: 0,
                bytes: 0,
            });
        }
        // A viewer only receives (RFC 3264): we send on the sections it receives on and take
        // nothing from it, so a section it sends on is inactive. The engine leaves a section
        // the offer creates recvonly, and add_track turns it sendrecv.
        let receives_by_mid: Vec<(&str, bool)> = sections
            .iter()
            .filter_map(|s| Some((s.mid.as_deref()?, s.receives)))
            .collect();
        let ids: Vec<_> = p.pc.get_transceivers().collect();
        for id in ids {
            let Some(mut t) = p.pc.rtp_transceiver(id) else {
                continue;
            };
            let receives = t.mid().as_deref().is_some_and(|mid| {
                receives_by_mid
                    .iter()
                    .any(|&(m, receives)| m == mid && receives)
            });
            t.set_direction(if receives && t.sender().is_some() {
                rtc::rtp_transceiver::RTCRtpTransceiverDirection::Sendonly
            } else {
                rtc::rtp_transceiver::RTCRtpTransceiverDirection::Inactive
            });
        }
        let answer = p.pc.create_answer(None)?;
        p.pc.set_local_description(now, answer)?;
        let local =
            p.pc.local_description()
                .ok_or_else(|| Error::Engine("no local description after answering".into()))?;
        p.negotiation.complete(now);
        self.activate_subscriptions(index, now);
        self.drain(index);
        Ok(local.sdp)
    }
}
