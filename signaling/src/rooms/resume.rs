//! Seats held open across a dropped socket: detaching a seat for a grace period, taking it
//! back by its resume token, and handing it over from an older session that has not noticed
//! its socket died.

use std::time::Duration;

use accord_protocol::{LeaveReason, ParticipantInfo, PauseReason};

use super::{Notice, Notices, Rooms, Seat, view};

/// A resumed seat.
pub struct Resumed {
    /// The seat's participant.
    pub participant: ParticipantInfo,
    /// The media side, with events buffered while the socket was gone.
    pub seat: Seat,
    /// Notices for the new session.
    pub notices: Notices,
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

impl Rooms {
    /// Takes back a seat by its resume token. The seat is usually detached already; if an
    /// older session still holds it (its socket died without the server noticing), that session
    /// is asked to let go and the seat is taken once it has, within `HANDOVER_TIMEOUT`.
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
        let Some(state) = rooms.get_mut(room) else {
            return ResumeAttempt::NoSuchSeat;
        };
        let Some((_, member)) = state.members.iter_mut().find(|(_, m)| {
            m.info.identity == identity
                && !m.waiting
                && accord_cases::tokens::constant_time_eq(
                    m.resume_token.as_bytes(),
                    resume_token.as_bytes(),
                )
        }) else {
            return ResumeAttempt::NoSuchSeat;
        };
        let Some(seat) = member.detached.take() else {
            member.tell(Notice::ResumedElsewhere);
            return ResumeAttempt::HeldElsewhere;
        };
        let (tx, notices) = Notices::channel();
        member.notices = Some(tx);
        member.generation += 1;
        member.in_view = false;
        if member.info.paused == Some(PauseReason::Reconnecting) {
            member.info.paused = None;
        }
        let participant = member.info.clone();
        let generation = member.generation;
        view::sync(state, &[]);
        ResumeAttempt::Resumed(Resumed {
            participant,
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
            let Some(state) = rooms.get_mut(room) else {
                return;
            };
            let Some(member) = state.members.get_mut(participant_id) else {
                return;
            };
            member.notices = None;
            member.detached = Some(seat);
            // Someone already away stays "away": that says more than "reconnecting".
            if member.info.paused.is_none() {
                member.info.paused = Some(PauseReason::Reconnecting);
            }
            let generation = member.generation;
            view::sync(state, &[]);
            generation
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
                .and_then(|r| r.members.get(participant_id))
                .is_some_and(|m| m.generation == generation && m.detached.is_some())
        };
        if still_detached {
            self.remove(room, participant_id, LeaveReason::Disconnected);
        }
    }
}
