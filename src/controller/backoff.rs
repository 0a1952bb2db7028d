//! When to look at a device again: after a failure (exponential, per
//! object) and when all is well (the drift-check interval).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Consecutive failures per object, and the delay they earn: `base · 2^(n-1)`
/// capped at `max`, with "equal jitter" (half fixed, half random), so one
/// failing device backs off alone and a fleet failing together (an outage)
/// does not come back in lock step.
#[derive(Debug)]
pub struct FailureBackoff {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, u32>>,
    /// Delays already chosen for a failure whose status said when it is
    /// retried, waiting for the error policy to schedule them.
    scheduled: Mutex<HashMap<String, Duration>>,
}

impl FailureBackoff {
    /// A backoff starting at `base` and never longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        FailureBackoff {
            base,
            max: max.max(base),
            failures: Mutex::new(HashMap::new()),
            scheduled: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more failure of `key` and returns how long to wait.
    pub fn next_delay(&self, key: &str) -> Duration {
        let n = {
            let mut map = self.map();
            let n = map.entry(key.to_owned()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let half = self.ceiling(n) / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Counts one more failure of `key`, chooses its delay now (so status
    /// can say when the retry is due) and keeps it for [`Self::take`]:
    /// the error policy then requeues after exactly that delay.
    pub fn schedule(&self, key: &str) -> Duration {
        let delay = self.next_delay(key);
        crate::sync::lock(&self.scheduled).insert(key.to_owned(), delay);
        delay
    }

    /// The delay [`Self::schedule`] chose for `key`, once; else counts one
    /// more failure and chooses one ([`Self::next_delay`]).
    pub fn take(&self, key: &str) -> Duration {
        let chosen = crate::sync::lock(&self.scheduled).remove(key);
        chosen.unwrap_or_else(|| self.next_delay(key))
    }

    /// Forgets the failures of `key` (after a success, or when it is deleted).
    pub fn reset(&self, key: &str) {
        self.map().remove(key);
        crate::sync::lock(&self.scheduled).remove(key);
    }

    /// Consecutive failures of `key` so far.
    pub fn failures(&self, key: &str) -> u32 {
        self.map().get(key).copied().unwrap_or(0)
    }

    /// The delay before jitter after the `n`th consecutive failure.
    fn ceiling(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(20);
        self.base.saturating_mul(1u32 << doublings).min(self.max)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // Each operation is one insert or remove: a poisoned map is whole.
        crate::sync::lock(&self.failures)
    }
}

/// `interval` ±10 %, so devices created together spread their checks.
pub fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + 0.2 * fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_failure_up_to_the_cap_and_reset_on_success() {
        let b = FailureBackoff::new(Duration::from_secs(5), Duration::from_secs(300));
        let mut ceilings = Vec::new();
        for n in 1..=10 {
            let d = b.next_delay("ns/a");
            let ceiling = b.ceiling(n);
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{n}: {d:?} vs {ceiling:?}"
            );
            ceilings.push(ceiling.as_secs());
        }
        assert_eq!(ceilings, [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]);
        assert_eq!(b.failures("ns/a"), 10);
        // Another object is not slowed down by this one.
        assert!(b.next_delay("ns/b") <= Duration::from_secs(5));
        b.reset("ns/a");
        assert_eq!(b.failures("ns/a"), 0);
        assert!(b.next_delay("ns/a") <= Duration::from_secs(5));
    }

    #[test]
    fn a_scheduled_delay_is_the_one_taken_and_counts_once() {
        let b = FailureBackoff::new(Duration::from_secs(5), Duration::from_secs(300));
        let chosen = b.schedule("ns/a");
        assert_eq!(b.failures("ns/a"), 1);
        assert_eq!(b.take("ns/a"), chosen, "the delay status announced");
        assert_eq!(b.failures("ns/a"), 1, "not counted twice");
        // Nothing scheduled: counts and chooses (the second failure).
        let next = b.take("ns/a");
        assert_eq!(b.failures("ns/a"), 2);
        assert!(next >= Duration::from_secs(5) && next <= Duration::from_secs(10));
        b.schedule("ns/a");
        b.reset("ns/a");
        assert!(b.take("ns/a") <= Duration::from_secs(5), "reset forgets it");
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let b = FailureBackoff::new(Duration::from_secs(5), Duration::from_secs(300));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn interval_jitter_stays_within_ten_percent() {
        let i = Duration::from_secs(300);
        for _ in 0..200 {
            let d = jittered(i);
            assert!(d >= Duration::from_secs(270) && d <= Duration::from_secs(330));
        }
    }
}
