//! What was sent, joined with what the receiver said about it.

use super::acknowledgement::{Acknowledgement, PacketReport};
use rtcp::transport_feedbacks::cc_feedback_report::Ecn;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Records outgoing packets and matches incoming feedback against them.
///
/// The two feedback formats identify a packet differently — TWCC by its own transport-wide
/// sequence number, RFC 8888 by the stream's SSRC and RTP sequence number — so both indexes are
/// kept, pointing at one record.
///
/// Accord's patch: records are kept in a ring in send order rather than in hash maps. Ids are
/// consecutive and every release — reporting, pruning — happens at the oldest end, so a record's
/// place follows from its id, and the indexes are rings too, because both kinds of sequence
/// number advance by one per packet. Recording a packet is then a push instead of three hash
/// inserts, and pruning looks at the oldest records instead of every record.
#[derive(Debug, Default)]
pub struct History {
    /// Monotonic id, so reports come out in send order however sequence numbers wrap.
    next_id: u64,
    /// Every tracked packet, oldest first; ids are consecutive, so `packets[i]` has the
    /// front's id plus `i`.
    packets: VecDeque<PacketReport>,
    twcc_index: SequenceIndex,
    /// RTP sequence number to id, per SSRC. A connection sends a handful of streams, so a short
    /// list beats hashing the SSRC on every packet.
    ssrc_sequence_index: Vec<(u32, SequenceIndex)>,
    /// Highest id acknowledged so far.
    highest_acknowledged: Option<u64>,
}

/// Maps a 16-bit sequence number that advances by one per packet to the id recorded with it.
///
/// `ids[i]` belongs to sequence number `first + i`. A gap leaves `NO_ID` holes; a jump too far
/// forward, or any step backward past the window, starts the window again at the new number,
/// which loses only the older numbers' feedback — the same packets feedback could no longer be
/// told apart from once the numbers wrapped.
#[derive(Debug, Default)]
struct SequenceIndex {
    first: u16,
    ids: VecDeque<u64>,
}

const NO_ID: u64 = u64::MAX;

/// How many streams' indexes are kept while idle: more than a connection sends at once.
const MAX_STREAMS_KEPT: usize = 16;

/// The widest gap a sequence may jump while keeping the entries before it.
const MAX_GAP: usize = 4096;

/// The most entries kept, half the sequence space, so an offset is never ambiguous.
const MAX_WINDOW: usize = 1 << 15;

impl SequenceIndex {
    fn insert(&mut self, sequence_number: u16, id: u64) {
        if self.ids.is_empty() {
            self.first = sequence_number;
            self.ids.push_back(id);
            return;
        }
        let offset = usize::from(sequence_number.wrapping_sub(self.first));
        if let Some(slot) = self.ids.get_mut(offset) {
            // The same number again: the latest packet holds it, as a map insert would.
            *slot = id;
            return;
        }
        let gap = offset - self.ids.len();
        if gap > MAX_GAP || offset >= MAX_WINDOW {
            self.ids.clear();
            self.first = sequence_number;
            self.ids.push_back(id);
            return;
        }
        // `offset < MAX_WINDOW`, so the window stays within half the sequence space.
        self.ids.extend(std::iter::repeat_n(NO_ID, gap));
        self.ids.push_back(id);
    }

    fn get(&self, sequence_number: u16) -> Option<u64> {
        let offset = usize::from(sequence_number.wrapping_sub(self.first));
        self.ids.get(offset).copied().filter(|&id| id != NO_ID)
    }

