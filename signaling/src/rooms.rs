//! Who is in which room, as signaling sees it: names and roles for the participant list,
//! the notices that keep every session's list current, and seats held open for a while when
//! a socket drops so its owner can resume.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_sfu::{ParticipantHandle, SfuEvent};
use tokio::sync::{Notify, mpsc};

use crate::protocol::{LeaveReason, ParticipantInfo, PauseReason};

/// The SFU side of a seat: kept across a dropped socket so a resume finds it intact.
pub struct Seat {
    /// Commands for the participant's media.
    pub handle: ParticipantHandle,
    /// Offers and track events for the participant; buffered while detached.
    pub events: mpsc::UnboundedReceiver<SfuEvent>,
}

/// A change in a room that sessions pass on.
#[derive(Clone, Debug)]
pub enum Notice {
    /// Someone entered.
    Joined(ParticipantInfo),
    /// Someone left.
    Left {
        /// Their seat.
        participant_id: String,
        /// Why.
        reason: LeaveReason,
    },
    /// Someone's media went quiet while they stay, or came back.
    Paused {
        /// Their seat.
        participant_id: String,
        /// Why, while paused.
        paused: Option<PauseReason>,
    },
    /// You have been replaced by a newer join with your identity, or removed.
    YouAreGone(LeaveReason),
    /// A newer socket presented your seat's resume token: yours is taken for dead (a phone that
    /// lost its network sends no close, so the server may not have noticed), and the seat is to
    /// be let go of as after a dropped socket, for the newer one to take.
    ResumedElsewhere,
}

struct Member {
    info: ParticipantInfo,
    hidden: bool,
    resume_token: String,
    notices: Option<mpsc::UnboundedSender<Notice>>,
    detached: Option<Seat>,
    /// Bumped on every attach, so a stale grace timer cannot evict a resumed seat.
    generation: u64,
}

/// Why a participant could not be admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum AdmitError {
    /// The room is at its limit.
    Full,
}

/// A new seat.
pub struct Admission {
    /// The seat's id.
    pub participant: ParticipantInfo,
    /// Everyone else visible, for the `joined` frame.
    pub others: Vec<ParticipantInfo>,
    /// Present this to resume.
    pub resume_token: String,
    /// Notices for this session.
    pub notices: mpsc::UnboundedReceiver<Notice>,
    /// Seat generation (see [`Rooms::detach`]).
    pub generation: u64,
}

/// A resumed seat.
pub struct Resumed {
    /// The seat's participant.
    pub participant: ParticipantInfo,
    /// Everyone else visible.
    pub others: Vec<ParticipantInfo>,
    /// The media side, with events buffered while the socket was gone.
    pub seat: Seat,
    /// Notices for the new session.
    pub notices: mpsc::UnboundedReceiver<Notice>,
    /// Seat generation.
    pub generation: u64,
}

/// How long a resume waits for an older session that still holds the seat to let go of it.
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(3);

/// What one look at a seat asked for by a resume found.
enum ResumeAttempt {
    Resumed(Resumed),
    /// An older session holds it and has been asked to let go.
    HeldElsewhere,
    NoSuchSeat,
}

/// Every room's membership.
#[derive(Clone, Default)]
pub struct Rooms {
    inner: Arc<Mutex<HashMap<String, HashMap<String, Member>>>>,
    /// Woken whenever a seat is detached, for resumes waiting on a handover.
    seat_detached: Arc<Notify>,
}

impl Rooms {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, Member>>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a seat for the token's identity; an earlier seat of the same identity is
    /// replaced.
    pub fn admit(
        &self,
        claims: &crate::auth::JoinClaims,
        max_participants: usize,
    ) -> Result<Admission, AdmitError> {
        let (room, identity, name, role, hidden) = (
            claims.room.as_str(),
            claims.sub.as_str(),
            claims.name.as_str(),
            claims.role,
            claims.hidden,
        );
        let mut rooms = self.lock();
        let members = rooms.entry(room.to_owned()).or_default();
        let replaced: Vec<String> = members
            .iter()
            .filter(|(_, m)| m.info.identity == identity)
            .map(|(id, _)| id.clone())
            .collect();
        if replaced.is_empty() && members.len() >= max_participants {
            if members.is_empty() {
                rooms.remove(room);
            }
            return Err(AdmitError::Full);
        }
        for id in &replaced {
            if let Some(old) = members.remove(id) {
                if let Some(tx) = &old.notices {
                    let _ = tx.send(Notice::YouAreGone(LeaveReason::Replaced));
                }
                if !old.hidden {
                    broadcast(
                        members,
                        Notice::Left {
                            participant_id: id.clone(),
                            reason: LeaveReason::Replaced,
                        },
                    );
                }
            }
        }
        let participant = ParticipantInfo {
            id: format!("PA_{}", accord_sfu::random_token(12)),
            identity: identity.to_owned(),
            name: name.to_owned(),
            role,
            paused: None,
        };
        let others = visible(members, &participant.id);
        if !hidden {
            broadcast(members, Notice::Joined(participant.clone()));
        }
        let (tx, notices) = mpsc::unbounded_channel();
        let resume_token = accord_sfu::random_token(32);
        members.insert(
            participant.id.clone(),
            Member {
                info: participant.clone(),
                hidden,
                resume_token: resume_token.clone(),
                notices: Some(tx),
                detached: None,
                generation: 1,
            },
        );
        Ok(Admission {
            participant,
            others,
            resume_token,
            notices,
            generation: 1,
        })
    }

