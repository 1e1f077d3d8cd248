//! The 30 days within which the parties apply for judicial confirmation (人民调解法 第三十三条),
//! and the Beijing calendar-day arithmetic the court's own clocks share.
//!
//! Periods are counted in calendar days as a clock in China shows them (UTC+8, no daylight
//! saving), and the day the period starts from is not counted (民事诉讼法 第八十五条): an
//! agreement in force on 6 December at 10:00 may be brought to court until 5 January 24:00.

use serde::Serialize;

/// China Standard Time is UTC+8 all year.
const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;
const DAY_MS: i64 = 86_400_000;

/// Days from the effective date within which the parties apply.
pub const WINDOW_DAYS: i64 = 30;

/// How near the end of the window is, for the warnings sent to the parties (once each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum WarningLevel {
    /// 7 days or fewer left (and more than 2).
    #[serde(rename = "7_days")]
    SevenDays,
    /// 2 days or fewer left, window still open.
    #[serde(rename = "2_days")]
    TwoDays,
}

impl WarningLevel {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningLevel::SevenDays => "7_days",
            WarningLevel::TwoDays => "2_days",
        }
    }

    /// Both levels, the earlier first.
    pub const ALL: &'static [WarningLevel] = &[WarningLevel::SevenDays, WarningLevel::TwoDays];
}

/// Where an agreement stands in its application window at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// When the agreement took effect (its seal), Unix ms.
    pub effective_at: i64,
    /// 24:00 Beijing time of the 30th day after the effective day, Unix ms.
    pub deadline_at: i64,
    /// See [`days_left`]; 0 once closed.
    pub days_left: i64,
    /// The warning that applies now, if any.
    pub warning: Option<WarningLevel>,
    /// Whether the deadline has passed: an application is refused.
    pub closed: bool,
}

/// The window of an agreement that took effect at `effective_at_ms`, seen at `now_ms`.
pub fn window(effective_at_ms: i64, now_ms: i64) -> Window {
    let deadline_at = beijing_end_of_day_after(effective_at_ms, WINDOW_DAYS);
    let days_left = days_left(deadline_at, now_ms);
    let closed = now_ms >= deadline_at;
    let warning = match days_left {
        _ if closed => None,
        1..=2 => Some(WarningLevel::TwoDays),
        3..=7 => Some(WarningLevel::SevenDays),
        _ => None,
    };
    Window {
        effective_at: effective_at_ms,
        deadline_at,
        days_left,
        warning,
        closed,
    }
}

/// The Beijing calendar day of `ms`, as days since 1970-01-01.
fn beijing_day(ms: i64) -> i64 {
    (ms + CST_OFFSET_MS).div_euclid(DAY_MS)
}

/// 24:00 Beijing time (the first instant of the next day) at the end of the day that is
/// `days` calendar days after `ms`'s Beijing day. The day of `ms` itself is not counted.
pub fn beijing_end_of_day_after(ms: i64, days: i64) -> i64 {
    (beijing_day(ms) + days + 1) * DAY_MS - CST_OFFSET_MS
}

/// Calendar days left until a period that ends at `due_ms` (a 24:00 Beijing time from
/// [`beijing_end_of_day_after`]): the whole days after today up to the last day, and 1 on the
/// last day itself (what is left of it still counts); 0 once `due_ms` has passed. Seven days
/// before the last day reads 7, the day before it 1, the last day 1.
pub fn days_left(due_ms: i64, now_ms: i64) -> i64 {
    if now_ms >= due_ms {
        return 0;
    }
    let last_day = beijing_day(due_ms - 1);
    (last_day - beijing_day(now_ms)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    /// 2026-12-06T02:00:00Z, 10:00 in Beijing.
    const EFFECTIVE: i64 = 1_796_522_400_000;
    /// 2027-01-05T16:00:00Z, 2027-01-06 00:00 in Beijing.
    const DEADLINE: i64 = 1_799_164_800_000;

    #[test]
    fn the_window_ends_at_midnight_beijing_thirty_days_after_the_effective_day() {
        let w = window(EFFECTIVE, EFFECTIVE);
        assert_eq!(w.deadline_at, DEADLINE);
        assert_eq!(w.days_left, 30);
        assert_eq!(w.warning, None);
        assert!(!w.closed);
    }

    #[test]
    fn warnings_come_seven_and_two_days_before_the_end() {
        let at = |ms: i64| window(EFFECTIVE, EFFECTIVE + ms);
        let w = at(22 * 24 * HOUR);
        assert_eq!((w.days_left, w.warning), (8, None));
        let w = at(23 * 24 * HOUR);
        assert_eq!((w.days_left, w.warning), (7, Some(WarningLevel::SevenDays)));
        let w = at(27 * 24 * HOUR);
        assert_eq!((w.days_left, w.warning), (3, Some(WarningLevel::SevenDays)));
        let w = at(28 * 24 * HOUR);
        assert_eq!((w.days_left, w.warning), (2, Some(WarningLevel::TwoDays)));
        let w = at(29 * 24 * HOUR + 23 * HOUR);
        assert_eq!((w.days_left, w.warning), (1, Some(WarningLevel::TwoDays)));
        assert!(!w.closed);
        assert_eq!(w.warning.map(WarningLevel::as_str), Some("2_days"));
    }

    #[test]
    fn the_last_millisecond_is_open_and_midnight_is_closed() {
        let w = window(EFFECTIVE, DEADLINE - 1);
        assert_eq!((w.days_left, w.closed), (1, false));
        let w = window(EFFECTIVE, DEADLINE);
        assert_eq!((w.days_left, w.warning, w.closed), (0, None, true));
        let w = window(EFFECTIVE, EFFECTIVE + 31 * 24 * HOUR);
        assert_eq!((w.days_left, w.warning, w.closed), (0, None, true));
    }

    #[test]
    fn the_effective_day_counts_by_the_clock_in_beijing() {
        // 23:59 in Beijing on 6 December is 15:59Z: still the 6th, same deadline.
        let late = EFFECTIVE + 13 * HOUR + 59 * 60_000;
        assert_eq!(window(late, late).deadline_at, DEADLINE);
        // One minute later it is the 7th in Beijing (16:00Z on the 6th): a day more.
        let next = EFFECTIVE + 14 * HOUR;
        assert_eq!(window(next, next).deadline_at, DEADLINE + 24 * HOUR);
        // 00:30 Beijing on the 6th is still the 5th in UTC; the day is Beijing's.
        let early = EFFECTIVE - 9 * HOUR - 30 * 60_000;
        assert_eq!(window(early, early).deadline_at, DEADLINE);
    }

    #[test]
    fn end_of_day_after_counts_whole_beijing_days() {
        assert_eq!(
            beijing_end_of_day_after(EFFECTIVE, 0),
            EFFECTIVE + 14 * HOUR
        );
        assert_eq!(
            beijing_end_of_day_after(EFFECTIVE, 3),
            EFFECTIVE + 14 * HOUR + 72 * HOUR
        );
        assert_eq!(days_left(EFFECTIVE + 14 * HOUR, EFFECTIVE), 1);
    }
}
