//! The notices that keep every session's view of its room current, on a bounded queue per
//! session: a session whose client stops reading learns that it fell behind instead of
//! holding ever more memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use accord_protocol::{
    ChatMessage, LeaveReason, ParticipantInfo, PauseReason, RecordingStatus, SharedEvidence, Space,
};
use accord_sfu::TrackSource;
use tokio::sync::mpsc;

/// A change in a room that a session passes on (or acts on).
#[derive(Clone, Debug)]
pub enum Notice {
    /// Someone came into view.
    Joined(ParticipantInfo),
    /// More notices came than the session took (its client stopped reading): some were lost,
    /// so its view is no longer true and it must end.
    Overflowed,
    /// Someone went out of view.
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
    /// Someone in view changed otherwise.
    Updated(ParticipantInfo),
    /// To moderators: everyone waiting.
    WaitingRoom(Vec<ParticipantInfo>),
    /// A moderator let you in from the waiting room.
    Admitted,
    /// You were moved: move your media, then tell your client.
    Moved(Space),
    /// The room was locked or unlocked.
    Locked(bool),
    /// A mediator asks you to turn a source on.
    UnmuteRequested {
        /// Which.
        source: TrackSource,
        /// The mediator's name.
        by: String,
    },
    /// A mediator muted one of your sources: hold it in the media server, tell your client.
    Hold(TrackSource),
    /// A chat message.
    Chat(ChatMessage),
    /// A file shared in your space.
    Evidence(SharedEvidence),
    /// The recording changed, or you moved where it differs.
    Recording(RecordingStatus),
    /// You have been replaced by a newer join with your identity, removed, denied, or the
    /// session ended; the text is a moderator's reason.
    YouAreGone(LeaveReason, Option<String>),
    /// A newer socket presented your seat's resume token: yours is taken for dead (a phone that
    /// lost its network sends no close, so the server may not have noticed), and the seat is to
    /// be let go of as after a dropped socket, for the newer one to take.
    ResumedElsewhere,
    /// A frame passed on as it is: agreement drafting (`draft_*`, `agreement_changed`).
    Frame(Box<accord_protocol::ServerMessage>),
}

/// Notices one session may have waiting: plenty for a burst (a room of 20 changing at once,
/// a chat flood within the rate limit) while its socket is busy, little enough that a client
/// which stops reading costs a bounded amount of memory before it is dropped.
pub const NOTICE_QUEUE: usize = 256;

/// The sending end of a session's notices, kept by the room.
pub(super) struct NoticeSender {
    tx: mpsc::Sender<Notice>,
    overflowed: Arc<AtomicBool>,
}

impl NoticeSender {
    /// Queues a notice; when the queue is full it is dropped and the receiver told so.
    pub(super) fn send(&self, notice: Notice) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(notice) {
            self.overflowed.store(true, Ordering::Relaxed);
        }
    }
}

/// A session's notices, at most [`NOTICE_QUEUE`] waiting.
pub struct Notices {
    rx: mpsc::Receiver<Notice>,
    overflowed: Arc<AtomicBool>,
}

impl Notices {
    /// A new session's queue: the room keeps the sender, the session the receiver.
    pub(super) fn channel() -> (NoticeSender, Self) {
        let (tx, rx) = mpsc::channel(NOTICE_QUEUE);
        let overflowed = Arc::new(AtomicBool::new(false));
        let sender = NoticeSender {
            tx,
            overflowed: Arc::clone(&overflowed),
        };
        (sender, Self { rx, overflowed })
    }

    /// The next notice; [`Notice::Overflowed`] once one had to be dropped, `None` when the
    /// room let go of this session.
    pub async fn recv(&mut self) -> Option<Notice> {
        let notice = self.rx.recv().await;
        if self.overflowed.load(Ordering::Relaxed) {
            return Some(Notice::Overflowed);
        }
        notice
    }

    /// A notice already waiting, if any (tests).
    pub fn try_recv(&mut self) -> Result<Notice, mpsc::error::TryRecvError> {
        self.rx.try_recv()
    }
}
