//! One direction of a link: the conditions it imposes (loss, delay, a rate cap), the
//! bottleneck state that carries them out, and the counters of what it did.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Which way a datagram travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From a client to the server.
    ToServer,
    /// From the server to a client.
    ToClient,
}

impl Direction {
    /// Both directions, client to server first.
    pub const BOTH: [Direction; 2] = [Direction::ToServer, Direction::ToClient];

    pub(super) fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// How one direction of the proxy treats datagrams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConditions {
    /// Probability (0.0–1.0) that a datagram is dropped, independently of the others.
    pub loss: f64,
    /// Added to every datagram that passes (one way).
    pub delay: Duration,
    /// Bottleneck rate in bits per second; `None` for unlimited. Datagrams queue behind each
    /// other at this rate, and are dropped once the queue holds more than `max_queue_delay`.
    pub rate_bps: Option<u64>,
    /// Longest a datagram may wait for the rate cap before it is dropped (a bounded buffer,
    /// as in a real router, rather than latency growing without end).
    pub max_queue_delay: Duration,
}

impl Default for LinkConditions {
    /// A perfect link: no loss, no delay, no cap.
    fn default() -> Self {
        Self {
            loss: 0.0,
            delay: Duration::ZERO,
            rate_bps: None,
            max_queue_delay: Duration::from_millis(500),
        }
    }
}

impl LinkConditions {
    /// A link that drops each datagram with probability `loss`.
    pub fn lossy(loss: f64) -> Self {
        Self {
            loss,
            ..Self::default()
        }
    }

    /// The same link with a one-way delay.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The same link with a rate cap in bits per second.
    pub fn with_rate(mut self, bits_per_second: u64) -> Self {
        self.rate_bps = Some(bits_per_second);
        self
    }

    /// When the last of `len` bytes entering now leaves a bottleneck busy until `busy_until`,
    /// and the new busy time; `None` for an unlimited link.
    pub(super) fn serialise(
        &self,
        len: usize,
        now: Instant,
        busy_until: Instant,
    ) -> Option<Instant> {
        let rate = self.rate_bps.filter(|r| *r > 0)?;
        let bits = len as u64 * 8;
        let transmit = Duration::from_nanos(bits.saturating_mul(1_000_000_000) / rate);
        Some(busy_until.max(now) + transmit)
    }
}

/// What one direction of the proxy (or of one flow) has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Datagrams relayed.
    pub passed: u64,
    /// Bytes relayed (UDP payload).
    pub bytes_passed: u64,
    /// Datagrams dropped by the random loss.
    pub dropped_loss: u64,
    /// Datagrams dropped because the queue was full (rate cap or too many in flight).
    pub dropped_queue: u64,
    /// Datagrams dropped because their flow was cut.
    pub dropped_cut: u64,
}

impl LinkCounters {
    /// Every datagram that entered the link.
    pub fn offered(&self) -> u64 {
        self.passed + self.dropped()
    }

    /// Datagrams dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_queue + self.dropped_cut
    }

    /// What happened between `earlier` (a snapshot of the same link) and `self`.
    pub fn since(&self, earlier: &LinkCounters) -> LinkCounters {
        LinkCounters {
            passed: self.passed.saturating_sub(earlier.passed),
            bytes_passed: self.bytes_passed.saturating_sub(earlier.bytes_passed),
            dropped_loss: self.dropped_loss.saturating_sub(earlier.dropped_loss),
            dropped_queue: self.dropped_queue.saturating_sub(earlier.dropped_queue),
            dropped_cut: self.dropped_cut.saturating_sub(earlier.dropped_cut),
        }
    }

    /// Share of offered datagrams dropped for any reason (0.0 when nothing was offered).
    pub fn drop_rate(&self) -> f64 {
        self.dropped() as f64 / self.offered().max(1) as f64
    }
}

/// Conditions plus the state a rate cap and random loss need: one bottleneck.
#[derive(Debug)]
pub(super) struct LinkState {
    pub(super) conditions: LinkConditions,
    /// When the bottleneck finishes sending what is queued (rate cap only).
    pub(super) busy_until: Instant,
    pub(super) rng: StdRng,
}

/// Why a datagram did not pass.
#[derive(Debug, Clone, Copy)]
pub(super) enum DropReason {
    Loss,
    Queue,
    Cut,
}

impl LinkState {
    pub(super) fn new(conditions: LinkConditions, seed: u64) -> Self {
        Self {
            conditions,
            busy_until: Instant::now(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Decides a datagram's fate: when it leaves the link, or why it is dropped.
    pub(super) fn admit(&mut self, len: usize, now: Instant) -> Result<Instant, DropReason> {
        let conditions = self.conditions;
        if conditions.loss > 0.0 && self.rng.random::<f64>() < conditions.loss {
            return Err(DropReason::Loss);
        }
        let mut leaves = now;
        if let Some(busy) = conditions.serialise(len, now, self.busy_until) {
            if self.busy_until.saturating_duration_since(now) > conditions.max_queue_delay {
                return Err(DropReason::Queue);
            }
            self.busy_until = busy;
            leaves = busy;
        }
        Ok(leaves + conditions.delay)
    }
}

/// Atomic counters behind a [`LinkCounters`] snapshot.
#[derive(Debug, Default)]
pub(super) struct Counters {
    passed: AtomicU64,
    bytes_passed: AtomicU64,
    dropped_loss: AtomicU64,
    dropped_queue: AtomicU64,
    dropped_cut: AtomicU64,
}

impl Counters {
    pub(super) fn pass(&self, len: usize) {
        self.passed.fetch_add(1, Ordering::Relaxed);
        self.bytes_passed.fetch_add(len as u64, Ordering::Relaxed);
    }

    pub(super) fn drop(&self, why: DropReason) {
        let counter = match why {
            DropReason::Loss => &self.dropped_loss,
            DropReason::Queue => &self.dropped_queue,
            DropReason::Cut => &self.dropped_cut,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> LinkCounters {
        LinkCounters {
            passed: self.passed.load(Ordering::Relaxed),
            bytes_passed: self.bytes_passed.load(Ordering::Relaxed),
            dropped_loss: self.dropped_loss.load(Ordering::Relaxed),
            dropped_queue: self.dropped_queue.load(Ordering::Relaxed),
            dropped_cut: self.dropped_cut.load(Ordering::Relaxed),
        }
    }
}
