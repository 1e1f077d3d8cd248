//! Which shard a new room goes to.
//!
//! A shard that is asleep costs nothing, but every shard that has rooms wakes up for their
//! datagrams: two shards with five rooms each wake twice as often as one with ten, each
//! wake-up handling half as many datagrams, and the kernel charges for every wake-up and
//! every `sendmmsg` call. Measured in the load tool's 10 × 4 scenario, one shard carrying all
//! ten rooms used 11 % less CPU per forwarded packet than two shards with five each
//! (`docs/benchmarks.md`, "Rooms packed onto one shard"). So new rooms fill the first shard
//! until it holds [`SfuConfig::shard_fill`](crate::SfuConfig) participants or is half busy,
//! then the next; once every shard is that full, rooms spread evenly again, so a busy node
//! uses all its cores.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Busy above this share of its time (per mille), a shard takes no more rooms while another
/// is below its fill: a few heavy rooms (a hearing with many observers, a recording) fill a
/// shard sooner than their head count says.
const PACK_BELOW_BUSY_PERMILLE: u32 = 500;

/// How often a shard's busy share is recomputed.
const BUSY_WINDOW: Duration = Duration::from_secs(1);

/// Each shard's busy share over its last second, written by its driver and read by placement.
pub(crate) struct ShardLoads {
    busy_permille: Box<[AtomicU32]>,
}

impl ShardLoads {
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            busy_permille: (0..shards).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Each shard's busy share, per mille.
    pub(crate) fn busy_permille(&self) -> Vec<u32> {
        self.busy_permille
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }

    /// The busiest shard's share of its time spent working, 0.0–1.0.
    pub(crate) fn busiest(&self) -> f64 {
        let most = self
            .busy_permille
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        f64::from(most) / 1000.0
    }

    fn set(&self, shard: usize, permille: u32) {
        if let Some(slot) = self.busy_permille.get(shard) {
            slot.store(permille, Ordering::Relaxed);
        }
    }
}

/// A driver's measure of how much of its time it spends working rather than waiting.
pub(crate) struct BusyMeter {
    shard: usize,
    window_start: Instant,
    busy: Duration,
}

impl BusyMeter {
    pub(crate) fn new(shard: usize, now: Instant) -> Self {
        Self {
            shard,
            window_start: now,
            busy: Duration::ZERO,
        }
    }

    /// Counts one stretch of work, from `woke` to `now`; publishes the share once a window is
    /// over.
    pub(crate) fn worked(&mut self, woke: Instant, now: Instant, loads: &ShardLoads) {
        self.busy += now.saturating_duration_since(woke);
        let window = now.saturating_duration_since(self.window_start);
        if window >= BUSY_WINDOW {
            let permille = (self.busy.as_secs_f64() / window.as_secs_f64() * 1000.0)
                .round()
                .clamp(0.0, 1000.0) as u32;
            loads.set(self.shard, permille);
            self.window_start = now;
            self.busy = Duration::ZERO;
        }
    }
}

/// The shard for a new room, given each shard's participants (and recorder taps) and busy
/// share. `fill` 0 spreads every room to the shard with the fewest members.
pub(crate) fn choose_shard(members: &[usize], busy_permille: &[u32], fill: usize) -> usize {
    if fill > 0 {
        let open = (0..members.len()).find(|&i| {
            members[i] < fill
                && busy_permille
                    .get(i)
                    .is_none_or(|&b| b < PACK_BELOW_BUSY_PERMILLE)
        });
        if let Some(shard) = open {
            return shard;
        }
    }
    (0..members.len()).min_by_key(|&i| members[i]).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_fill_the_first_shard_before_waking_a_second() {
        assert_eq!(choose_shard(&[0, 0], &[0, 0], 48), 0);
        assert_eq!(choose_shard(&[40, 0], &[300, 0], 48), 0);
        assert_eq!(choose_shard(&[47, 0], &[300, 0], 48), 0);
        assert_eq!(choose_shard(&[48, 0], &[300, 0], 48), 1);
        assert_eq!(choose_shard(&[48, 12, 0], &[300, 80, 0], 48), 1);
    }

    #[test]
    fn a_busy_shard_takes_no_more_rooms_however_few_its_members() {
        // A hearing of 20 with its recording keeps the first shard over half busy.
        assert_eq!(choose_shard(&[21, 0], &[620, 0], 48), 1);
        assert_eq!(choose_shard(&[21, 4], &[620, 499], 48), 1);
    }

    #[test]
    fn once_every_shard_is_full_rooms_spread_to_the_fewest_members() {
        assert_eq!(choose_shard(&[60, 52], &[400, 350], 48), 1);
        assert_eq!(choose_shard(&[30, 52], &[700, 650], 48), 0);
    }

    #[test]
    fn no_fill_spreads_every_room() {
        assert_eq!(choose_shard(&[0, 0], &[0, 0], 0), 0);
        assert_eq!(choose_shard(&[4, 0], &[0, 0], 0), 1);
        assert_eq!(choose_shard(&[4, 4, 3], &[0, 0, 0], 0), 2);
    }

    #[test]
    fn a_shard_with_no_busy_figure_yet_counts_as_idle() {
        assert_eq!(choose_shard(&[4, 0], &[], 48), 0);
        assert_eq!(choose_shard(&[], &[], 48), 0);
    }

    #[test]
    fn the_busy_share_is_published_once_a_window_is_over() {
        let loads = ShardLoads::new(2);
        let t0 = Instant::now();
        let mut meter = BusyMeter::new(1, t0);
        // Four quarter-seconds, each half spent working.
        for q in 0..4u32 {
            let woke = t0 + Duration::from_millis(250 * u64::from(q));
            meter.worked(woke, woke + Duration::from_millis(125), &loads);
        }
        assert_eq!(loads.busy_permille(), vec![0, 0], "not a whole window yet");
        let woke = t0 + Duration::from_millis(1000);
        meter.worked(woke, woke + Duration::from_millis(125), &loads);
        // 625 ms busy in 1,125 ms.
        assert_eq!(loads.busy_permille(), vec![0, 556]);
        assert!((loads.busiest() - 0.556).abs() < 1e-9);
    }
}
