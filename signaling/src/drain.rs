//! Draining a node before it stops (SIGTERM in a rolling upgrade or a scale-down), so that
//! nobody's session is cut and no recording is left unfinished.
//!
//! On the first signal the node drains ([`begin`]): the cluster handle says so, so placement
//! on every node skips it; `/readyz` answers 503 `draining`, so the proxy sends nothing new
//! here; a join that would open a room not already live here is refused with `node_draining`
//! (the client joins again with backoff and reaches the node that takes the room); rooms
//! already live go on, joins and resumes into them included. [`run`] then waits until nothing
//! is left ([`Pending::is_idle`]): no room, no recording running, none being finalised or
//! uploaded, no delivery to a court in flight.
//!
//! At the drain deadline, or on a second signal, the node stops waiting ([`release`]): every
//! seat is let go with `left` `node_moving` (not `server_shutdown`, which ends the session on
//! the client), the node leaves the cluster (its placements go), every recording is stopped
//! and finalised (its manifest signed at a clean stop, so it is `complete` up to that
//! moment), and once the files are stored the process exits. A third signal stops waiting
//! even for that: what is not stored yet is finalised as `interrupted` on the next start, as
//! after a crash.
//!
//! Each step is logged with counts, never names.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use accord_protocol::{LeaveReason, RecordingEndReason};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::AppState;
use crate::rooms::Admits;

/// What a refused join is told to wait before trying again.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);
/// How often the drain looks whether anything is left.
const POLL: Duration = Duration::from_millis(250);
/// How often a long drain says what it still waits for.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// How long sessions told to move get to say so to their clients (a socket write has its
/// own 10 s deadline).
const PARTING: Duration = Duration::from_secs(12);
/// How long leaving the cluster (deregistering, giving up placements) may take.
const LEAVE_WITHIN: Duration = Duration::from_secs(5);
/// How long stopped recordings get to be finalised and stored before the process exits
/// anyway (a long recording's audio mix takes a while; anything left is finalised on the
/// next start).
const FINALISE_WITHIN: Duration = Duration::from_secs(15 * 60);

/// The work in flight a draining node must not cut short. Whether the node drains is the
/// cluster handle's to say ([`is_draining`]): placement on every node reads it there.
#[derive(Debug, Default)]
pub struct Drain {
    finalising: Arc<AtomicUsize>,
    delivering: Arc<AtomicUsize>,
}

/// Work the node must finish before it exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// A stopped recording being finalised and uploaded.
    Finalising,
    /// An attempt to deliver a package to a court's system.
    Delivering,
}

/// Counts one piece of [`Work`] as in flight until dropped.
#[derive(Debug)]
#[must_use = "the work counts as in flight only while this is held"]
pub struct Holding(Arc<AtomicUsize>);

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drain {
    /// Counts `work` as in flight until the returned value is dropped.
    pub fn hold(&self, work: Work) -> Holding {
        let counter = match work {
            Work::Finalising => &self.finalising,
            Work::Delivering => &self.delivering,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        Holding(counter.clone())
    }

    fn count(&self, work: Work) -> usize {
        match work {
            Work::Finalising => self.finalising.load(Ordering::SeqCst),
            Work::Delivering => self.delivering.load(Ordering::SeqCst),
        }
    }
}

/// What still keeps a draining node from stopping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Rooms with anyone in them (or a seat held for a resume).
    pub rooms: usize,
    /// Signaling sockets open.
    pub sockets: i64,
    /// Rooms recording, or announcing a recording.
    pub recordings: usize,
    /// Stopped recordings being finalised and stored.
    pub finalising: usize,
    /// Recording files waiting to be uploaded.
    pub uploads: i64,
    /// Deliveries to courts' systems in flight.
    pub deliveries: usize,
}

impl Pending {
    /// Nothing left: no room, no recording running, finalising or uploading, no delivery.
    /// Sockets do not count: one that never joined a room holds nothing.
    pub fn is_idle(&self) -> bool {
        self.rooms == 0
            && self.recordings == 0
            && self.finalising == 0
            && self.uploads <= 0
            && self.deliveries == 0
    }

    /// Nothing in flight that stores anything: what the release waits for.
    fn is_stored(&self) -> bool {
        self.recordings == 0 && self.finalising == 0 && self.uploads <= 0 && self.deliveries == 0
    }
}

/// What the node still has going on.
pub fn pending(state: &AppState) -> Pending {
    Pending {
        rooms: state.rooms().room_count(),
        sockets: state.metrics().sessions(),
        recordings: state.recorders().active_rooms(),
        finalising: state.drain().count(Work::Finalising),
        uploads: state.recorders().metrics().snapshot().pending_upload,
        deliveries: state.drain().count(Work::Delivering),
    }
}

/// Whether the node drains (its first stop signal came).
pub fn is_draining(state: &AppState) -> bool {
    state.cluster().draining()
}

/// Starts draining: placement (here and on the other nodes) skips this node, `/readyz` says
/// `draining`, and no new room starts here.
pub fn begin(state: &AppState) {
    state.cluster().set_draining(true);
    if state.rooms().admits() == Admits::All {
        state.rooms().set_admits(Admits::LiveRooms);
    }
}

/// How a drain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Everything finished by itself.
    Drained,
    /// The deadline passed: seats were let go and recordings stopped.
    Deadline,
    /// A second signal: seats were let go and recordings stopped.
    Signal,
}

