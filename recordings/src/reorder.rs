//! Puts one track's packets back in sequence order.
//!
//! The SFU has already repaired loss with NACK, so what arrives is nearly in order: a
//! retransmission comes in a round trip late, a packet now and then overtakes another. The
//! buffer holds packets that arrive after a gap for a short while (a retransmission may still
//! fill it), then gives up on the gap so that a lost packet costs a short delay, never a stall.
//! It is bounded twice: by the time the oldest held packet has waited and by how many are held.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// How long a gap is waited for, in µs of arrival time: a NACK round trip on a poor mobile
/// network, with margin.
pub const DEFAULT_MAX_WAIT_US: u64 = 150_000;
/// How many packets may wait behind a gap: a large keyframe plus a little.
pub const DEFAULT_MAX_HELD: usize = 256;

/// Reorders packets of one RTP stream by extended (64-bit) sequence number.
#[derive(Debug)]
pub struct ReorderBuffer<T> {
    held: BTreeMap<u64, (u64, T)>,
    /// Extended sequence number of the next packet to release.
    next: Option<u64>,
    /// Highest extended sequence number seen, the reference for extending 16-bit ones.
    highest: u64,
    max_wait_us: u64,
    max_held: usize,
    /// Packets in a row that were older than what was released: a sender that restarted its
    /// sequence numbers, rather than a few stragglers.
    stale_in_a_row: usize,
    dropped: u64,
}

impl<T> ReorderBuffer<T> {
    /// A buffer that waits at most `max_wait_us` of arrival time for a gap, holding at most
    /// `max_held` packets (at least one).
    pub fn new(max_wait_us: u64, max_held: usize) -> Self {
        Self {
            held: BTreeMap::new(),
            next: None,
            highest: 0,
            max_wait_us,
            max_held: max_held.max(1),
            stale_in_a_row: 0,
            dropped: 0,
        }
    }

    /// Takes a packet that arrived at `arrival_us` and appends to `out`, in sequence order, the
    /// packets that can go now, each with its extended sequence number. Duplicates and packets
    /// older than what was already released are dropped.
    pub fn push(
        &mut self,
        sequence_number: u16,
        arrival_us: u64,
        item: T,
        out: &mut Vec<(u64, T)>,
    ) {
        let extended = self.extend(sequence_number);
        if let Some(next) = self.next
            && extended < next
        {
            self.dropped += 1;
            self.stale_in_a_row += 1;
            if self.stale_in_a_row > self.max_held {
                // The sender started over: follow it rather than drop it for good.
                self.drain(out);
                self.highest = extended;
                self.next = Some(extended);
                self.held.insert(extended, (arrival_us, item));
                self.stale_in_a_row = 0;
                self.release(arrival_us, out);
            }
            return;
        }
        self.stale_in_a_row = 0;
        // Before anything was released, the first packet to arrive need not be the first one
        // sent: everything waits, sorted, until the wait or the bound says go (see release).
        match self.held.entry(extended) {
            Entry::Occupied(_) => self.dropped += 1,
            Entry::Vacant(slot) => {
                slot.insert((arrival_us, item));
            }
        }
        self.release(arrival_us, out);
    }

    /// Releases everything held, in order, gaps and all: the end of the stream.
    pub fn drain(&mut self, out: &mut Vec<(u64, T)>) {
        while let Some((extended, (_, item))) = self.held.pop_first() {
            self.next = Some(extended + 1);
            out.push((extended, item));
        }
    }

    /// Packets dropped as duplicates or as older than what was released.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Packets waiting behind a gap.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    fn extend(&mut self, sequence_number: u16) -> u64 {
        if self.next.is_none() && self.held.is_empty() {
            // Start well above zero so that packets a little older than the first still extend.
            self.highest = (1 << 16) + u64::from(sequence_number);
            return self.highest;
        }
        let delta = i64::from(sequence_number.wrapping_sub(self.highest as u16) as i16);
        let extended = (self.highest as i64 + delta).max(0) as u64;
        self.highest = self.highest.max(extended);
        extended
    }

    fn release(&mut self, now_us: u64, out: &mut Vec<(u64, T)>) {
        while let Some((&extended, &(arrived_us, _))) = self.held.first_key_value() {
            // Before the first release, the lowest held packet is the next one only once the
            // wait for anything older is over.
            let next = self.next.unwrap_or(extended.wrapping_sub(1));
            let waited = now_us.saturating_sub(arrived_us);
            let give_up_gap = waited >= self.max_wait_us || self.held.len() > self.max_held;
            if extended != next && !give_up_gap {
                break;
            }
            let Some((_, (_, item))) = self.held.pop_first() else {
                break;
            };
            self.next = Some(extended + 1);
            out.push((extended, item));
        }
    }
}

impl<T> Default for ReorderBuffer<T> {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_WAIT_US, DEFAULT_MAX_HELD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(buffer: &mut ReorderBuffer<u16>, arrivals: &[(u16, u64)]) -> Vec<u64> {
        let mut out = Vec::new();
        for &(seq, at) in arrivals {
            buffer.push(seq, at, seq, &mut out);
        }
        out.into_iter().map(|(extended, _)| extended).collect()
    }

    #[test]
    fn swapped_packets_come_out_in_order_across_the_wrap() {
        let mut buffer = ReorderBuffer::default();
        let arrivals = [
            (0, 0),
            (65534, 10),
            (65535, 20),
            (1, 30),
            (1, 40),
            (65535, 50),
        ];
        let out = run(&mut buffer, &arrivals);
        assert!(out.is_empty(), "the start waits for anything sent earlier");
        let out = run(&mut buffer, &[(2, 200_000), (65534, 200_001)]);
        let base = (1 << 16) - 2; // the first to arrive, 0, extends to 1 << 16
        assert_eq!(out, vec![base, base + 1, base + 2, base + 3, base + 4]);
        assert_eq!(buffer.dropped(), 3, "two duplicates and a late packet");
    }

    #[test]
    fn a_gap_is_given_up_after_the_wait_or_when_too_many_are_held() {
        let mut buffer = ReorderBuffer::new(150_000, 4);
        let out = run(&mut buffer, &[(10, 0), (12, 1_000), (13, 2_000)]);
        assert!(out.is_empty(), "the start waits, and 11 may still come");
        let out = run(&mut buffer, &[(14, 151_000)]);
        assert_eq!(
            out.len(),
            4,
            "10 and, after 150 ms, 12 to 14: 11 is given up"
        );
        let out = run(&mut buffer, &[(11, 152_000)]);
        assert!(out.is_empty(), "11 came too late");

        let mut buffer = ReorderBuffer::new(u64::MAX, 4);
        let out = run(&mut buffer, &[(1, 0), (3, 0), (4, 0), (5, 0), (6, 0)]);
        assert_eq!(out.len(), 1);
        let out = run(&mut buffer, &[(7, 0)]);
        assert_eq!(out.len(), 5, "more than four held: the gap is given up");
    }

    #[test]
    fn a_sender_that_starts_over_is_followed() {
        let mut buffer = ReorderBuffer::new(150_000, 2);
        let first = run(&mut buffer, &[(1000, 0), (1001, 200_000)]);
        assert_eq!(first.len(), 2);
        let later = run(
            &mut buffer,
            &[(5, 300_000), (6, 300_000), (7, 300_000), (8, 300_000)],
        );
        assert_eq!(
            later.len(),
            2,
            "after more than max_held stale packets, it resyncs"
        );
    }
}
