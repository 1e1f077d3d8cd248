//! The running media server as signaling sees it: which shard each room lives on, admitting
//! participants, room reports and shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::events::{JoinRequest, SfuEvent, SubscriberReport, TrackInfo};
use crate::handle::ParticipantHandle;
use crate::ids::RoomId;
use crate::placement::{ShardLoads, choose_shard};
use crate::shard::Command;
use crate::stats::{SfuStats, SfuStatsSnapshot};

/// The running media server. Cheap to clone.
#[derive(Clone)]
pub struct Sfu {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) shards: Vec<crate::shard::driver::ShardInbox>,
    pub(crate) placement: Mutex<HashMap<RoomId, Placement>>,
    /// How busy each shard is, for placing new rooms.
    pub(crate) loads: Arc<ShardLoads>,
    /// Participants a shard takes before new rooms go to the next (see `placement`).
    pub(crate) shard_fill: usize,
    pub(crate) local_addr: SocketAddr,
    pub(crate) candidates: Vec<SocketAddr>,
    pub(crate) tcp_addr: Option<SocketAddr>,
    pub(crate) tcp_candidates: Vec<SocketAddr>,
    pub(crate) stats: Arc<SfuStats>,
    /// Tells the reader thread to finish.
    pub(crate) stop: Arc<std::sync::atomic::AtomicBool>,
}

pub(crate) struct Placement {
    shard: usize,
    /// Participants and recorder taps that keep the room on its shard.
    members: usize,
    /// The recorder tap running on the room, if any.
    tap: Option<u64>,
}

/// Events queued for one participant's signaling session. A session relays them as they
/// come; one that lets this many pile up (its client stopped reading) has its participant
/// removed, which ends its event stream.
pub const EVENT_QUEUE: usize = 1024;

/// A participant admitted to the SFU.
pub struct Joined {
    /// Commands for this participant.
    pub handle: ParticipantHandle,
    /// What to relay to them (offers, tracks, speakers, connection state).
    pub events: mpsc::Receiver<SfuEvent>,
    /// Tracks already published in the room when they joined.
    pub tracks: Vec<TrackInfo>,
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu")
            .field("local_addr", &self.inner.local_addr)
            .field("shards", &self.inner.shards.len())
            .finish()
    }
}

impl Sfu {
    /// The bound media address (useful when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The addresses our ICE candidates announce.
    pub fn candidates(&self) -> &[SocketAddr] {
        &self.inner.candidates
    }

    /// The bound ICE-TCP address, if ICE-TCP is on.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.inner.tcp_addr
    }

    /// The addresses our passive ICE-TCP candidates announce.
    pub fn tcp_candidates(&self) -> &[SocketAddr] {
        &self.inner.tcp_candidates
    }

    /// Counters for metrics.
    pub fn stats(&self) -> SfuStatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The busiest media shard's share of its time spent working over its last second,
    /// 0.0–1.0.
    pub fn busiest_shard(&self) -> f64 {
        self.inner.loads.busiest()
    }

    /// Puts a participant into a room (placing it on a shard if new, see `placement`).
    pub async fn join(&self, request: JoinRequest) -> Result<Joined> {
        let shard = self.place(&request.room);
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (reply, answer) = oneshot::channel();
        let room = request.room.clone();
        let sent = self.inner.shards[shard].send(Command::Join {
            request,
            events: events_tx,
            reply,
        });
        let outcome = match sent {
            Ok(()) => answer.await.unwrap_or(Err(Error::ShuttingDown)),
            Err(_) => Err(Error::ShuttingDown),
        };
        match outcome {
            Ok((key, tracks)) => Ok(Joined {
                handle: ParticipantHandle {
                    sfu: self.clone(),
                    shard,
                    key,
                    room,
                    left: false,
                },
                events,
                tracks,
            }),
            Err(e) => {
                self.release(&room);
                Err(e)
            }
        }
    }

    /// What every subscriber in a room has been sent, per publisher (empty for a room not
    /// here).
    pub async fn room_report(&self, room: &RoomId) -> Vec<SubscriberReport> {
        let shard = {
            let placement = self.placement();
            match placement.get(room) {
                Some(p) => p.shard,
                None => return Vec::new(),
            }
        };
        let (reply, answer) = oneshot::channel();
        let command = Command::Report {
            room: room.clone(),
            reply,
        };
        if self.inner.shards[shard].send(command).is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// Stops every shard; participants are closed.
    pub fn shutdown(&self) {
        self.inner
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for shard in &self.inner.shards {
            let _ = shard.send(Command::Shutdown);
        }
    }

    fn place(&self, room: &RoomId) -> usize {
        self.place_in(&mut self.placement(), room)
    }

    /// Counts one more member of a room, placing it on a shard if new.
    fn place_in(&self, placement: &mut HashMap<RoomId, Placement>, room: &RoomId) -> usize {
        if let Some(p) = placement.get_mut(room) {
            p.members += 1;
            return p.shard;
        }
        let mut members = vec![0usize; self.inner.shards.len()];
        for p in placement.values() {
            if let Some(m) = members.get_mut(p.shard) {
                *m += p.members;
            }
        }
        let busy = self.inner.loads.busy_permille();
        let shard = choose_shard(&members, &busy, self.inner.shard_fill);
        placement.insert(
            room.clone(),
            Placement {
                shard,
                members: 1,
                tap: None,
            },
        );
        shard
    }

    /// Which shard each room is on. A poisoned lock only means a panic elsewhere; the map
    /// itself is always consistent.
    fn placement(&self) -> MutexGuard<'_, HashMap<RoomId, Placement>> {
        self.inner
            .placement
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn release(&self, room: &RoomId) {
        self.release_where(room, |_| true);
    }

    /// Places a recorder tap on a room (as a member, so the room stays on its shard while
    /// nobody is in it); refused if the room already has one.
    pub(crate) fn place_tap(&self, room: &RoomId, id: u64) -> Result<usize> {
        let mut placement = self.placement();
        if placement.get(room).is_some_and(|p| p.tap.is_some()) {
            return Err(Error::AlreadyTapped);
        }
        let shard = self.place_in(&mut placement, room);
        if let Some(p) = placement.get_mut(room) {
            p.tap = Some(id);
        }
        Ok(shard)
    }

    /// Takes the recorder tap `id` off a room's placement.
    pub(crate) fn release_tap(&self, room: &RoomId, id: u64) {
        self.release_where(room, |p| {
            let ours = p.tap == Some(id);
            if ours {
                p.tap = None;
            }
            ours
        });
    }

    /// One member fewer for a room, if `leaving` agrees; the room is forgotten once empty.
    fn release_where(&self, room: &RoomId, leaving: impl FnOnce(&mut Placement) -> bool) {
        let mut placement = self.placement();
        if let Some(p) = placement.get_mut(room) {
            if !leaving(p) {
                return;
            }
            p.members = p.members.saturating_sub(1);
            if p.members == 0 {
                placement.remove(room);
            }
        }
    }
}