/// What [`release`] let go and stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Release {
    /// Rooms closed.
    pub rooms: usize,
    /// Seats let go (their clients told `node_moving`).
    pub seats: usize,
    /// Recordings stopped (and finalised).
    pub recordings: usize,
    /// Whether everything stopped was stored before the process gave up waiting.
    pub stored: bool,
}

/// Drains the node: [`begin`], then wait until it is idle, `deadline` passes or another
/// value arrives on `signals`, and in the last two cases [`release`] everything.
pub async fn run(state: &AppState, signals: &mut mpsc::Receiver<()>, deadline: Duration) -> Ended {
    begin(state);
    let at_start = pending(state);
    tracing::info!(
        rooms = at_start.rooms,
        sockets = at_start.sockets,
        recordings = at_start.recordings,
        finalising = at_start.finalising,
        deliveries = at_start.deliveries,
        deadline_s = deadline.as_secs(),
        "draining: no new rooms; waiting for the live ones to end"
    );
    let deadline_at = Instant::now() + deadline;
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_progress = Instant::now();
    let mut idle_once = false;
    let mut signals_open = true;
    let ended = loop {
        tokio::select! {
            _ = poll.tick() => {
                let now = pending(state);
                // Idle twice in a row: a recording stopped between two looks is counted as
                // finalising only once its finalisation started.
                if now.is_idle() {
                    if idle_once {
                        tracing::info!("drained: no rooms, recordings or deliveries left");
                        break Ended::Drained;
                    }
                    idle_once = true;
                } else {
                    idle_once = false;
                }
                if last_progress.elapsed() >= PROGRESS_EVERY {
                    last_progress = Instant::now();
                    tracing::info!(
                        rooms = now.rooms,
                        sockets = now.sockets,
                        recordings = now.recordings,
                        finalising = now.finalising,
                        uploads = now.uploads,
                        deliveries = now.deliveries,
                        left_s = deadline_at.saturating_duration_since(Instant::now()).as_secs(),
                        "draining: still waiting"
                    );
                }
            }
            _ = tokio::time::sleep_until(deadline_at) => {
                tracing::warn!("drain deadline reached: moving everyone off this node");
                break Ended::Deadline;
            }
            signal = signals.recv(), if signals_open => match signal {
                Some(()) => {
                    tracing::warn!("second stop signal: moving everyone off this node");
                    break Ended::Signal;
                }
                None => signals_open = false,
            },
        }
    };
    if ended != Ended::Drained {
        release(state, signals).await;
    }
    ended
}

/// Lets every seat go (`node_moving`), stops every recording, and waits until what they
/// wrote is stored (up to a bound, or until another value on `signals`).
pub async fn release(state: &AppState, signals: &mut mpsc::Receiver<()>) -> Release {
    begin(state);
    let released = state.rooms().release_all(LeaveReason::NodeMoving);
    tracing::info!(
        rooms = released.rooms,
        seats = released.seats,
        "told every participant to join again (node_moving)"
    );
    // Their placements go with them, before the clients are back: the node they reach next
    // must not find the rooms still placed here. Nothing is placed here any more, so the
    // node leaves the cluster at once rather than when its lease runs out.
    if tokio::time::timeout(LEAVE_WITHIN, state.cluster().leave())
        .await
        .is_err()
    {
        tracing::warn!("leaving the cluster timed out; this node's lease runs out instead");
    }
    // Stopped after the seats went, so nobody hears "recording stopped" as if the session
    // had ended: their clients are joining again.
    let rooms = state.recorders().active_room_names();
    for room in &rooms {
        crate::recording::control::stop(state, room, None, RecordingEndReason::Ended);
    }
    tracing::info!(
        recordings = rooms.len(),
        "stopped the recordings; finalising them"
    );
    let parting_until = Instant::now() + PARTING;
    let give_up_at = Instant::now() + FINALISE_WITHIN;
    let mut poll = tokio::time::interval(POLL);
    let mut last_progress = Instant::now();
    let mut signals_open = true;
    let stored = loop {
        tokio::select! {
            _ = poll.tick() => {
                let now = pending(state);
                let parted = now.sockets <= 0 || Instant::now() >= parting_until;
                if now.is_stored() && parted {
                    tracing::info!(sockets = now.sockets, "recordings stored; stopping");
                    break true;
                }
                if Instant::now() >= give_up_at {
                    tracing::error!(
                        finalising = now.finalising,
                        uploads = now.uploads,
                        "recordings not stored in time; the next start finalises them"
                    );
                    break false;
                }
                if last_progress.elapsed() >= PROGRESS_EVERY {
                    last_progress = Instant::now();
                    tracing::info!(
                        finalising = now.finalising,
                        uploads = now.uploads,
                        deliveries = now.deliveries,
                        "stopping: still storing"
                    );
                }
            }
            signal = signals.recv(), if signals_open => match signal {
                Some(()) => {
                    let now = pending(state);
                    tracing::warn!(
                        finalising = now.finalising,
                        uploads = now.uploads,
                        "third stop signal: exiting now; the next start finalises what is left"
                    );
                    break false;
                }
                None => signals_open = false,
            },
        }
    };
    Release {
        rooms: released.rooms,
        seats: released.seats,
        recordings: rooms.len(),
        stored,
    }
}