    /// Takes back a seat by its resume token. The seat is usually detached already; if an
    /// older session still holds it (its socket died without the server noticing), that session
    /// is asked to let go and the seat is taken once it has, within [`HANDOVER_TIMEOUT`].
    pub async fn resume(&self, room: &str, identity: &str, resume_token: &str) -> Option<Resumed> {
        let deadline = tokio::time::Instant::now() + HANDOVER_TIMEOUT;
        loop {
            // Registered before looking, so a detach between the look and the wait is not missed.
            let detached = self.seat_detached.notified();
            match self.try_resume(room, identity, resume_token) {
                ResumeAttempt::Resumed(resumed) => return Some(resumed),
                ResumeAttempt::NoSuchSeat => return None,
                ResumeAttempt::HeldElsewhere => {}
            }
            tokio::time::timeout_at(deadline, detached).await.ok()?;
        }
    }

    fn try_resume(&self, room: &str, identity: &str, resume_token: &str) -> ResumeAttempt {
        let mut rooms = self.lock();
        let Some(members) = rooms.get_mut(room) else {
            return ResumeAttempt::NoSuchSeat;
        };
        let Some((_, member)) = members.iter_mut().find(|(_, m)| {
            m.info.identity == identity
                && crate::auth::constant_time_eq(m.resume_token.as_bytes(), resume_token.as_bytes())
        }) else {
            return ResumeAttempt::NoSuchSeat;
        };
        let Some(seat) = member.detached.take() else {
            if let Some(holder) = &member.notices {
                let _ = holder.send(Notice::ResumedElsewhere);
            }
            return ResumeAttempt::HeldElsewhere;
        };
        let (tx, notices) = mpsc::unbounded_channel();
        member.notices = Some(tx);
        member.generation += 1;
        let back = member.info.paused == Some(PauseReason::Reconnecting);
        if back {
            member.info.paused = None;
        }
        let participant = member.info.clone();
        let generation = member.generation;
        if back {
            announce_pause(members, &participant.id);
        }
        let others = visible(members, &participant.id);
        ResumeAttempt::Resumed(Resumed {
            participant,
            others,
            seat,
            notices,
            generation,
        })
    }

    /// Keeps a seat whose socket dropped for `grace`; afterwards it is removed as
    /// disconnected unless resumed.
    pub fn detach(&self, room: &str, participant_id: &str, seat: Seat, grace: Duration) {
        let generation = {
            let mut rooms = self.lock();
            let Some(members) = rooms.get_mut(room) else {
                return;
            };
            let Some(member) = members.get_mut(participant_id) else {
                return;
            };
            member.notices = None;
            member.detached = Some(seat);
            // Someone already away stays "away": that says more than "reconnecting".
            if member.info.paused.is_none() {
                member.info.paused = Some(PauseReason::Reconnecting);
                announce_pause(members, participant_id);
            }
            let member = &members[participant_id];
            member.generation
        };
        self.seat_detached.notify_waiters();
        let rooms = self.clone();
        let (room, participant_id) = (room.to_owned(), participant_id.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            rooms.remove_if_detached(&room, &participant_id, generation);
        });
    }

    fn remove_if_detached(&self, room: &str, participant_id: &str, generation: u64) {
        let still_detached = {
            let rooms = self.lock();
            rooms
                .get(room)
                .and_then(|m| m.get(participant_id))
                .is_some_and(|m| m.generation == generation && m.detached.is_some())
        };
        if still_detached {
            self.remove(room, participant_id, LeaveReason::Disconnected);
        }
    }

    /// Marks a seat away (`Some`) or back (`None`) and tells the room if that changed.
    pub fn set_paused(&self, room: &str, participant_id: &str, paused: Option<PauseReason>) {
        let mut rooms = self.lock();
        let Some(members) = rooms.get_mut(room) else {
            return;
        };
        let Some(member) = members.get_mut(participant_id) else {
            return;
        };
        if member.info.paused != paused {
            member.info.paused = paused;
            announce_pause(members, participant_id);
        }
    }

    /// Removes a seat and tells the room. Dropping the seat's SFU handle leaves the media room.
    pub fn remove(&self, room: &str, participant_id: &str, reason: LeaveReason) {
        let removed = {
            let mut rooms = self.lock();
            let Some(members) = rooms.get_mut(room) else {
                return;
            };
            let removed = members.remove(participant_id);
            if let Some(m) = &removed {
                if !m.hidden {
                    broadcast(
                        members,
                        Notice::Left {
                            participant_id: participant_id.to_owned(),
                            reason,
                        },
                    );
                }
            }
            if members.is_empty() {
                rooms.remove(room);
            }
            removed
        };
        // The SFU handle is dropped outside the lock.
        drop(removed);
    }

    /// Whether the seat is still ours (not replaced or removed meanwhile).
    pub fn holds(&self, room: &str, participant_id: &str, generation: u64) -> bool {
        self.lock()
            .get(room)
            .and_then(|m| m.get(participant_id))
            .is_some_and(|m| m.generation == generation)
    }

    /// Number of rooms with at least one seat.
    pub fn room_count(&self) -> usize {
        self.lock().len()
    }
}

