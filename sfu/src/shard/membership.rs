//! Room life: who is in it, what is published and subscribed, liveness, active speakers.

use std::time::Instant;

use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::sansio::Protocol;

use super::participant::{CONNECT_TIMEOUT, PATH_QUIET, RESTART_REPEAT};
use super::{Shard, speaker};
use crate::events::{IceRestartReason, SfuEvent, Speaker};
use crate::ids::{MediaKind, ParticipantId, Space, TrackId, TrackSource};
use crate::peer;

impl Shard {
    /// Sends an event to everyone in one space of a room except `except`.
    pub(super) fn tell_space(
        &self,
        room: &crate::ids::RoomId,
        space: Space,
        except: Option<usize>,
        event: impl Fn() -> SfuEvent,
    ) {
        if let Some(r) = self.rooms.get(room) {
            for &k in &r.participants {
                if Some(k) != except
                    && let Some(p) = self.participants.get(k).filter(|p| p.space == space)
                {
                    p.tell(event());
                }
            }
        }
    }

    /// The space a participant is in, if it is here.
    pub(super) fn space_of(&self, index: usize) -> Option<Space> {
        self.participants.get(index).map(|p| p.space)
    }

    pub(super) fn remove_participant(&mut self, index: usize) {
        if !self.participants.contains(index) {
            return;
        }
        let owned = std::mem::take(&mut self.participants[index].publishing.publications);
        for publication in owned {
            self.tap_track_ends(publication, crate::tap::TapStopReason::Left);
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
        super::flush_writes(&mut p, index, &mut self.outbox, &self.ctx.stats, self.now);
        self.outbox.paths.push(super::PathChange {
            key: crate::net::PeerKey {
                index,
                token: p.token,
            },
            to: None,
        });
        self.ctx.router.forget(p.token);
        self.ctx.stats.participants_changed(-1);
        if let Some(room) = self.rooms.get_mut(&room_id) {
            room.participants.retain(|&k| k != index);
            if room.participants.is_empty() {
                self.ctx.stats.rooms_changed(-1);
                // A recorded room stays, so those who join next meet its tap.
                if room.tap.is_none() {
                    self.rooms.remove(&room_id);
                }
            }
        }
        let keys: Vec<usize> = self
            .rooms
            .get(&room_id)
            .map(|r| r.publications.clone())
            .unwrap_or_default();
        for k in keys {
            self.update_layers(k, self.now);
        }
    }

    pub(super) fn handle_peer_event(&mut self, index: usize, event: RTCPeerConnectionEvent) {
        let now = self.now;
        match event {
            RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                self.on_track_open(index, init, now);
            }
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                let Some(p) = self.participants.get_mut(index) else {
                    return;
                };
                match state {
                    RTCPeerConnectionState::Connected if p.liveness.connected_at.is_none() => {
                        p.liveness.connected_at = Some(now);
                        p.tell(SfuEvent::Connected {
                            after: now.saturating_duration_since(p.liveness.joined_at),
                        });
                        self.request_keyframes_for(index, now);
                    }
                    // A paused participant's path may fail; it restarts ICE when it returns.
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                        if !p.liveness.lost && !p.liveness.paused =>
                    {
                        p.liveness.lost = true;
                        p.tell(SfuEvent::MediaLost);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Subscribes a participant to a publication (the sender is added at the next offer).
    pub(super) fn subscribe(&mut self, subscriber: usize, publication: usize) {
        let owner_space = self
            .publications
            .get(publication)
            .and_then(|pubn| self.space_of(pubn.owner));
        let Some(p) = self.participants.get_mut(subscriber) else {
            return;
        };
        let Some(pubn) = self.publications.get_mut(publication) else {
            return;
        };
        let same_space = owner_space == Some(p.space);
        if !p.can_subscribe || pubn.owner == subscriber || !same_space {
            return;
        }
        let target = pubn.choose_layer(None, self.now, true);
        pubn.subscriptions.push(super::publication::Subscription {
            subscriber,
            sender_id: None,
            out_ssrc: rand::random::<u32>(),
            out_payload_type: 0,
            active: false,
            forwarder: crate::forward::Forwarder::new(pubn.codec, target),
            wanted_size: None,
            cap: super::publication::Cap::Unlimited,
            packets: 0,
            bytes: 0,
        });
        p.negotiation.needed = true;
    }

    pub(super) fn unpublish(&mut self, publication: usize) {
        self.tap_track_ends(publication, crate::tap::TapStopReason::Unpublished);
        let Some(pubn) = self.publications.try_remove(publication) else {
            return;
        };
        self.ctx.stats.tracks_changed(-1);
        for sub in &pubn.subscriptions {
            if let Some(p) = self.participants.get_mut(sub.subscriber)
                && let Some(sender) = sub.sender_id
            {
                p.negotiation.removals.push(sender);
                p.negotiation.needed = true;
            }
        }
        if let Some(room) = self.rooms.get_mut(&pubn.room) {
            room.publications.retain(|&k| k != publication);
        }
        if let Some(owner) = self.participants.get_mut(pubn.owner) {
            owner
                .publishing
                .inbound
                .retain(|i| i.publication != publication);
        }
        if let Some(space) = self.space_of(pubn.owner) {
            self.tell_space(&pubn.room, space, Some(pubn.owner), || {
                SfuEvent::TrackUnpublished(pubn.id.clone())
            });
        }
        for sub in &pubn.subscriptions {
            if let Some(p) = self.participants.get_mut(sub.subscriber) {
                p.count_received(&pubn.owner_id, sub.packets, sub.bytes);
            }
        }
        let now = self.now;
        for sub in &pubn.subscriptions {
            self.negotiate(sub.subscriber, now);
        }
    }

    /// Watches every media path (asking for an ICE restart when one breaks, giving the seat
    /// up when it stays broken); retries offers that waited; keeps layers, speakers and
    /// health reports current.
    pub(super) fn tick(&mut self, now: Instant) {
        let lagging: Vec<usize> = self
            .participants
            .iter()
            .filter(|(_, p)| p.is_lagging())
            .map(|(k, _)| k)
            .collect();
        for k in lagging {
            tracing::warn!(participant = %self.participants[k].id,
                "a session stopped taking its events; removing its participant");
            self.remove_participant(k);
        }
        let keys: Vec<usize> = self.participants.iter().map(|(k, _)| k).collect();
        for &k in &keys {
            self.watch_path(k, now);
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
        self.reap_taps();
        if now.saturating_duration_since(self.last_speaker_check) >= super::SPEAKER_INTERVAL {
            self.last_speaker_check = now;
            self.update_speakers(now);
        }
        if now.saturating_duration_since(self.last_health_report) >= super::HEALTH_INTERVAL {
            self.last_health_report = now;
            for &k in &keys {
                self.report_health(k, now);
            }
            self.echo_loss();
        }
    }

    /// A path that goes silent, or whose packets start coming from another address while
    /// the old one falls quiet (the phone changed network; a NAT rebound), will not heal by
    /// itself: our packets still go where nobody listens. The client is asked to restart
    /// ICE, again every few seconds while it lasts, and the seat is given up only after
    /// `media_lost_after`. Silence counts from the end of a pause.
    fn watch_path(&mut self, k: usize, now: Instant) {
        let (media_timeout, lost_after) = (self.ctx.media_timeout, self.ctx.media_lost_after);
        let p = &mut self.participants[k];
        if p.liveness.paused || p.liveness.lost {
            return;
        }
        if p.liveness.connected_at.is_none() {
            // Someone who never negotiated (an observer alone in a room) is not expected to
            // connect yet.
            let never_connected = p
                .negotiation
                .first_completed
                .is_some_and(|t| now.saturating_duration_since(t) > CONNECT_TIMEOUT);
            if never_connected {
                p.liveness.lost = true;
                p.tell(SfuEvent::MediaLost);
            }
            return;
        }
        let heard = p
            .liveness
            .unpaused_at
            .map_or(p.liveness.last_rx, |t| t.max(p.liveness.last_rx));
        let silent = now.saturating_duration_since(heard);
        if silent > lost_after {
            p.liveness.lost = true;
            p.tell(SfuEvent::MediaLost);
            return;
        }
        let moved = p.liveness.path.is_some_and(|(_, on_path)| {
            now.saturating_duration_since(on_path) > PATH_QUIET
                && p.liveness
                    .elsewhere_at
                    .is_some_and(|t| now.saturating_duration_since(t) < PATH_QUIET)
        });
        let reason = if silent > media_timeout {
            IceRestartReason::MediaSilent
        } else if moved {
            IceRestartReason::PathChanged
        } else {
            return;
        };
        let asked_lately = p
            .liveness
            .restart_asked
            .is_some_and(|t| now.saturating_duration_since(t) < RESTART_REPEAT);
        if !asked_lately {
            p.liveness.restart_asked = Some(now);
            tracing::debug!(participant = %p.id, ?reason, "asking for an ICE restart");
            p.tell(SfuEvent::RestartIce { reason });
        }
    }

    pub(super) fn update_speakers(&mut self, now: Instant) {
        let mut changes = Vec::new();
        for (room_id, room) in &mut self.rooms {
            let mut speakers: Vec<(Space, Speaker)> = room
                .publications
                .iter()
                .filter_map(|&k| self.publications.get(k))
                .filter(|p| {
                    p.kind == MediaKind::Audio
                        && !p.muted
                        && !p.held
                        && speaker::is_speaking(p.loudness)
                        && p.last_level_at.is_some_and(|t| {
                            now.saturating_duration_since(t) < std::time::Duration::from_secs(1)
                        })
                })
                .filter_map(|p| {
                    let space = self.participants.get(p.owner)?.space;
                    Some((
                        space,
                        Speaker {
                            participant_id: p.owner_id.clone(),
                            level: speaker::percent(p.loudness),
                        },
                    ))
                })
                .collect();
            speakers.sort_by_key(|(space, s)| (*space, std::cmp::Reverse(s.level)));
            speakers.dedup_by(|a, b| a.1.participant_id == b.1.participant_id);
            // Compared space by space: a side's private room must not hear (even as an empty
            // list) that the other side's speakers changed.
            let mut spaces: Vec<Space> = speakers
                .iter()
                .chain(&room.speakers)
                .map(|(space, _)| *space)
                .collect();
            spaces.sort_unstable();
            spaces.dedup();
            let in_space = |list: &[(Space, Speaker)], space: Space| -> Vec<ParticipantId> {
                list.iter()
                    .filter(|(s, _)| *s == space)
                    .map(|(_, speaker)| speaker.participant_id.clone())
                    .collect()
            };
            let changed: Vec<Space> = spaces
                .into_iter()
                .filter(|&space| in_space(&speakers, space) != in_space(&room.speakers, space))
                .collect();
            if !changed.is_empty() {
                room.speakers = speakers.clone();
                changes.push((room_id.clone(), speakers, changed));
            }
        }
        for (room, speakers, spaces) in changes {
            // Each changed space hears of its own speakers only (an empty list when they fell
            // quiet).
            for space in spaces {
                let here: Vec<Speaker> = speakers
                    .iter()
                    .filter(|(s, _)| *s == space)
                    .map(|(_, speaker)| speaker.clone())
                    .collect();
                self.tell_space(&room, space, None, || {
                    SfuEvent::ActiveSpeakers(here.clone())
                });
            }
        }
    }

    pub(super) fn on_track_open(
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
        let existing = p.publishing.publications.iter().copied().find(|&k| {
            self.publications
                .get(k)
                .is_some_and(|pubn| pubn.receiver_id == init.receiver_id)
        });
        let is_new = existing.is_none();
        let publication = match existing {
            Some(k) => {
                let pubn = &mut self.publications[k];
                pubn.simulcast |= init.rid.is_some();
                k
            }
            None => {
                let declared = mid
                    .as_deref()
                    .and_then(|m| p.publishing.declared.iter().find(|d| d.mid == m));
                let source = declared.map_or(
                    match kind {
                        MediaKind::Audio => TrackSource::Microphone,
                        MediaKind::Video => TrackSource::Camera,
                    },
                    |d| d.source,
                );
                let declared_size = declared.and_then(|d| Some((d.width?, d.height?)));
                let offered = mid
                    .as_deref()
                    .and_then(|m| p.publishing.offered_layers.iter().find(|(o, _)| o == m))
                    .map_or([false; super::publication::MAX_LAYERS], |&(_, layers)| {
                        layers
                    });
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
                    held: false,
                    audio_level_ext,
                    layers: Default::default(),
                    subscriptions: Vec::new(),
                    loudness: 0.0,
                    last_level_at: None,
                    demanded: [true; super::publication::MAX_LAYERS],
                    offered,
                    rates_at: None,
                    tap: None,
                });
                p.publishing.publications.push(k);
                self.ctx.stats.tracks_changed(1);
                let room = p.room.clone();
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.publications.push(k);
                }
                let info = self.publications[k].info();
                let space = p.space;
                self.tell_space(&room, space, Some(index), || {
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
            if layer_state.ssrc != Some(init.ssrc) {
                layer_state.newest_seq = None;
            }
            layer_state.ssrc = Some(init.ssrc);
        }
        if let Some(p) = self.participants.get_mut(index) {
            p.publishing.inbound.retain(|i| i.ssrc != init.ssrc);
            p.publishing.inbound.push(super::participant::Inbound {
                ssrc: init.ssrc,
                publication,
                layer,
            });
            p.adopt(init.ssrc);
        }
        // Once its first layer's SSRC is known, so the recorder's keyframe request can go.
        if is_new {
            self.tap_publication(publication, now);
        }
    }
}
