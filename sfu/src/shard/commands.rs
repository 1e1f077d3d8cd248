//! What signaling asks of a shard: join, offers and answers, candidates, track settings,
//! mute, leave.

use std::time::Instant;

use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use tokio::sync::{mpsc::Sender, oneshot};

use super::Shard;
use super::negotiation::{OfferedSection, offered_sections, outgoing_track};
use super::participant::{FIRST_OFFER_GRACE, Negotiation, Participant};
use super::publication::MAX_LAYERS;
use crate::error::{Error, Result};
use crate::events::{
    IceCandidate, JoinRequest, SfuEvent, SubscriberReport, TrackDeclaration, TrackInfo,
};
use crate::ids::{Layer, MediaKind, ParticipantId, RoomId, Space, TrackId, TrackSource};
use crate::net::PeerKey;
use crate::peer::{self, PeerSetup};

/// A request from signaling to the shard that owns the participant's room.
pub(crate) enum Command {
    Join {
        request: JoinRequest,
        events: Sender<SfuEvent>,
        reply: oneshot::Sender<Result<(PeerKey, Vec<TrackInfo>)>>,
    },
    Offer {
        key: PeerKey,
        sdp: String,
        tracks: Vec<TrackDeclaration>,
        reply: oneshot::Sender<Result<String>>,
    },
    Answer {
        key: PeerKey,
        sdp: String,
        reply: oneshot::Sender<Result<()>>,
    },
    ViewerOffer {
        key: PeerKey,
        sdp: String,
        watch: Option<ParticipantId>,
        reply: oneshot::Sender<Result<String>>,
    },
    Candidate {
        key: PeerKey,
        candidate: IceCandidate,
        reply: oneshot::Sender<Result<()>>,
    },
    TrackSettings {
        key: PeerKey,
        track: TrackId,
        size: (u32, u32),
        reply: oneshot::Sender<Result<()>>,
    },
    Mute {
        key: PeerKey,
        source: TrackSource,
        muted: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    Pause {
        key: PeerKey,
        paused: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    SaveData {
        key: PeerKey,
        enabled: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    RoomTracks {
        key: PeerKey,
        reply: oneshot::Sender<Result<Vec<TrackInfo>>>,
    },
    Move {
        key: PeerKey,
        space: Space,
        reply: oneshot::Sender<Result<()>>,
    },
    Hold {
        key: PeerKey,
        source: TrackSource,
        held: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    Report {
        room: RoomId,
        reply: oneshot::Sender<Vec<SubscriberReport>>,
    },
    Leave {
        key: PeerKey,
    },
    Shutdown,
}

impl Command {
    /// The participant a command concerns, for eviction if handling it panics.
    pub(super) fn participant_index(&self) -> Option<usize> {
        match self {
            Command::Offer { key, .. }
            | Command::Answer { key, .. }
            | Command::ViewerOffer { key, .. }
            | Command::Candidate { key, .. }
            | Command::TrackSettings { key, .. }
            | Command::Mute { key, .. }
            | Command::Pause { key, .. }
            | Command::SaveData { key, .. }
            | Command::RoomTracks { key, .. }
            | Command::Move { key, .. }
            | Command::Hold { key, .. }
            | Command::Leave { key } => Some(key.index),
            Command::Join { .. } | Command::Report { .. } | Command::Shutdown => None,
        }
    }
}

impl Shard {
    pub(super) fn handle_command(&mut self, command: Command) {
        match command {
            Command::Join {
                request,
                events,
                reply,
            } => {
                let _ = reply.send(self.join(request, events));
            }
            Command::Offer {
                key,
                sdp,
                tracks,
                reply,
            } => {
                let _ = reply.send(self.client_offer(key, sdp, tracks));
            }
            Command::Answer { key, sdp, reply } => {
                let _ = reply.send(self.client_answer(key, sdp));
            }
            Command::ViewerOffer {
                key,
                sdp,
                watch,
                reply,
            } => {
                let _ = reply.send(self.viewer_offer(key, sdp, watch));
            }
            Command::Candidate {
                key,
                candidate,
                reply,
            } => {
                let _ = reply.send(self.add_candidate(key, candidate));
            }
            Command::TrackSettings {
                key,
                track,
                size,
                reply,
            } => {
                let _ = reply.send(self.track_settings(key, &track, size));
            }
            Command::Mute {
                key,
                source,
                muted,
                reply,
            } => {
                let _ = reply.send(self.mute(key, source, muted));
            }
            Command::Pause { key, paused, reply } => {
                let _ = reply.send(self.pause(key, paused));
            }
            Command::SaveData {
                key,
                enabled,
                reply,
            } => {
                let _ = reply.send(self.save_data(key, enabled));
            }
            Command::RoomTracks { key, reply } => {
                let _ = reply.send(self.room_tracks(key));
            }
            Command::Move { key, space, reply } => {
                let _ = reply.send(self.move_to(key, space));
            }
            Command::Hold {
                key,
                source,
                held,
                reply,
            } => {
                let _ = reply.send(self.hold(key, source, held));
            }
            Command::Report { room, reply } => {
                let _ = reply.send(self.report(&room));
            }
            Command::Leave { key } => {
                if self.live(key).is_ok() {
                    self.remove_participant(key.index);
                }
            }
            Command::Shutdown => {}
        }
    }

    pub(super) fn live(&self, key: PeerKey) -> Result<usize> {
        match self.participants.get(key.index) {
            Some(p) if p.token == key.token => Ok(key.index),
            _ => Err(Error::ParticipantGone),
        }
    }

    fn join(
        &mut self,
        request: JoinRequest,
        events: Sender<SfuEvent>,
    ) -> Result<(PeerKey, Vec<TrackInfo>)> {
        let now = Instant::now();
        let ufrag = crate::random_token(16);
        let pwd = crate::random_token(32);
        let estimate = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let adopted = std::sync::Arc::new(std::sync::Mutex::new(peer::Adopted::default()));
        let link = std::sync::Arc::default();
        let loss_echo = std::sync::Arc::default();
        let pc = peer::build(
            &PeerSetup {
                ufrag: &ufrag,
                pwd: &pwd,
                candidates: &self.ctx.candidates,
                tcp_candidates: &self.ctx.tcp_candidates,
                estimate: estimate.clone(),
                adopted: adopted.clone(),
                stats: self.ctx.stats.clone(),
                link: std::sync::Arc::clone(&link),
                loss_echo: std::sync::Arc::clone(&loss_echo),
            },
            now,
        )?;
        let token = self.allocate_token();
        let key = self.participants.insert(Participant {
            id: request.participant,
            token,
            room: request.room.clone(),
            space: request.space,
            received_before: Vec::new(),
            pc,
            events,
            can_publish: request.can_publish,
            can_subscribe: request.can_subscribe,
            ufrag: ufrag.clone(),
            joined_at: now,
            connected_at: None,
            last_rx: now,
            path: None,
            elsewhere_at: None,
            restart_asked: None,
            lost: false,
            paused: false,
            unpaused_at: None,
            next_timeout: None,
            declared: Vec::new(),
            offered_layers: Vec::new(),
            inbound: Vec::new(),
            publications: Vec::new(),
            negotiation: Negotiation {
                // Someone who may not publish never offers first: offer to them at once.
                not_before: request.can_publish.then_some(now + FIRST_OFFER_GRACE),
                ..Negotiation::default()
            },
            estimate,
            adopted,
            link,
            downlink_loss: 0.0,
            loss_echo,
            video: Default::default(),
            tcp: Vec::new(),
        });
        let peer_key = PeerKey { index: key, token };
        self.ctx.router.route(ufrag, self.ctx.index, peer_key);
        let room = self.rooms.entry(request.room).or_default();
        if room.participants.is_empty() {
            self.ctx.stats.rooms_changed(1);
        }
        room.participants.push(key);
        self.ctx.stats.participants_changed(1);
        let existing: Vec<usize> = room.publications.clone();
        let mut tracks = Vec::new();
        for publication in existing {
            let Some(p) = self.publications.get(publication) else {
                continue;
            };
            if self.space_of(p.owner) != Some(request.space) {
                continue;
            }
            tracks.push(p.info());
            self.subscribe(key, publication);
        }
        self.negotiate(key, now);
        Ok((peer_key, tracks))
    }

    fn room_tracks(&self, key: PeerKey) -> Result<Vec<TrackInfo>> {
        let index = self.live(key)?;
        let room = &self.participants[index].room;
        let space = self.participants[index].space;
        Ok(self
            .rooms
            .get(room)
            .map(|r| {
                r.publications
                    .iter()
                    .filter_map(|&k| self.publications.get(k))
                    .filter(|p| p.owner != index && self.space_of(p.owner) == Some(space))
                    .map(|p| p.info())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn client_offer(
        &mut self,
        key: PeerKey,
        sdp: String,
        tracks: Vec<TrackDeclaration>,
    ) -> Result<String> {
        let index = self.live(key)?;
        let now = Instant::now();
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
        p.offered_layers = offered_layers;
        let answer = p.pc.create_answer(None)?;
        p.pc.set_local_description(now, answer)?;
        let local =
            p.pc.local_description()
                .ok_or_else(|| Error::Engine("no local description after answering".into()))?;
        for declaration in tracks {
            p.declared.retain(|d| d.mid != declaration.mid);
            p.declared.push(declaration);
        }
        p.negotiation.complete(now);
        // A track the client no longer sends (its transceiver stopped, or turned recvonly)
        // is unpublished; the engine raises no event for it.
        let stopped: Vec<usize> = p
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
        p.publications.retain(|k| !stopped.contains(k));
        for k in stopped {
            self.unpublish(k);
        }
        self.reroute_if_ufrag_changed(index, &local.sdp);
        self.drain(index);
        self.negotiate(index, now);
        Ok(local.sdp)
    }

    fn client_answer(&mut self, key: PeerKey, sdp: String) -> Result<()> {
        let index = self.live(key)?;
        let now = Instant::now();
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

    /// A receive-only client that cannot renegotiate (a WHEP player): the tracks it will
    /// ever get are bound to the media sections of its one offer, in our one answer.
    fn viewer_offer(
        &mut self,
        key: PeerKey,
        sdp: String,
        watch: Option<ParticipantId>,
    ) -> Result<String> {
        let index = self.live(key)?;
        let now = Instant::now();
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

    fn add_candidate(&mut self, key: PeerKey, candidate: IceCandidate) -> Result<()> {
        let index = self.live(key)?;
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate,
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_mline_index,
            username_fragment: candidate.username_fragment,
            ..Default::default()
        };
        // As an ICE-lite server we learn addresses from the client's checks; a candidate
        // is only a hint. One that arrives before any offer of the client's (its offer lost
        // a glare and was rolled back) has nothing to attach to and is dropped, but a
        // malformed one is still the client's error to hear about.
        let raw = init.candidate.trim();
        let raw = raw.strip_prefix("candidate:").unwrap_or(raw);
        if !raw.is_empty() {
            rtc::ice::candidate::unmarshal_candidate(raw)
                .map_err(|e| Error::BadCandidate(e.to_string()))?;
        }
        let pc = &mut self.participants[index].pc;
        if pc.remote_description().is_none() {
            return Ok(());
        }
        pc.add_remote_candidate(init)
            .map_err(|e| Error::BadCandidate(e.to_string()))
    }

    fn track_settings(&mut self, key: PeerKey, track: &TrackId, size: (u32, u32)) -> Result<()> {
        let index = self.live(key)?;
        let now = Instant::now();
        let room = &self.participants[index].room;
        let publication = self.rooms.get(room).and_then(|r| {
            r.publications
                .iter()
                .copied()
                .find(|&k| self.publications.get(k).is_some_and(|p| &p.id == track))
        });
        let publication = publication.ok_or(Error::UnknownTrack)?;
        let pubn = &mut self.publications[publication];
        let sub = pubn
            .subscriptions
            .iter_mut()
            .find(|s| s.subscriber == index)
            .ok_or(Error::UnknownTrack)?;
        sub.wanted_size = Some(size);
        self.update_layers(publication, now);
        Ok(())
    }

    fn pause(&mut self, key: PeerKey, paused: bool) -> Result<()> {
        let index = self.live(key)?;
        let p = &mut self.participants[index];
        if p.paused && !paused {
            p.unpaused_at = Some(Instant::now());
            // A seat given up on for silent media and then resumed may be given up on again.
            p.lost = false;
        }
        p.paused = paused;
        Ok(())
    }

    fn save_data(&mut self, key: PeerKey, enabled: bool) -> Result<()> {
        let index = self.live(key)?;
        self.participants[index].video.save_data = enabled;
        let now = Instant::now();
        self.allocate(index, now);
        // Video that comes back needs a keyframe to start from.
        self.request_keyframes_for(index, now);
        Ok(())
    }

    fn mute(&mut self, key: PeerKey, source: TrackSource, muted: bool) -> Result<()> {
        let index = self.live(key)?;
        // Unmuting themselves is how someone a moderator muted speaks again.
        self.set_source_muted(index, source, Some(muted), (!muted).then_some(false));
        Ok(())
    }
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

/// What a viewer that gives no size gets: the best layer there is.
const VIEWER_SIZE: (u32, u32) = (3840, 2160);

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