    /// Forget the entries at the front that point below `first_live_id`.
    fn release_below(&mut self, first_live_id: u64) {
        while let Some(&id) = self.ids.front() {
            if id != NO_ID && id >= first_live_id {
                break;
            }
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if self.ids.pop_front().is_some() {
            self.first = self.first.wrapping_add(1);
        }
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many packets are being tracked.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether nothing is being tracked.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Record a packet as it leaves.
    ///
    /// `departure` must be the instant the packet was **released** to the network, not the
    /// instant the application handed it over. A pacer can hold a packet for tens of
    /// milliseconds, and counting that as network delay is exactly the error that makes a
    /// bandwidth estimate collapse (chain contract rule 3).
    #[allow(clippy::too_many_arguments)]
    pub fn add_outgoing(
        &mut self,
        ssrc: u32,
        rtp_sequence_number: u16,
        is_twcc: bool,
        twcc_sequence_number: u16,
        size: usize,
        departure: Instant,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;

        if is_twcc {
            self.twcc_index.insert(twcc_sequence_number, id);
        }
        match self
            .ssrc_sequence_index
            .iter_mut()
            .find(|(tracked, _)| *tracked == ssrc)
        {
            Some((_, index)) => index.insert(rtp_sequence_number, id),
            None => {
                let mut index = SequenceIndex::default();
                index.insert(rtp_sequence_number, id);
                self.ssrc_sequence_index.push((ssrc, index));
            }
        }

        self.packets.push_back(PacketReport {
            ssrc,
            id,
            rtp_sequence_number,
            is_twcc,
            twcc_sequence_number,
            size,
            arrived: false,
            departure,
            arrival: None,
            ecn: Ecn::NotEct,
        });

        id
    }

    /// Apply TWCC feedback, returning the round trip time it implies.
    ///
    /// `None` when the feedback names a packet this endpoint has no record of — which happens
    /// routinely at startup and after the history has been pruned, and is not an error.
    pub fn on_twcc_feedback(
        &mut self,
        received_at: Instant,
        acknowledgement: Acknowledgement,
    ) -> Option<Duration> {
        let id = self.twcc_index.get(acknowledgement.sequence_number)?;
        self.apply(received_at, id, acknowledgement, |packet| {
            packet.is_twcc && packet.twcc_sequence_number == acknowledgement.sequence_number
        })
    }

    /// Apply RFC 8888 feedback for one stream, returning the round trip time it implies.
    pub fn on_ccfb_feedback(
        &mut self,
        received_at: Instant,
        ssrc: u32,
        acknowledgement: Acknowledgement,
    ) -> Option<Duration> {
        let id = self
            .ssrc_sequence_index
            .iter()
            .find(|(tracked, _)| *tracked == ssrc)?
            .1
            .get(acknowledgement.sequence_number)?;
        self.apply(received_at, id, acknowledgement, |packet| {
            packet.ssrc == ssrc && packet.rtp_sequence_number == acknowledgement.sequence_number
        })
    }

    /// The id of the oldest record held, or of the next one recorded if none is.
    fn first_id(&self) -> u64 {
        self.packets
            .front()
            .map_or(self.next_id, |packet| packet.id)
    }

    /// Apply feedback to record `id`, if an index entry still leads to the packet the feedback
    /// names (`names` checks that).
    fn apply(
        &mut self,
        received_at: Instant,
        id: u64,
        acknowledgement: Acknowledgement,
        names: impl Fn(&PacketReport) -> bool,
    ) -> Option<Duration> {
        let offset = usize::try_from(id.checked_sub(self.first_id())?).ok()?;
        let packet = self
            .packets
            .get_mut(offset)
            .filter(|packet| names(packet))?;

        packet.arrived = acknowledgement.arrived;
        packet.arrival = acknowledgement.arrival;
        packet.ecn = acknowledgement.ecn;

        if packet.arrived {
            self.highest_acknowledged = Some(match self.highest_acknowledged {
                Some(highest) => highest.max(id),
                None => id,
            });
        }

        // Round trip: this feedback arrived now, and the packet left then. Both instants are on
        // this endpoint's clock, so unlike the arrival times this is a real duration.
        Some(received_at.saturating_duration_since(packet.departure))
    }

    /// Take everything up to the highest *arrived* packet since the last call, in send order.
    ///
    /// Packets older than that which are still unreported are treated as lost and then dropped.
    /// Loss feedback alone does not advance the reporting window; losses are emitted when a later
    /// packet is reported as arrived.
    pub fn take_reports(&mut self) -> Vec<PacketReport> {
        let Some(highest) = self.highest_acknowledged else {
            return Vec::new();
        };

        let mut reports = Vec::new();
        while self
            .packets
            .front()
            .is_some_and(|packet| packet.id <= highest)
        {
            if let Some(packet) = self.packets.pop_front() {
                reports.push(packet);
            }
        }
        self.release_indexes();

        reports
    }

    /// Drop records of packets sent before `cutoff` that were never acknowledged.
    ///
    /// Without this the history grows without bound on a lossy path: an unacknowledged packet is
    /// never reported and never removed, so nothing else would ever release it. Records leave
    /// oldest first and departures only advance, so this stops at the first record that is
    /// recent enough or acknowledged; an acknowledged one is reported, with every older one, as
    /// soon as its feedback is read.
    pub fn prune_before(&mut self, cutoff: Instant) {
        let mut pruned = false;
        while self
            .packets
            .front()
            .is_some_and(|packet| packet.departure < cutoff && !packet.arrived)
        {
            pruned |= self.packets.pop_front().is_some();
        }
        if pruned {
            self.release_indexes();
        }
    }

    /// Index entries can only point at records still held. A stream whose entries are all gone
    /// keeps its (empty) index, so a stream whose feedback covers everything sent does not
    /// allocate it afresh after every report; only once more than a few are idle are they
    /// forgotten, so streams that come and go do not accumulate.
    fn release_indexes(&mut self) {
        let first_live_id = self.first_id();
        self.twcc_index.release_below(first_live_id);
        for (_, index) in &mut self.ssrc_sequence_index {
            index.release_below(first_live_id);
        }
        if self.ssrc_sequence_index.len() > MAX_STREAMS_KEPT {
            self.ssrc_sequence_index
                .retain(|(_, index)| !index.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history_with_three_packets(now: Instant) -> History {
        let mut history = History::new();
        for sequence_number in 0..3u16 {
            history.add_outgoing(1, 100 + sequence_number, true, sequence_number, 1200, now);
        }
        history
    }

    #[test]
    fn feedback_for_an_unknown_packet_is_ignored() {
        let now = Instant::now();
        let mut history = History::new();

        assert_eq!(
            None,
            history.on_twcc_feedback(now, Acknowledgement::received(5, None, Ecn::NotEct)),
            "nothing was sent with that sequence number"
        );
        assert!(history.take_reports().is_empty());
    }

    #[test]
    fn twcc_feedback_matches_by_transport_wide_sequence_number() {
        let now = Instant::now();
        let mut history = history_with_three_packets(now);

        let rtt = history.on_twcc_feedback(
            now + Duration::from_millis(80),
            Acknowledgement::received(1, Some(Duration::from_millis(5)), Ecn::NotEct),
        );
        assert_eq!(Some(Duration::from_millis(80)), rtt);

        let reports = history.take_reports();
        assert_eq!(2, reports.len(), "everything up to the acknowledgement");
        assert_eq!(101, reports[1].rtp_sequence_number);
        assert!(reports[1].arrived);
        assert!(!reports[0].arrived, "never acknowledged, so a loss");
    }

    /// RFC 8888 names packets by the stream's own sequence number, so two streams can use the
    /// same one and must not be confused.
    #[test]
    fn ccfb_feedback_matches_by_ssrc_and_sequence_number() {
        let now = Instant::now();
        let mut history = History::new();
        history.add_outgoing(1, 500, false, 0, 1000, now);
        history.add_outgoing(2, 500, false, 0, 1000, now);

        history.on_ccfb_feedback(
            now + Duration::from_millis(50),
            2,
            Acknowledgement::received(500, Some(Duration::from_millis(1)), Ecn::Ce),
        );

        let reports = history.take_reports();
        assert_eq!(2, reports.len());
        assert!(
            !reports[0].arrived,
            "stream 1's packet was not acknowledged"
        );
        assert!(reports[1].arrived, "stream 2's was");
        assert_eq!(Ecn::Ce, reports[1].ecn);
    }

    /// Feedback naming a stream that never sent that sequence number must not match another
    /// stream that did. RFC 8888 numbers packets per stream, so the same sequence number is in
    /// use on every stream at once — matching on it alone would attribute one stream's arrival to
    /// another and corrupt both their delay estimates.
    ///
    /// Deterministic by construction: only stream 1 ever sent 500, so a lookup that ignores the
    /// SSRC can only match stream 1's packet, and a correct one can only fail.
    #[test]
    fn ccfb_feedback_for_a_sequence_number_another_stream_sent_does_not_match() {
        let now = Instant::now();
        let mut history = History::new();
        history.add_outgoing(1, 500, false, 0, 1000, now);

        assert_eq!(
            None,
            history.on_ccfb_feedback(
                now + Duration::from_millis(50),
                2,
                Acknowledgement::received(500, Some(Duration::from_millis(1)), Ecn::NotEct),
            ),
            "stream 2 never sent sequence 500"
        );
        assert!(
            history.take_reports().is_empty(),
            "and nothing was acknowledged, so stream 1's packet is still outstanding"
        );
    }

    #[test]
    fn nothing_is_reported_until_something_is_acknowledged() {
        let now = Instant::now();
        let mut history = history_with_three_packets(now);

        assert!(
            history.take_reports().is_empty(),
            "sent but not yet acknowledged"
        );
        assert_eq!(3, history.len(), "and still tracked");
    }

    /// A packet reported once must not be reported again: congestion control would count it
    /// twice, and a loss re-reported later looks like a reordered arrival.
    #[test]
    fn packets_are_reported_once() {
        let now = Instant::now();
        let mut history = history_with_three_packets(now);

        history.on_twcc_feedback(now, Acknowledgement::received(2, None, Ecn::NotEct));
        assert_eq!(3, history.take_reports().len());
        assert!(history.take_reports().is_empty());
        assert!(history.is_empty(), "and released");
    }

    #[test]
    fn later_feedback_reports_only_what_follows() {
        let now = Instant::now();
        let mut history = History::new();
        history.add_outgoing(1, 100, true, 0, 1200, now);
        history.add_outgoing(1, 101, true, 1, 1200, now);

        history.on_twcc_feedback(now, Acknowledgement::received(0, None, Ecn::NotEct));
        assert_eq!(1, history.take_reports().len());

        history.on_twcc_feedback(now, Acknowledgement::received(1, None, Ecn::NotEct));
        let reports = history.take_reports();
        assert_eq!(1, reports.len());
        assert_eq!(101, reports[0].rtp_sequence_number);
    }

    /// A packet reported as lost does not advance the reporting window on its own — otherwise a
    /// long run of losses would flush packets that have not been heard about yet.
    #[test]
    fn a_loss_alone_does_not_advance_the_window() {
        let now = Instant::now();
        let mut history = history_with_three_packets(now);

        history.on_twcc_feedback(now, Acknowledgement::lost(1));
        assert!(
            history.take_reports().is_empty(),
            "nothing has been acknowledged as arrived"
        );
        assert_eq!(3, history.len());
    }

    /// The round trip is measured between two instants on *this* endpoint's clock, unlike the
    /// arrival times, which are on the receiver's.
    #[test]
    fn the_round_trip_is_measured_locally() {
        let now = Instant::now();
        let mut history = History::new();
        history.add_outgoing(1, 100, true, 0, 1200, now);

        assert_eq!(
            Some(Duration::from_millis(120)),
            history.on_twcc_feedback(
                now + Duration::from_millis(120),
                Acknowledgement::received(0, Some(Duration::from_secs(9999)), Ecn::NotEct),
            ),
            "the receiver's arrival clock does not affect it"
        );
    }

    /// Without pruning, an unacknowledged packet is never reported and never removed, so a lossy
    /// path grows the history without bound.
    /// A non-TWCC packet carries a meaningless `twcc_sequence_number` (whatever the caller
    /// passed, typically 0) and was never entered into the TWCC index. Removing that key when it
    /// is released evicts whichever *real* TWCC packet happens to hold it, and that packet's
    /// feedback can then never match.
    #[test]
    fn releasing_a_non_twcc_packet_does_not_evict_a_twcc_packets_index_entry() {
        let now = Instant::now();
        let mut history = History::new();

        // The non-TWCC packet is sent *first*, so reporting it does not sweep up the TWCC one:
        // the reporting window runs to the highest arrived id, and anything below it is dropped
        // as a loss regardless. Ordering this way isolates the index eviction from that.
        history.add_outgoing(2, 200, false, 0, 1200, now);
        // A real TWCC packet holding transport-wide sequence 0, sent after.
        history.add_outgoing(1, 100, true, 0, 1200, now);

        // Release the non-TWCC packet by reporting it.
        history.on_ccfb_feedback(now, 2, Acknowledgement::received(200, None, Ecn::NotEct));
        history.take_reports();

        assert!(
            history
                .on_twcc_feedback(now, Acknowledgement::received(0, None, Ecn::NotEct))
                .is_some(),
            "the TWCC packet is still matchable by its transport-wide sequence number"
        );
    }

    /// The same hazard on the pruning path.
    #[test]
    fn pruning_a_non_twcc_packet_does_not_evict_a_twcc_packets_index_entry() {
        let now = Instant::now();
        let mut history = History::new();

        // Old, non-TWCC, carrying the default 0 it never registered.
        history.add_outgoing(2, 200, false, 0, 1200, now);
        // Recent, a real TWCC packet holding transport-wide sequence 0.
        history.add_outgoing(1, 100, true, 0, 1200, now + Duration::from_secs(5));

        history.prune_before(now + Duration::from_secs(1));

        assert!(
            history
                .on_twcc_feedback(
                    now + Duration::from_secs(5),
                    Acknowledgement::received(0, None, Ecn::NotEct)
                )
                .is_some(),
            "pruning the unrelated packet must not take the TWCC index entry with it"
        );
    }

    /// An acknowledged packet that has not been reported yet must survive pruning, or the arrival
    /// is lost and congestion control never hears about it.
    #[test]
    fn an_acknowledged_packet_is_not_pruned_before_it_is_reported() {
        let now = Instant::now();
        let mut history = History::new();
        history.add_outgoing(1, 100, true, 0, 1200, now);

        history.on_twcc_feedback(
            now + Duration::from_millis(50),
            Acknowledgement::received(0, None, Ecn::NotEct),
        );

        // Well past the cutoff, but it has been acknowledged and not yet collected.
        history.prune_before(now + Duration::from_secs(30));

        let reports = history.take_reports();
        assert_eq!(1, reports.len(), "the arrival survived to be reported");
        assert!(reports[0].arrived);
    }

    /// Transport-wide numbers wrap from 65535 to 0 in the middle of a burst; feedback on either
    /// side of the wrap must still find its packet.
    #[test]
    fn twcc_feedback_matches_across_the_sequence_wrap() {
        let now = Instant::now();
        let mut history = History::new();
        for (rtp, twcc) in [(10u16, 65534u16), (11, 65535), (12, 0), (13, 1)] {
            history.add_outgoing(1, rtp, true, twcc, 1200, now);
        }

        history.on_twcc_feedback(now, Acknowledgement::received(65535, None, Ecn::NotEct));
        history.on_twcc_feedback(now, Acknowledgement::received(1, None, Ecn::NotEct));

        let reports = history.take_reports();
        let arrived: Vec<_> = reports
            .iter()
            .map(|report| (report.rtp_sequence_number, report.arrived))
            .collect();
        assert_eq!(
            vec![(10, false), (11, true), (12, false), (13, true)],
            arrived
        );
        assert!(history.is_empty());
    }

    /// A stream without the TWCC extension between TWCC packets leaves no trace in the TWCC
    /// numbering, and a skipped number (another chain's packet) leaves a hole that matches
    /// nothing.
    #[test]
    fn gaps_in_the_twcc_numbering_match_nothing() {
        let now = Instant::now();
        let mut history = History::new();
        history.add_outgoing(1, 100, true, 7, 1200, now);
        history.add_outgoing(2, 500, false, 0, 1200, now);
        history.add_outgoing(1, 101, true, 9, 1200, now);

        assert_eq!(
            None,
            history.on_twcc_feedback(now, Acknowledgement::received(8, None, Ecn::NotEct)),
            "nothing was sent as 8"
        );
        assert!(
            history
                .on_twcc_feedback(now, Acknowledgement::received(9, None, Ecn::NotEct))
                .is_some()
        );
        let reports = history.take_reports();
        assert_eq!(3, reports.len());
        assert_eq!(
            (101, true),
            (reports[2].rtp_sequence_number, reports[2].arrived)
        );
    }

    /// A far jump of the RTP sequence (a new stream reusing the SSRC after a restart) restarts
    /// that stream's index; feedback for the new numbers matches and the old ones no longer do.
    #[test]
    fn a_far_jump_in_a_streams_sequence_restarts_its_index() {
        let now = Instant::now();
        let mut history = History::new();
        history.add_outgoing(3, 1_000, false, 0, 1000, now);
        history.add_outgoing(3, 40_000, false, 0, 1000, now);

        assert_eq!(
            None,
            history.on_ccfb_feedback(now, 3, Acknowledgement::lost(1_000)),
            "the old number went with the restart"
        );
        assert!(
            history
                .on_ccfb_feedback(now, 3, Acknowledgement::received(40_000, None, Ecn::NotEct))
                .is_some()
        );
        assert_eq!(2, history.take_reports().len());
    }

    /// Records and indexes are both released, so a long run with regular feedback stays small.
    #[test]
    fn a_long_acknowledged_run_keeps_the_history_small() {
        let now = Instant::now();
        let mut history = History::new();
        for n in 0..200_000u32 {
            let seq = n as u16;
            history.add_outgoing(1, seq, true, seq, 1200, now);
            if n % 50 == 49 {
                history.on_twcc_feedback(now, Acknowledgement::received(seq, None, Ecn::NotEct));
                assert_eq!(50, history.take_reports().len());
            }
        }
        assert!(history.is_empty());
        assert!(history.twcc_index.is_empty());
        assert!(
            history
                .ssrc_sequence_index
                .iter()
                .all(|(_, index)| index.is_empty())
        );
    }

    /// Streams that come and go leave at most a few idle indexes behind.
    #[test]
    fn indexes_of_streams_that_stopped_are_forgotten() {
        let now = Instant::now();
        let mut history = History::new();
        for ssrc in 0..100u32 {
            history.add_outgoing(ssrc, 1, true, ssrc as u16, 1200, now);
            history.on_twcc_feedback(
                now,
                Acknowledgement::received(ssrc as u16, None, Ecn::NotEct),
            );
            history.take_reports();
        }
        assert!(history.ssrc_sequence_index.len() <= MAX_STREAMS_KEPT + 1);
    }

    #[test]
    fn old_unacknowledged_packets_are_pruned() {
        let now = Instant::now();
        let mut history = History::new();
        history.add_outgoing(1, 100, true, 0, 1200, now);
        history.add_outgoing(1, 101, true, 1, 1200, now + Duration::from_secs(5));

        history.prune_before(now + Duration::from_secs(1));

        assert_eq!(1, history.len(), "only the recent one survives");
        assert_eq!(
            None,
            history.on_twcc_feedback(now, Acknowledgement::received(0, None, Ecn::NotEct)),
            "and the pruned one is no longer matchable"
        );
    }
}