fn visible(members: &HashMap<String, Member>, except: &str) -> Vec<ParticipantInfo> {
    let mut others: Vec<ParticipantInfo> = members
        .values()
        .filter(|m| !m.hidden && m.info.id != except)
        .map(|m| m.info.clone())
        .collect();
    others.sort_by(|a, b| a.id.cmp(&b.id));
    others
}

/// Tells everyone else in the room a member's current pause state (hidden members: nobody).
fn announce_pause(members: &HashMap<String, Member>, participant_id: &str) {
    let Some(member) = members.get(participant_id).filter(|m| !m.hidden) else {
        return;
    };
    let notice = Notice::Paused {
        participant_id: participant_id.to_owned(),
        paused: member.info.paused,
    };
    for (id, m) in members {
        if let (Some(tx), false) = (&m.notices, id == participant_id) {
            let _ = tx.send(notice.clone());
        }
    }
}

fn broadcast(members: &HashMap<String, Member>, notice: Notice) {
    for m in members.values() {
        if let Some(tx) = &m.notices {
            let _ = tx.send(notice.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{JoinClaims, Role};

    fn claims(identity: &str, role: Role, hidden: bool) -> JoinClaims {
        JoinClaims {
            sub: identity.into(),
            name: identity.to_uppercase(),
            room: "r".into(),
            role,
            can_publish: true,
            can_subscribe: true,
            hidden,
            case: None,
            session: None,
            inv: None,
            aud: "accord-join".into(),
            iat: 0,
            nbf: 0,
            exp: 0,
        }
    }

    #[test]
    fn a_full_room_refuses_and_a_rejoin_replaces_the_old_seat() {
        let rooms = Rooms::default();
        let a = rooms
            .admit(&claims("alice", Role::Mediator, false), 2)
            .expect("room has space");
        let mut b = rooms
            .admit(&claims("bob", Role::Party, false), 2)
            .expect("room has space");
        assert_eq!(b.others.len(), 1);
        assert_eq!(
            rooms.admit(&claims("carol", Role::Party, false), 2).err(),
            Some(AdmitError::Full)
        );
        let again = rooms
            .admit(&claims("alice", Role::Mediator, false), 2)
            .expect("rejoin replaces");
        assert_ne!(again.participant.id, a.participant.id);
        let mut left = false;
        while let Ok(n) = b.notices.try_recv() {
            if let Notice::Left {
                participant_id,
                reason,
            } = n
            {
                left = participant_id == a.participant.id && reason == LeaveReason::Replaced;
            }
        }
        assert!(left, "bob was told the old seat was replaced");
    }

    #[test]
    fn hidden_participants_are_never_listed_or_announced() {
        let rooms = Rooms::default();
        let mut visible_one = rooms
            .admit(&claims("alice", Role::Mediator, false), 5)
            .expect("admit");
        let _hidden = rooms
            .admit(&claims("rec", Role::Guest, true), 5)
            .expect("admit");
        assert!(visible_one.notices.try_recv().is_err());
        let late = rooms
            .admit(&claims("bob", Role::Party, false), 5)
            .expect("admit");
        assert_eq!(late.others.len(), 1);
    }
}
