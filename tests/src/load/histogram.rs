//! A lock-free latency histogram: every receiving task records into it directly, so measuring
//! costs one atomic add per packet and no lock shared between clients.
//!
//! Log-linear buckets: exact below 128 ns, then 128 buckets per power of two, so a reported
//! quantile is within 0.8 % of the true value at any scale.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
/// Enough buckets for any `u64`.
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

/// A histogram of nanosecond values; see the module docs.
#[derive(Debug)]
pub struct AtomicHistogram {
    buckets: Box<[AtomicU64]>,
    max: AtomicU64,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
        }
    }
}

fn index(value: u64) -> usize {
    if value < SUB as u64 {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    let shift = exponent - SUB_BITS;
    let sub = (value >> shift) as usize - SUB;
    ((shift as usize + 1) << SUB_BITS) + sub
}

/// The middle of a bucket: the value reported for everything in it.
fn midpoint(index: usize) -> u64 {
    if index < SUB {
        return index as u64;
    }
    let shift = (index >> SUB_BITS) - 1;
    let sub = (index & (SUB - 1)) as u64;
    let low = (SUB as u64 + sub) << shift;
    low + ((1u64 << shift) >> 1)
}

impl AtomicHistogram {
    /// Counts one value.
    pub fn record(&self, value_ns: u64) {
        self.buckets[index(value_ns)].fetch_add(1, Relaxed);
        self.max.fetch_max(value_ns, Relaxed);
    }

    /// A copy to compute quantiles from.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            counts: self.buckets.iter().map(|b| b.load(Relaxed)).collect(),
            max: self.max.load(Relaxed),
        }
    }
}

/// A frozen [`AtomicHistogram`].
#[derive(Debug, Clone)]
pub struct Snapshot {
    counts: Vec<u64>,
    max: u64,
}

impl Snapshot {
    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The value at quantile `q` (0–1); `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(midpoint(i).min(self.max));
            }
        }
        Some(self.max)
    }

    /// The largest value recorded.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The mean, from bucket midpoints.
    pub fn mean(&self) -> Option<f64> {
        let total = self.count();
        (total > 0).then(|| {
            self.counts
                .iter()
                .enumerate()
                .map(|(i, &c)| midpoint(i) as f64 * c as f64)
                .sum::<f64>()
                / total as f64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for v in (0..1_000_000u64)
            .step_by(37)
            .chain([u64::MAX / 2, u64::MAX])
        {
            let i = index(v);
            assert!(i >= last, "index must not decrease at {v}");
            assert!(i < BUCKETS);
            last = i;
            let mid = midpoint(i) as f64;
            if v > 0 {
                assert!((mid - v as f64).abs() / v as f64 <= 0.008, "{v} -> {mid}");
            }
        }
    }

    #[test]
    fn quantiles() {
        let h = AtomicHistogram::default();
        for us in 1..=1000u64 {
            h.record(us * 1000);
        }
        let s = h.snapshot();
        assert_eq!(s.count(), 1000);
        let p50 = s.quantile(0.5).expect("not empty") as f64;
        let p99 = s.quantile(0.99).expect("not empty") as f64;
        assert!((p50 - 500_000.0).abs() < 4_000.0, "p50 {p50}");
        assert!((p99 - 990_000.0).abs() < 8_000.0, "p99 {p99}");
        assert_eq!(s.max(), 1_000_000);
        assert!(
            AtomicHistogram::default()
                .snapshot()
                .quantile(0.5)
                .is_none()
        );
    }
}
