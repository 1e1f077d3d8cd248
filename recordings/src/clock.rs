//! The session clock: where each track's media sits in time.
//!
//! Every recorded track is placed on one timeline, the session clock (µs since the recording
//! started), so that a late joiner starts at the right moment, a mute stays a gap and one
//! person's audio and video stay in sync. RTP timestamps alone cannot do this: each track's
//! RTP clock starts at a random value and knows nothing of the others. The publisher's RTCP
//! sender reports pair an RTP time with the sender's NTP wall clock, and all tracks of one
//! participant share that NTP clock; so each [`TrackClock`] maps RTP time to sender NTP time,
//! and the participant's [`ClockGroup`] keeps one offset from sender NTP time to session time.
//!
//! That offset is the least (arrival − sender time) seen over the participant's packets: the
//! least-delayed packet is the best estimate of the path's fixed delay, a packet held up by
//! jitter does not move it, and audio and video share it (lip sync). It may rise only as fast
//! as two clocks drift apart, so a sender whose clock runs slow stays placed on arrival.

use std::sync::{Arc, Mutex, PoisonError};

/// How far a packet's arrival may disagree with its track's RTP clock before the track is
/// re-anchored on arrival. Network jitter stays well below it; a sender that stopped sending
/// for a mute and resumed without advancing its RTP clock (webrtc-rs's sample writer) is
/// seconds out.
const REANCHOR_THRESHOLD_US: i64 = 250_000;

const MICROS_PER_SECOND: i128 = 1_000_000;

/// How fast a sender's clock may drift from ours, in parts per million: crystals without NTP
/// are within 100.
const MAX_DRIFT_PPM: i64 = 200;

/// Shared by the tracks of one participant, so their audio and video stay in sync (same sender
/// NTP clock).
#[derive(Clone, Default, Debug)]
pub struct ClockGroup(Arc<Mutex<GroupState>>);

#[derive(Default, Debug)]
struct GroupState {
    /// Session time minus sender NTP time, both in µs; unknown until a track of the
    /// participant has placed a packet under a sender report.
    ntp_to_session_us: Option<i64>,
    /// Arrival of the packet that last updated the offset.
    updated_at_us: i64,
}

impl ClockGroup {
    fn offset(&self) -> Option<i64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ntp_to_session_us
    }

    /// Sets the offset outright at session time `at_us`, when a participant's first report
    /// continues the placement its packets had before.
    fn set_offset(&self, offset: i64, at_us: i64) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.ntp_to_session_us = Some(offset);
        state.updated_at_us = at_us;
    }

    /// Takes one packet's delay (arrival − sender time) into the least-delay offset.
    fn follow(&self, delay: i64, arrival: i64) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = arrival.saturating_sub(state.updated_at_us);
        state.ntp_to_session_us = Some(match state.ntp_to_session_us {
            Some(floor) => follow_floor(floor, delay, elapsed),
            None => delay,
        });
        state.updated_at_us = arrival;
    }
}

/// The sender's pairing of an RTP time with its NTP wall clock, from its latest sender report.
#[derive(Debug, Clone, Copy)]
struct SenderMapping {
    extended_rtp: i64,
    ntp_us: i64,
}

/// Places one track's media on the session clock (µs since the recording started).
#[derive(Debug)]
pub struct TrackClock {
    clock_rate: i128,
    group: ClockGroup,
    /// The last extended RTP time seen (packets or sender reports), to unwrap the next one.
    last_extended_rtp: Option<i64>,
    mapping: Option<SenderMapping>,
    /// Added to the sender time of this track only, after the track's RTP clock was found to
    /// disagree with arrival (a mute); cleared by the next sender report, which describes the
    /// sender's clock as it now runs.
    shift_us: i64,
    /// Before the first sender report: session time minus RTP time (µs) of the least-delayed
    /// packet.
    rtp_to_session_us: Option<i64>,
    /// Arrival of the last packet placed before any sender report.
    last_arrival_us: i64,
    /// The latest extended RTP time placed; a packet behind it arrived out of order.
    newest_rtp: Option<i64>,
    last_placed_us: u64,
}

impl TrackClock {
    /// A clock for a track whose RTP clock runs at `clock_rate` Hz (48000 for Opus, 90000 for
    /// video), sharing sender time with the other tracks of `group`.
    pub fn new(clock_rate: u32, group: ClockGroup) -> Self {
        Self {
            // A zero rate would divide by zero; such a track is malformed and placed as if 1 Hz.
            clock_rate: i128::from(clock_rate.max(1)),
            group,
            last_extended_rtp: None,
            mapping: None,
            shift_us: 0,
            rtp_to_session_us: None,
            last_arrival_us: 0,
            newest_rtp: None,
            last_placed_us: 0,
        }
    }

