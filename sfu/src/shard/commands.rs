//! What signaling asks of a shard (join, offers and answers, settings, leave), the peer
//! connection events that change a room, and the periodic look over every room.

use std::collections::BTreeMap;
use std::time::Instant;

use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::sansio::Protocol;
use tokio::sync::{mpsc::UnboundedSender, oneshot};

use super::participant::{CONNECT_TIMEOUT, FIRST_OFFER_GRACE, Negotiation, Participant};
use super::{Shard, speaker};
use crate::error::{Error, Result};
use crate::events::{IceCandidate, JoinRequest, SfuEvent, Speaker, TrackDeclaration, TrackInfo};
use crate::ids::{MediaKind, ParticipantId, TrackId, TrackSource};
use crate::net::{PeerKey, RouterUpdate};
use crate::peer::{self, PeerSetup};

/// A request from signaling to the shard that owns the participant's room.
pub(crate) enum Command {
    Join {
        request: JoinRequest,
        events: UnboundedSender<SfuEvent>,
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
    RoomTracks {
        key: PeerKey,
        reply: oneshot::Sender<Result<Vec<TrackInfo>>>,
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
            | Command::RoomTracks { key, .. }
            | Command::Leave { key } => Some(key.index),
            Command::Join { .. } | Command::Shutdown => None,
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
            Command::RoomTracks { key, reply } => {
                let _ = reply.send(self.room_tracks(key));
            }
            Command::Leave { key } => {
                if self.live(key).is_ok() {
                    self.remove_participant(key.index);
                }
            }
            Command::Shutdown => {}
        }
    }

    fn live(&self, key: PeerKey) -> Result<usize> {
        match self.participants.get(key.index) {
            Some(p) if p.token == key.token => Ok(key.index),
            _ => Err(Error::ParticipantGone),
        }
    }

    fn join(
        &mut self,
        request: JoinRequest,
        events: UnboundedSender<SfuEvent>,
    ) -> Result<(PeerKey, Vec<TrackInfo>)> {
        let now = Instant::now();
        let ufrag = crate::random_token(16);
        let pwd = crate::random_token(32);
        let estimate = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let adopted = std::sync::Arc::new(std::sync::Mutex::new(peer::Adopted::default()));
        let pc = peer::build(
            &PeerSetup {
                ufrag: &ufrag,
                pwd: &pwd,
                candidates: &self.ctx.candidates,
                estimate: estimate.clone(),
                adopted: adopted.clone(),
                stats: self.ctx.stats.clone(),
            },
            now,
        )?;
        let token = self.allocate_token();
        let key = self.participants.insert(Participant {
            id: request.participant,
            token,
            room: request.room.clone(),
            pc,
            events,
            can_publish: request.can_publish,
            can_subscribe: request.can_subscribe,
            ufrag: ufrag.clone(),
            joined_at: now,
            connected_at: None,
            last_rx: now,
            lost: false,
            next_timeout: None,
            declared: Vec::new(),
            inbound: Vec::new(),
            publications: Vec::new(),
            negotiation: Negotiation {
                // Someone who may not publish never offers first: offer to them at once.
                not_before: request.can_publish.then_some(now + FIRST_OFFER_GRACE),
                ..Negotiation::default()
            },
            estimate,
            adopted,
        });
        let peer_key = PeerKey { index: key, token };
        let _ = self.ctx.router.send(RouterUpdate::Route {
            ufrag,
            shard: self.ctx.index,
            key: peer_key,
        });
        let room = self.rooms.entry(request.room).or_default();
        if room.participants.is_empty() {
            self.ctx.stats.rooms_changed(1);
        }
        room.participants.push(key);
        self.ctx.stats.participants_changed(1);
        let existing: Vec<usize> = room.publications.clone();
        let mut tracks = Vec::new();
        for publication in existing {
            if let Some(p) = self.publications.get(publication) {
                tracks.push(p.info());
            }
            self.subscribe(key, publication);
        }
        self.negotiate(key, now);
        Ok((peer_key, tracks))
    }

