//! What signaling asks of a shard: join, offers and answers, candidates, track settings,
//! mute, leave.

use std::time::Instant;

use rtc::peer_connection::transport::RTCIceCandidateInit;
use tokio::sync::{mpsc::Sender, oneshot};

use super::Shard;
use super::participant::{FIRST_OFFER_GRACE, Negotiation, Participant};
use crate::error::{Error, Result};
use crate::events::{
    IceCandidate, JoinRequest, SfuEvent, SubscriberReport, TrackDeclaration, TrackInfo,
};
use crate::ids::{ParticipantId, RoomId, Space, TrackId, TrackSource};
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