    /// Takes the sender's pairing of its NTP wall clock (`ntp_time`, 32.32 fixed point) with
    /// its RTP clock (`rtp_time`) from an RTCP sender report.
    pub fn sender_report(&mut self, arrival_us: u64, ntp_time: u64, rtp_time: u32) {
        // The report's arrival is not a sample of the media path's delay (RTCP is sent when the
        // report is made, media after it was encoded), so only packets train the offset.
        let extended_rtp = self.extend(rtp_time);
        let ntp_us = ntp_to_micros(ntp_time);
        if self.mapping.is_none()
            && self.group.offset().is_none()
            && let Some(rtp_to_session) = self.rtp_to_session_us
        {
            // Continue where the arrival-based placement left off rather than jump when the
            // first report of this participant comes in.
            let session_us = self
                .rtp_to_micros(extended_rtp)
                .saturating_add(rtp_to_session);
            let arrival = i64::try_from(arrival_us).unwrap_or(i64::MAX);
            self.group
                .set_offset(session_us.saturating_sub(ntp_us), arrival);
        }
        self.mapping = Some(SenderMapping {
            extended_rtp,
            ntp_us,
        });
        self.shift_us = 0;
    }

    /// Session time of the media with this RTP timestamp, for a packet that arrived at
    /// `arrival_us`. Call for packets in arrival order. A sender that stopped sending (mute)
    /// and resumed with an RTP clock that did not advance is re-anchored on arrival, so gaps
    /// stay gaps.
    pub fn place(&mut self, arrival_us: u64, rtp_time: u32) -> u64 {
        let extended_rtp = self.extend(rtp_time);
        if let Some(newest) = self.newest_rtp {
            let behind_us = saturate(
                (i128::from(newest) - i128::from(extended_rtp)) * MICROS_PER_SECOND
                    / self.clock_rate,
            );
            if behind_us > 0 && behind_us <= REANCHOR_THRESHOLD_US {
                // Overtaken in the network: its media came just before the newest placed, so it
                // goes that far behind it and teaches the clock nothing (its delay is not the
                // path's). Further back is a sender whose RTP clock jumped, placed as usual.
                return self.last_placed_us.saturating_sub(behind_us.unsigned_abs());
            }
        }
        self.newest_rtp = Some(extended_rtp);
        let arrival = i64::try_from(arrival_us).unwrap_or(i64::MAX);
        let placed = match self.mapping {
            Some(mapping) => self.place_by_sender_time(arrival, extended_rtp, mapping),
            None => self.place_by_arrival(arrival, extended_rtp),
        };
        let placed = u64::try_from(placed).unwrap_or(0);
        // Media of one track never runs backwards in RTP order, even when a better offset is found.
        self.last_placed_us = self.last_placed_us.max(placed);
        self.last_placed_us
    }

    fn place_by_sender_time(
        &mut self,
        arrival: i64,
        extended_rtp: i64,
        mapping: SenderMapping,
    ) -> i64 {
        let since_report = i128::from(extended_rtp) - i128::from(mapping.extended_rtp);
        let sender_us = mapping
            .ntp_us
            .saturating_add(saturate(since_report * MICROS_PER_SECOND / self.clock_rate));
        let delay = arrival.saturating_sub(sender_us);
        let group_offset = self.group.offset().unwrap_or(delay);
        let track_offset = group_offset.saturating_add(self.shift_us);
        if delay.abs_diff(track_offset) > REANCHOR_THRESHOLD_US.unsigned_abs() {
            // The track's RTP clock disagrees with arrival by more than jitter could: re-anchor
            // this track alone; the participant's other tracks keep the shared offset.
            self.shift_us = delay.saturating_sub(group_offset);
        } else if self.shift_us == 0 {
            self.group.follow(delay, arrival);
        } else if delay < track_offset {
            self.shift_us = delay.saturating_sub(group_offset);
        }
        sender_us
            .saturating_add(self.group.offset().unwrap_or(group_offset))
            .saturating_add(self.shift_us)
    }