    fn room_tracks(&self, key: PeerKey) -> Result<Vec<TrackInfo>> {
        let index = self.live(key)?;
        let room = &self.participants[index].room;
        Ok(self
            .rooms
            .get(room)
            .map(|r| {
                r.publications
                    .iter()
                    .filter_map(|&k| self.publications.get(k))
                    .filter(|p| p.owner != index)
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
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| Error::BadSdp(e.to_string()))?;
        p.pc.set_remote_description(now, offer)
            .map_err(|e| Error::BadSdp(e.to_string()))?;
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
                    p.owner != index && watch.as_ref().is_none_or(|w| &p.owner_id == w)
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
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| Error::BadSdp(e.to_string()))?;
        let p = &mut self.participants[index];
        p.pc.set_remote_description(now, offer)
            .map_err(|e| Error::BadSdp(e.to_string()))?;
        for &k in &chosen {
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

    fn mute(&mut self, key: PeerKey, source: TrackSource, muted: bool) -> Result<()> {
        let index = self.live(key)?;
        let owned = self.participants[index].publications.clone();
        let mut changed = Vec::new();
        for k in owned {
            if let Some(p) = self.publications.get_mut(k) {
                if p.source == source && p.muted != muted {
                    p.muted = muted;
                    changed.push((p.id.clone(), p.room.clone()));
                }
            }
        }
        for (track, room) in changed {
            self.tell_room(&room, Some(index), || SfuEvent::TrackMuted {
                track: track.clone(),
                muted,
            });
        }
        Ok(())
    }

    /// Sends an event to everyone in a room except `except`.
    fn tell_room(
        &self,
        room: &crate::ids::RoomId,
        except: Option<usize>,
        event: impl Fn() -> SfuEvent,
    ) {
        if let Some(r) = self.rooms.get(room) {
            for &k in &r.participants {
                if Some(k) != except {
                    if let Some(p) = self.participants.get(k) {
                        p.tell(event());
                    }
                }
            }
        }
    }

    pub(super) fn remove_participant(&mut self, index: usize) {
        if !self.participants.contains(index) {
            return;
        }
        let owned = std::mem::take(&mut self.participants[index].publications);
        for publication in owned {
            self.unpublish(publication);
        }
        // Its subscriptions to others' tracks go with it.
        let room_id = self.participants[index].room.clone();
        if let Some(room) = self.rooms.get(&room_id) {
            for &k in &room.publications {
                if let Some(p) = self.publications.get_mut(k) {
                    p.subscriptions.retain(|s| s.subscriber != index);
                }
            }
        }
        let mut p = self.participants.remove(index);
        if let Err(e) = p.pc.close() {
            tracing::debug!(error = %e, "closing peer connection");
        }
        super::flush_writes(&mut p.pc, &self.ctx);
        let _ = self
            .ctx
            .router
            .send(RouterUpdate::Forget { token: p.token });
        self.ctx.stats.participants_changed(-1);
        if let Some(room) = self.rooms.get_mut(&room_id) {
            room.participants.retain(|&k| k != index);
            if room.participants.is_empty() {
                self.rooms.remove(&room_id);
                self.ctx.stats.rooms_changed(-1);
            }
        }
        let keys: Vec<usize> = self
            .rooms
            .get(&room_id)
            .map(|r| r.publications.clone())
            .unwrap_or_default();
        for k in keys {
            self.update_layers(k, Instant::now());
        }
    }

    pub(super) fn handle_peer_event(&mut self, index: usize, event: RTCPeerConnectionEvent) {
        let now = Instant::now();
        match event {
            RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                self.on_track_open(index, init, now);
            }
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                let Some(p) = self.participants.get_mut(index) else {
                    return;
                };
                match state {
                    RTCPeerConnectionState::Connected if p.connected_at.is_none() => {
                        p.connected_at = Some(now);
                        p.tell(SfuEvent::Connected {
                            after: now.saturating_duration_since(p.joined_at),
                        });
                        self.request_keyframes_for(index, now);
                    }
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed if !p.lost => {
                        p.lost = true;
                        p.tell(SfuEvent::MediaLost);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// A publisher's transceiver changed its ICE credentials (ICE restart): route the new ones.
    fn reroute_if_ufrag_changed(&mut self, index: usize, local_sdp: &str) {
        let p = &mut self.participants[index];
        if let Some(ufrag) = peer::sdp_ufrag(local_sdp) {
            if ufrag != p.ufrag {
                p.ufrag = ufrag.to_owned();
                let _ = self.ctx.router.send(RouterUpdate::Route {
                    ufrag: p.ufrag.clone(),
                    shard: self.ctx.index,
                    key: PeerKey {
                        index,
                        token: p.token,
                    },
                });
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
        let room_pubs: Vec<usize> = self
            .rooms
            .get(&p.room)
            .map(|r| r.publications.clone())
            .unwrap_or_default();
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

    /// Subscribes a participant to a publication (the sender is added at the next offer).
    pub(super) fn subscribe(&mut self, subscriber: usize, publication: usize) {
        let Some(p) = self.participants.get_mut(subscriber) else {
            return;
        };
        let Some(pubn) = self.publications.get_mut(publication) else {
            return;
        };
        if !p.can_subscribe || pubn.owner == subscriber {
            return;
        }
        let target = pubn.choose_layer(None, Instant::now(), true);
        pubn.subscriptions.push(super::publication::Subscription {
            subscriber,
            sender_id: None,
            out_ssrc: rand::random::<u32>(),
            out_payload_type: 0,
            active: false,
            forwarder: crate::forward::Forwarder::new(pubn.codec, target),
            wanted_size: None,
            cap: super::publication::Cap::Unlimited,
        });
        p.negotiation.needed = true;
    }

    fn unpublish(&mut self, publication: usize) {
        let Some(pubn) = self.publications.try_remove(publication) else {
            return;
        };
        self.ctx.stats.tracks_changed(-1);
        for sub in &pubn.subscriptions {
            if let Some(p) = self.participants.get_mut(sub.subscriber) {
                if let Some(sender) = sub.sender_id {
                    p.negotiation.removals.push(sender);
                    p.negotiation.needed = true;
                }
            }
        }
        if let Some(room) = self.rooms.get_mut(&pubn.room) {
            room.publications.retain(|&k| k != publication);
        }
        if let Some(owner) = self.participants.get_mut(pubn.owner) {
            owner.inbound.retain(|i| i.publication != publication);
        }
        self.tell_room(&pubn.room, Some(pubn.owner), || {
            SfuEvent::TrackUnpublished(pubn.id.clone())
        });
        let now = Instant::now();
        for sub in &pubn.subscriptions {
            self.negotiate(sub.subscriber, now);
        }
    }

    /// Once a minute of silence or a failed connection, tell signaling the media path is
    /// gone; retry offers that waited; keep layers and speakers current.
    pub(super) fn tick(&mut self, now: Instant) {
        let keys: Vec<usize> = self.participants.iter().map(|(k, _)| k).collect();
        for &k in &keys {
            let p = &mut self.participants[k];
            let silent = now.saturating_duration_since(p.last_rx);
            let lost = match p.connected_at {
                Some(_) => silent > self.ctx.media_timeout,
                // Someone who never negotiated (an observer alone in a room) is not
                // expected to connect yet.
                None => p
                    .negotiation
                    .first_completed
                    .is_some_and(|t| now.saturating_duration_since(t) > CONNECT_TIMEOUT),
            };
            if lost && !p.lost {
                p.lost = true;
                p.tell(SfuEvent::MediaLost);
            }
            self.negotiate(k, now);
        }
        let publications: Vec<usize> = self.publications.iter().map(|(k, _)| k).collect();
        for &k in &publications {
            if let Some(p) = self.publications.get_mut(k) {
                p.measure_rates(now);
            }
        }
        for &k in &keys {
            self.allocate(k, now);
        }
        for k in publications {
            self.update_layers(k, now);
        }
        if now.saturating_duration_since(self.last_speaker_check) >= super::SPEAKER_INTERVAL {
            self.last_speaker_check = now;
            self.update_speakers(now);
        }
    }

    fn update_speakers(&mut self, now: Instant) {
        let mut changes = Vec::new();
        for (room_id, room) in &mut self.rooms {
            let mut speakers: Vec<Speaker> = room
                .publications
                .iter()
                .filter_map(|&k| self.publications.get(k))
                .filter(|p| {
                    p.kind == MediaKind::Audio
                        && !p.muted
                        && speaker::is_speaking(p.loudness)
                        && p.last_level_at.is_some_and(|t| {
                            now.saturating_duration_since(t) < std::time::Duration::from_secs(1)
                        })
                })
                .map(|p| Speaker {
                    participant_id: p.owner_id.clone(),
                    level: speaker::percent(p.loudness),
                })
                .collect();
            speakers.sort_by_key(|s| std::cmp::Reverse(s.level));
            speakers.dedup_by(|a, b| a.participant_id == b.participant_id);
            let same_set = speakers.len() == room.speakers.len()
                && speakers
                    .iter()
                    .zip(&room.speakers)
                    .all(|(a, b)| a.participant_id == b.participant_id);
            if !same_set {
                room.speakers = speakers.clone();
                changes.push((room_id.clone(), speakers));
            }
        }
        for (room, speakers) in changes {
            self.tell_room(&room, None, || SfuEvent::ActiveSpeakers(speakers.clone()));
        }
    }

    fn on_track_open(
        &mut self,
        index: usize,
        init: rtc::peer_connection::event::RTCTrackEventInit,
        now: Instant,
    ) {
        let Some(p) = self.participants.get_mut(index) else {
            return;
        };
        if !p.can_publish {
            return;
        }
        let layer = init
            .rid
            .as_deref()
            .map_or(Some(crate::ids::Layer(0)), crate::ids::Layer::from_rid);
        let Some(layer) = layer else {
            tracing::debug!("ignoring a simulcast layer with an unknown rid");
            return;
        };
        let transceiver: usize = init.receiver_id.into();
        let mid =
            p.pc.rtp_transceiver(transceiver)
                .and_then(|t| t.mid().clone());
        let Some(mut receiver) = p.pc.rtp_receiver(init.receiver_id) else {
            return;
        };
        let kind = match receiver.track().kind() {
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio => MediaKind::Audio,
            _ => MediaKind::Video,
        };
        let Some(codec) = receiver.track().codec(init.ssrc).cloned() else {
            return;
        };
        let audio_level_ext = receiver
            .get_parameters()
            .rtp_parameters
            .header_extensions
            .iter()
            .find(|h| h.uri == peer::AUDIO_LEVEL_URI)
            .map(|h| h.id as u8);
        // A second layer of a track already published joins it.
        let existing = p.publications.iter().copied().find(|&k| {
            self.publications
                .get(k)
                .is_some_and(|pubn| pubn.receiver_id == init.receiver_id)
        });
        let publication = match existing {
            Some(k) => {
                let pubn = &mut self.publications[k];
                pubn.simulcast |= init.rid.is_some();
                k
            }
            None => {
                let declared = mid
                    .as_deref()
                    .and_then(|m| p.declared.iter().find(|d| d.mid == m));
                let source = declared.map_or(
                    match kind {
                        MediaKind::Audio => TrackSource::Microphone,
                        MediaKind::Video => TrackSource::Camera,
                    },
                    |d| d.source,
                );
                let declared_size = declared.and_then(|d| Some((d.width?, d.height?)));
                let k = self.publications.insert(super::publication::Publication {
                    id: TrackId::random(),
                    room: p.room.clone(),
                    owner: index,
                    owner_id: p.id.clone(),
                    receiver_id: init.receiver_id,
                    kind,
                    source,
                    codec: crate::forward::Codec::from_mime(&codec.mime_type),
                    codec_params: codec,
                    declared_size,
                    simulcast: init.rid.is_some(),
                    muted: false,
                    audio_level_ext,
                    layers: Default::default(),
                    subscriptions: Vec::new(),
                    loudness: 0.0,
                    last_level_at: None,
                    demanded: [true; super::publication::MAX_LAYERS],
                    rates_at: None,
                });
                p.publications.push(k);
                self.ctx.stats.tracks_changed(1);
                let room = p.room.clone();
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.publications.push(k);
                }
                let info = self.publications[k].info();
                self.tell_room(&room, Some(index), || {
                    SfuEvent::TrackPublished(info.clone())
                });
                let others: Vec<usize> = self
                    .rooms
                    .get(&room)
                    .map(|r| r.participants.clone())
                    .unwrap_or_default();
                for other in others {
                    self.subscribe(other, k);
                    self.negotiate(other, now);
                }
                k
            }
        };
        tracing::debug!(
            track = %self.publications[publication].id,
            ssrc = init.ssrc,
            rid = ?init.rid,
            layer = layer.0,
            "incoming stream bound"
        );
        if let Some(layer_state) = self.publications[publication]
            .layers
            .get_mut(usize::from(layer.0))
        {
            layer_state.ssrc = Some(init.ssrc);
        }
        if let Some(p) = self.participants.get_mut(index) {
            p.inbound.retain(|i| i.ssrc != init.ssrc);
            p.inbound.push(super::participant::Inbound {
                ssrc: init.ssrc,
                publication,
                layer,
            });
            p.adopt(init.ssrc);
        }
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

/// What a viewer that gives no size gets: the best layer there is.
const VIEWER_SIZE: (u32, u32) = (3840, 2160);

/// The track a subscriber's connection sends for a publication.
fn outgoing_track(
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
