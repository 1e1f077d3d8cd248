//! Spaces inside a room (the joint room and private caucus rooms): moving a participant
//! between them changes subscriptions, never the connection, and a moderator's hold on a
//! track; plus the per-subscriber report by which isolation is checked.

use super::Shard;
use crate::error::Result;
use crate::events::{ReceivedFrom, SfuEvent, SubscriberReport};
use crate::ids::{RoomId, Space, TrackSource};

impl Shard {
    /// Moves a participant to another space of its room. Its subscriptions to the old space's
    /// tracks and the old space's subscriptions to its tracks end (their senders go at each
    /// affected peer's next offer), then it and the new space subscribe to each other. Every
    /// affected peer renegotiates once.
    pub(super) fn move_to(&mut self, index: usize, to: Space) -> Result<()> {
        let from = self.participants[index].space;
        if from == to {
            return Ok(());
        }
        let now = self.now;
        let room = self.participants[index].room.clone();
        let room_pubs = self.publications_around(index);
        let mut affected = vec![index];
        for &k in &room_pubs {
            let Some(pubn) = self.publications.get_mut(k) else {
                continue;
            };
            let (track, owner, owner_id) = (pubn.id.clone(), pubn.owner, pubn.owner_id.clone());
            // The mover's own track leaves everyone in the old space; others' tracks leave
            // the mover.
            let (ended, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut pubn.subscriptions)
                .into_iter()
                .partition(|s| owner == index || s.subscriber == index);
            pubn.subscriptions = kept;
            for sub in ended {
                let Some(p) = self.participants.get_mut(sub.subscriber) else {
                    continue;
                };
                p.count_received(&owner_id, sub.packets, sub.bytes);
                if let Some(sender) = sub.sender_id {
                    p.negotiation.removals.push(sender);
                    p.negotiation.needed = true;
                }
                p.tell(SfuEvent::TrackUnpublished(track.clone()));
                affected.push(sub.subscriber);
            }
            // A track of the old space the mover was not subscribed to (it may not subscribe)
            // still has to vanish from its list.
            if owner != index && self.space_of(owner) == Some(from) {
                let p = &self.participants[index];
                if !p.can_subscribe {
                    p.tell(SfuEvent::TrackUnpublished(track));
                }
            }
        }
        self.participants[index].space = to;
        let joined_by: Vec<usize> = self
            .rooms
            .get(&room)
            .map(|r| r.participants.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|&o| o != index && self.space_of(o) == Some(to))
            .collect();
        for &k in &room_pubs {
            let Some(pubn) = self.publications.get(k) else {
                continue;
            };
            let (owner, info) = (pubn.owner, pubn.info());
            if owner == index {
                for &other in &joined_by {
                    if let Some(p) = self.participants.get(other) {
                        p.tell(SfuEvent::TrackPublished(info.clone()));
                    }
                    self.subscribe(other, k);
                    affected.push(other);
                }
            } else if self.space_of(owner) == Some(to) {
                self.participants[index].tell(SfuEvent::TrackPublished(info));
                self.subscribe(index, k);
            }
        }
        affected.sort_unstable();
        affected.dedup();
        for k in affected {
            self.negotiate(k, now);
        }
        self.tap_moved(index, to, now);
        for k in room_pubs {
            self.update_layers(k, now);
        }
        Ok(())
    }

    /// A moderator mutes (`true`) one of a participant's sources: nothing of it is forwarded
    /// until its publisher unmutes it themselves (see `mute`), or the hold is lifted.
    pub(super) fn hold(&mut self, index: usize, source: TrackSource, held: bool) -> Result<()> {
        // A hold mutes; lifting it leaves the mute for the owner to undo.
        self.set_source_muted(index, source, held.then_some(true), Some(held));
        Ok(())
    }

    /// Sets the mute state and the moderator's hold (each if given) of a participant's tracks of
    /// one source, telling its space of every change.
    pub(super) fn set_source_muted(
        &mut self,
        index: usize,
        source: TrackSource,
        muted: Option<bool>,
        held: Option<bool>,
    ) {
        let Some(p) = self.participants.get(index) else {
            return;
        };
        let (owned, space) = (p.publishing.publications.clone(), p.space);
        let mut changed = Vec::new();
        for k in owned {
            if let Some(pubn) = self.publications.get_mut(k).filter(|p| p.source == source) {
                if let Some(held) = held {
                    pubn.held = held;
                }
                if let Some(muted) = muted.filter(|m| *m != pubn.muted) {
                    pubn.muted = muted;
                    changed.push((pubn.id.clone(), pubn.room.clone(), muted));
                }
            }
        }
        for (track, room, muted) in changed {
            self.tell_space(&room, space, Some(index), || SfuEvent::TrackMuted {
                track: track.clone(),
                muted,
            });
        }
    }

    /// What every subscriber of a room has been sent, per publisher.
    pub(super) fn report(&self, room: &RoomId) -> Vec<SubscriberReport> {
        let Some(r) = self.rooms.get(room) else {
            return Vec::new();
        };
        let mut reports = Vec::new();
        for &k in &r.participants {
            let Some(p) = self.participants.get(k) else {
                continue;
            };
            let mut received: Vec<ReceivedFrom> = p.received_before.clone();
            for &pk in &r.publications {
                let Some(pubn) = self.publications.get(pk) else {
                    continue;
                };
                for sub in pubn.subscriptions.iter().filter(|s| s.subscriber == k) {
                    match received
                        .iter_mut()
                        .find(|x| x.participant_id == pubn.owner_id)
                    {
                        Some(x) => {
                            x.packets += sub.packets;
                            x.bytes += sub.bytes;
                        }
                        None => received.push(ReceivedFrom {
                            participant_id: pubn.owner_id.clone(),
                            packets: sub.packets,
                            bytes: sub.bytes,
                        }),
                    }
                }
            }
            reports.push(SubscriberReport {
                participant_id: p.id.clone(),
                space: p.space.0,
                received_from: received,
            });
        }
        reports
    }
}
