//! The collection intervals of performance monitoring: fixed-length
//! intervals numbered from 1, of which the device keeps the most recent
//! [`RETAINED`].
//!
//! A simulated device comes with [`SEEDED`] completed intervals, as if it had
//! been collecting before the simulator started, so history can be read at
//! once; further intervals complete as wall-clock time passes.

use std::time::Duration;

use time::OffsetDateTime;

/// Length of a collection interval: 15 minutes, the device default (the
/// 2015 document's "last 15 minute interval").
pub const INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Completed intervals a new device already has.
pub const SEEDED: u64 = 3;
/// How many completed intervals the device keeps (one day).
pub const RETAINED: u64 = 96;

/// One completed interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// Interval number (`id`).
    pub id: u64,
    /// When it began.
    pub start: OffsetDateTime,
    /// When it ended.
    pub end: OffsetDateTime,
}

/// Which intervals exist at a given time.
#[derive(Clone, Copy, Debug)]
pub struct IntervalClock {
    /// Start of interval 1.
    origin: OffsetDateTime,
    length: Duration,
}

impl IntervalClock {
    /// A clock whose [`SEEDED`] intervals completed by `now`.
    pub fn seeded(now: OffsetDateTime) -> Self {
        let length = INTERVAL;
        let seeded = u32::try_from(SEEDED).unwrap_or(u32::MAX);
        IntervalClock {
            origin: now - length * seeded,
            length,
        }
    }

    /// The number of the newest completed interval at `now` (0: none yet).
    pub fn newest(&self, now: OffsetDateTime) -> u64 {
        let elapsed = (now - self.origin).whole_milliseconds().max(0);
        let length = self.length.as_millis().max(1) as i128;
        u64::try_from(elapsed / length).unwrap_or(u64::MAX)
    }

    /// Ids of the retained intervals at `now`, oldest first.
    pub fn retained(&self, now: OffsetDateTime) -> std::ops::RangeInclusive<u64> {
        let newest = self.newest(now);
        // With no completed interval yet, 1..=0: an empty range.
        let oldest = newest.saturating_sub(RETAINED - 1).max(1);
        oldest..=newest
    }

    /// Interval `id` if it is retained at `now`.
    pub fn interval(&self, id: u64, now: OffsetDateTime) -> Option<Interval> {
        if !self.retained(now).contains(&id) {
            return None;
        }
        let index = u32::try_from(id - 1).ok()?;
        let start = self.origin + self.length * index;
        Some(Interval {
            id,
            start,
            end: start + self.length,
        })
    }

    /// A number that changes once a minute, standing for "now" in real-time
    /// values so that a list and a single read within a minute agree.
    pub fn current_slot(&self, now: OffsetDateTime) -> u64 {
        u64::try_from(now.unix_timestamp() / 60).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_intervals_exist_at_once_and_new_ones_complete_over_time() {
        let now = OffsetDateTime::from_unix_timestamp(1_600_000_000).unwrap();
        let clock = IntervalClock::seeded(now);
        assert_eq!(clock.retained(now), 1..=3);
        let third = clock.interval(3, now).unwrap();
        assert_eq!(third.end, now);
        assert_eq!(third.end - third.start, time::Duration::minutes(15));
        assert!(clock.interval(4, now).is_none());
        assert!(clock.interval(0, now).is_none());
        let later = now + time::Duration::minutes(31);
        assert_eq!(clock.retained(later), 1..=5);
    }

    #[test]
    fn only_a_day_is_retained() {
        let now = OffsetDateTime::from_unix_timestamp(1_600_000_000).unwrap();
        let clock = IntervalClock::seeded(now);
        let much_later = now + time::Duration::hours(48);
        let retained = clock.retained(much_later);
        assert_eq!(retained.end() - retained.start() + 1, RETAINED);
        assert!(clock.interval(1, much_later).is_none());
    }

    #[test]
    fn before_the_origin_there_is_nothing() {
        let now = OffsetDateTime::from_unix_timestamp(1_600_000_000).unwrap();
        let clock = IntervalClock::seeded(now);
        let early = now - time::Duration::hours(2);
        assert_eq!(clock.newest(early), 0);
        assert!(clock.retained(early).is_empty());
    }
}