    fn place_by_arrival(&mut self, arrival: i64, extended_rtp: i64) -> i64 {
        let media_us = self.rtp_to_micros(extended_rtp);
        let delay = arrival.saturating_sub(media_us);
        let offset = match self.rtp_to_session_us {
            Some(offset) if delay <= offset.saturating_add(REANCHOR_THRESHOLD_US) => {
                follow_floor(offset, delay, arrival.saturating_sub(self.last_arrival_us))
            }
            // The first packet, or a jump in the RTP clock: anchor here.
            _ => delay,
        };
        self.rtp_to_session_us = Some(offset);
        self.last_arrival_us = arrival;
        media_us.saturating_add(offset)
    }

    /// Unwraps a 32-bit RTP time to 64 bits, relative to the last one seen, so that a wrap
    /// (every 13 hours at 90 kHz, 25 hours at 48 kHz, sooner from a random start) is not a jump
    /// back.
    fn extend(&mut self, rtp_time: u32) -> i64 {
        let extended = match self.last_extended_rtp {
            None => i64::from(rtp_time),
            Some(last) => {
                // Truncation to u32 is the point: the difference modulo 2^32, read as signed.
                let last_low = last as u32;
                last.saturating_add(i64::from(rtp_time.wrapping_sub(last_low) as i32))
            }
        };
        self.last_extended_rtp = Some(extended);
        extended
    }

    fn rtp_to_micros(&self, extended_rtp: i64) -> i64 {
        saturate(i128::from(extended_rtp) * MICROS_PER_SECOND / self.clock_rate)
    }
}

/// The least delay seen, `floor`, after a packet delayed `delay`, `elapsed_us` after the last
/// update: a lower delay is the new floor; a higher one may raise it only as fast as a sender's
/// clock can drift from ours, so an hour-long session from a slow clock stays placed on
/// arrival, while a burst of jitter moves it by a fraction of a millisecond.
fn follow_floor(floor: i64, delay: i64, elapsed_us: i64) -> i64 {
    if delay <= floor {
        return delay;
    }
    let allowance = elapsed_us.max(0) / (1_000_000 / MAX_DRIFT_PPM);
    delay.min(floor.saturating_add(allowance))
}

/// µs of a 32.32 fixed-point NTP time.
fn ntp_to_micros(ntp_time: u64) -> i64 {
    let seconds = i128::from(ntp_time >> 32);
    let fraction = i128::from(ntp_time & 0xffff_ffff);
    saturate(seconds * MICROS_PER_SECOND + ((fraction * MICROS_PER_SECOND) >> 32))
}

fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUDIO_RATE: u32 = 48_000;
    const VIDEO_RATE: u32 = 90_000;
    /// 2026-12-06 as NTP seconds (since 1900), a realistic size for the 32.32 arithmetic.
    const NTP_EPOCH_SECONDS: u64 = 3_974_000_000;

    /// A sender's NTP time for `us` µs after an arbitrary moment.
    fn ntp(us: u64) -> u64 {
        let seconds = NTP_EPOCH_SECONDS + us / 1_000_000;
        let fraction = ((us % 1_000_000) << 32) / 1_000_000;
        (seconds << 32) | fraction
    }

    fn rtp(base: u32, rate: u32, us: u64) -> u32 {
        base.wrapping_add((us * u64::from(rate) / 1_000_000) as u32)
    }

    /// Deterministic jitter in 0..max_us (a linear congruential generator).
    struct Jitter(u64);
    impl Jitter {
        fn next(&mut self, max_us: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % max_us
        }
    }

    #[test]
    fn jitter_does_not_move_placement() {
        let mut clock = TrackClock::new(AUDIO_RATE, ClockGroup::default());
        let mut jitter = Jitter(7);
        let base = 1_234_567;
        let mut offsets = Vec::new();
        for n in 0..500u64 {
            let media_us = n * 20_000;
            let arrival = 1_000_000 + media_us + 30_000 + jitter.next(40_000);
            let placed = clock.place(arrival, rtp(base, AUDIO_RATE, media_us));
            offsets.push(placed as i64 - media_us as i64);
        }
        let settled = offsets[499];
        for (n, offset) in offsets.iter().enumerate().skip(50) {
            assert!(
                (offset - settled).abs() <= 5_000,
                "packet {n} off by {} µs",
                offset - settled
            );
        }
        // The floor of the delay (30 ms) is found, not the mean.
        assert!((settled - 1_030_000).abs() <= 3_000, "settled at {settled}");
    }

    #[test]
    fn sender_reports_keep_audio_and_video_in_sync() {
        let group = ClockGroup::default();
        let mut audio = TrackClock::new(AUDIO_RATE, group.clone());
        let mut video = TrackClock::new(VIDEO_RATE, group);
        let (audio_base, video_base) = (3_000_000_000u32, 77_000u32);
        // The sender's clock: audio from t=0, video from t=300 ms (camera started later).
        // Both reach us 40 ms later, video's first keyframe 90 ms later than that.
        audio.sender_report(40_000, ntp(0), rtp(audio_base, AUDIO_RATE, 0));
        video.sender_report(40_000, ntp(0), rtp(video_base, VIDEO_RATE, 0));
        let mut placed_audio = Vec::new();
        let mut placed_video = Vec::new();
        for n in 0..100u64 {
            let media_us = n * 20_000;
            placed_audio.push((
                media_us,
                audio.place(40_000 + media_us, rtp(audio_base, AUDIO_RATE, media_us)),
            ));
            let video_us = 300_000 + n * 33_333;
            let extra = if n == 0 { 90_000 } else { 0 };
            placed_video.push((
                video_us,
                video.place(
                    40_000 + video_us + extra,
                    rtp(video_base, VIDEO_RATE, video_us),
                ),
            ));
        }
        let first_audio = placed_audio[0].1;
        let first_video = placed_video[0].1;
        assert!(
            (first_video as i64 - first_audio as i64 - 300_000).abs() <= 1_000,
            "video starts {} µs after audio, expected 300 ms",
            first_video as i64 - first_audio as i64
        );
        // Media captured at the same sender time sits at the same session time.
        for &(media_us, at) in placed_video.iter().skip(1) {
            let expected = first_audio as i64 + media_us as i64;
            assert!(
                (at as i64 - expected).abs() <= 1_000,
                "video at {media_us} µs placed {at}"
            );
        }
    }

    #[test]
    fn rtp_time_wraps_without_a_jump() {
        let mut clock = TrackClock::new(VIDEO_RATE, ClockGroup::default());
        let base = u32::MAX - 45_000; // wraps after half a second
        let mut previous = None;
        for n in 0..60u64 {
            let media_us = n * 33_333;
            let placed = clock.place(10_000 + media_us, rtp(base, VIDEO_RATE, media_us));
            if let Some(previous) = previous {
                let step = placed as i64 - previous as i64;
                assert!((step - 33_333).abs() <= 20, "step {step} at frame {n}");
            }
            previous = Some(placed);
        }
    }

    #[test]
    fn wrap_under_sender_reports() {
        let mut clock = TrackClock::new(AUDIO_RATE, ClockGroup::default());
        let base = u32::MAX - 24_000;
        clock.sender_report(0, ntp(0), rtp(base, AUDIO_RATE, 0));
        let first = clock.place(20_000, rtp(base, AUDIO_RATE, 0));
        clock.sender_report(1_000_000, ntp(1_000_000), rtp(base, AUDIO_RATE, 1_000_000));
        let later = clock.place(2_020_000, rtp(base, AUDIO_RATE, 2_000_000));
        assert_eq!(later - first, 2_000_000);
    }

    #[test]
    fn a_mute_without_rtp_advance_stays_a_gap() {
        for with_reports in [false, true] {
            let mut clock = TrackClock::new(AUDIO_RATE, ClockGroup::default());
            let base = 500;
            if with_reports {
                clock.sender_report(0, ntp(0), rtp(base, AUDIO_RATE, 0));
            }
            let mut last_before = 0;
            for n in 0..100u64 {
                last_before = clock.place(25_000 + n * 20_000, rtp(base, AUDIO_RATE, n * 20_000));
            }
            // 5 s of mute; the sender's RTP clock resumes one frame after where it stopped.
            let resumed_arrival = 25_000 + 100 * 20_000 + 5_000_000;
            let resumed = clock.place(resumed_arrival, rtp(base, AUDIO_RATE, 100 * 20_000));
            let gap = resumed - last_before;
            assert!(
                (gap as i64 - 5_020_000).abs() <= 2_000,
                "gap {gap} µs with_reports={with_reports}"
            );
            let next = clock.place(
                resumed_arrival + 20_000,
                rtp(base, AUDIO_RATE, 101 * 20_000),
            );
            assert_eq!(next - resumed, 20_000);
        }
    }

    #[test]
    fn a_report_after_the_mute_describes_the_resumed_clock() {
        let group = ClockGroup::default();
        let mut audio = TrackClock::new(AUDIO_RATE, group.clone());
        let mut video = TrackClock::new(VIDEO_RATE, group);
        let (audio_base, video_base) = (10, 20);
        audio.sender_report(0, ntp(0), rtp(audio_base, AUDIO_RATE, 0));
        video.sender_report(0, ntp(0), rtp(video_base, VIDEO_RATE, 0));
        let audio_start = audio.place(20_000, rtp(audio_base, AUDIO_RATE, 0));
        video.place(20_000, rtp(video_base, VIDEO_RATE, 0));
        // Audio muted from 1 s to 6 s without advancing RTP; the sender's next report pairs the
        // resumed RTP clock (1 s + one frame) with its wall clock (6.5 s).
        audio.place(1_020_000, rtp(audio_base, AUDIO_RATE, 1_000_000));
        let resumed = audio.place(6_020_000, rtp(audio_base, AUDIO_RATE, 1_020_000));
        audio.sender_report(
            6_530_000,
            ntp(6_500_000),
            rtp(audio_base, AUDIO_RATE, 1_520_000),
        );
        let after_report = audio.place(7_020_000, rtp(audio_base, AUDIO_RATE, 2_020_000));
        assert_eq!(resumed - audio_start, 6_000_000);
        assert_eq!(after_report - audio_start, 7_000_000);
        // Video, never muted, keeps the shared offset.
        let video_at = video.place(7_020_000, rtp(video_base, VIDEO_RATE, 7_000_000));
        assert_eq!(video_at - audio_start, 7_000_000);
    }

    #[test]
    fn an_hour_from_a_slow_sender_clock_stays_on_arrival() {
        // The sender's clock runs 50 ppm slow: 180 ms behind after an hour.
        let slow = |us: u64| us - us / 20_000;
        let mut clock = TrackClock::new(AUDIO_RATE, ClockGroup::default());
        let mut jitter = Jitter(3);
        let base = 42;
        for n in 0..180_000u64 {
            let true_us = n * 20_000;
            if n % 250 == 0 {
                let sender = slow(true_us);
                clock.sender_report(true_us + 30_000, ntp(sender), rtp(base, AUDIO_RATE, sender));
            }
            let arrival = true_us + 30_000 + jitter.next(20_000);
            let placed = clock.place(arrival, rtp(base, AUDIO_RATE, slow(true_us)));
            if n >= 50 {
                let error = placed as i64 - (true_us + 30_000) as i64;
                assert!(error.abs() <= 10_000, "{error} µs off after {} s", n / 50);
            }
        }
    }

    #[test]
    fn the_first_report_continues_where_arrival_placed_the_track() {
        let mut clock = TrackClock::new(AUDIO_RATE, ClockGroup::default());
        let base = 77_777;
        let mut last = 0;
        for n in 0..100u64 {
            last = clock.place(500_000 + n * 20_000, rtp(base, AUDIO_RATE, n * 20_000));
        }
        // The report's NTP time is in another era entirely; only the pairing matters.
        clock.sender_report(2_510_000, ntp(9_000_000), rtp(base, AUDIO_RATE, 2_000_000));
        let next = clock.place(500_000 + 100 * 20_000, rtp(base, AUDIO_RATE, 100 * 20_000));
        assert_eq!(next - last, 20_000);
    }

    #[test]
    fn a_reordered_packet_goes_before_its_successor() {
        let mut clock = TrackClock::new(AUDIO_RATE, ClockGroup::default());
        let base = 9;
        for n in 0..10u64 {
            clock.place(30_000 + n * 20_000, rtp(base, AUDIO_RATE, n * 20_000));
        }
        let eleventh = clock.place(30_000 + 11 * 20_000, rtp(base, AUDIO_RATE, 11 * 20_000));
        let tenth = clock.place(
            30_000 + 11 * 20_000 + 5_000,
            rtp(base, AUDIO_RATE, 10 * 20_000),
        );
        let twelfth = clock.place(30_000 + 12 * 20_000, rtp(base, AUDIO_RATE, 12 * 20_000));
        assert_eq!(eleventh - tenth, 20_000);
        assert_eq!(twelfth - eleventh, 20_000);
    }

    #[test]
    fn bad_input_does_not_panic() {
        let mut clock = TrackClock::new(0, ClockGroup::default());
        clock.sender_report(u64::MAX, u64::MAX, u32::MAX);
        clock.place(u64::MAX, 0);
        clock.place(0, u32::MAX);
        let mut clock = TrackClock::new(48_000, ClockGroup::default());
        clock.place(u64::MAX, u32::MAX);
        clock.sender_report(0, 0, 0);
        clock.place(u64::MAX, 7);
    }
}
