//! What signaling asks of a shard: join, offers and answers, candidates, track settings,
//! mute, leave.

use rtc::peer_connection::transport::RTCIceCandidateInit;
use tokio::sync::{mpsc::Sender, oneshot};

use super::Shard;
use super::participant::{FIRST_OFFER_GRACE, Liveness, Negotiation, Participant, Publishing, Taps};
use crate::error::{Error, Result};
use crate::events::{IceCandidate, JoinRequest, SfuEvent, SubscriberReport, TrackInfo};
use crate::ids::{RoomId, TrackId, TrackSource};
use crate::net::PeerKey;
use crate::peer::{self, PeerSetup};

/// A request from signaling to the shard that owns the participant's room.
pub(crate) enum Command {
    Join {
        request: JoinRequest,
        events: Sender<SfuEvent>,
        reply: oneshot::Sender<Result<(PeerKey, Vec<TrackInfo>)>>,
    },
    /// A [`Request`] about one participant, with the channel its reply goes back on.
    Participant {
        key: PeerKey,
        call: Box<dyn Call>,
    },
    Report {
        room: RoomId,
        reply: oneshot::Sender<Vec<SubscriberReport>>,
    },
    Leave {
        key: PeerKey,
    },
    /// Something a room's recorder tap asks.
    Tap(super::TapCommand),
    Shutdown,
}

impl Command {
    /// The participant a command concerns, for eviction if handling it panics.
    pub(super) fn participant_index(&self) -> Option<usize> {
        match self {
            Command::Participant { key, .. } | Command::Leave { key } => Some(key.index),
            Command::Join { .. } | Command::Report { .. } | Command::Tap(_) | Command::Shutdown => {
                None
            }
        }
    }
}

/// Something signaling asks of one participant's seat. The type names its reply, so a
/// [`ParticipantHandle`](crate::ParticipantHandle) method and the shard's handling of it
/// cannot disagree about what comes back, and a new request is one type, not an enum
/// variant, a dispatch arm and a handle method that repeat each other.
pub(crate) trait Request: Send + 'static {
    /// What the caller gets back.
    type Reply: Send + 'static;
    /// Carries the request out for the participant in slot `index`, known to be live.
    fn apply(self, shard: &mut Shard, index: usize) -> Result<Self::Reply>;
}

/// A request and its reply channel, with the reply type erased so that every request
/// travels in [`Command::Participant`].
pub(crate) trait Call: Send {
    fn answer(self: Box<Self>, shard: &mut Shard, key: PeerKey);
}

/// A [`Request`] on its way to the shard.
pub(crate) struct Pending<R: Request> {
    pub request: R,
    pub reply: oneshot::Sender<Result<R::Reply>>,
}

impl<R: Request> Call for Pending<R> {
    fn answer(self: Box<Self>, shard: &mut Shard, key: PeerKey) {
        let Pending { request, reply } = *self;
        let outcome = shard
            .live(key)
            .and_then(|index| request.apply(shard, index));
        // The caller may have given up waiting; the request took effect all the same.
        let _ = reply.send(outcome);
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
            Command::Participant { key, call } => call.answer(self, key),
            Command::Report { room, reply } => {
                let _ = reply.send(self.report(&room));
            }
            Command::Leave { key } => {
                if self.live(key).is_ok() {
                    self.remove_participant(key.index);
                }
            }
            Command::Tap(command) => self.handle_tap(command),
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
        let now = self.now;
        let ufrag = crate::random_token(16);
        let pwd = crate::random_token(32);
        let taps = Taps::default();
        let pc = peer::build(
            &PeerSetup {
                ufrag: &ufrag,
                pwd: &pwd,
                candidates: &self.ctx.candidates,
                tcp_candidates: &self.ctx.tcp_candidates,
                estimate: taps.estimate.clone(),
                adopted: taps.adopted.clone(),
                stats: self.ctx.stats.clone(),
                link: taps.link.clone(),
                loss_echo: taps.loss_echo.clone(),
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
            liveness: Liveness::new(now),
            next_timeout: None,
            publishing: Publishing::default(),
            negotiation: Negotiation {
                // Someone who may not publish never offers first: offer to them at once.
                not_before: request.can_publish.then_some(now + FIRST_OFFER_GRACE),
                ..Negotiation::default()
            },
            taps,
            downlink_loss: 0.0,
            bytes_out: 0,
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

    pub(super) fn room_tracks(&self, index: usize) -> Result<Vec<TrackInfo>> {
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

    pub(super) fn add_candidate(&mut self, index: usize, candidate: IceCandidate) -> Result<()> {
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

    pub(super) fn track_settings(
        &mut self,
        index: usize,
        track: &TrackId,
        size: (u32, u32),
    ) -> Result<()> {
        let now = self.now;
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

    pub(super) fn pause(&mut self, index: usize, paused: bool) -> Result<()> {
        let p = &mut self.participants[index];
        if p.liveness.paused && !paused {
            p.liveness.unpaused_at = Some(self.now);
            // A seat given up on for silent media and then resumed may be given up on again.
            p.liveness.lost = false;
        }
        p.liveness.paused = paused;
        Ok(())
    }

    pub(super) fn save_data(&mut self, index: usize, enabled: bool) -> Result<()> {
        self.participants[index].video.save_data = enabled;
        let now = self.now;
        self.allocate(index, now);
        // Video that comes back needs a keyframe to start from.
        self.request_keyframes_for(index, now);
        Ok(())
    }

    pub(super) fn mute(&mut self, index: usize, source: TrackSource, muted: bool) -> Result<()> {
        // Unmuting themselves is how someone a moderator muted speaks again.
        self.set_source_muted(index, source, Some(muted), (!muted).then_some(false));
        Ok(())
    }
}
