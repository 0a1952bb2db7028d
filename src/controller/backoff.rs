//! When to look at a device again: after a failure (exponential, per
//! object) and when all is well (the drift-check interval).

use std::time::Duration;

/// The delay consecutive failures of one object earn: `base · 2^(n-1)`
/// capped at `max`, with "equal jitter" (half fixed, half random), so one
/// failing device backs off alone and a fleet failing together (an outage)
/// does not come back in lock step. The count itself is per object, in the
/// controller's record of it (`Context`), so forgetting a deleted object
/// forgets its failures with everything else.
#[derive(Clone, Copy, Debug)]
pub struct FailureBackoff {
    base: Duration,
    max: Duration,
}

impl FailureBackoff {
    /// A backoff starting at `base` and never longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        FailureBackoff {
            base,
            max: max.max(base),
        }
    }

    /// How long to wait after the `n`th consecutive failure (`n` ≥ 1).
    pub fn delay(&self, n: u32) -> Duration {
        let half = self.ceiling(n) / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// The delay before jitter after the `n`th consecutive failure.
    fn ceiling(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(20);
        self.base.saturating_mul(1u32 << doublings).min(self.max)
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
    fn delays_double_per_failure_up_to_the_cap() {
        let b = FailureBackoff::new(Duration::from_secs(5), Duration::from_secs(300));
        let mut ceilings = Vec::new();
        for n in 1..=10 {
            let d = b.delay(n);
            let ceiling = b.ceiling(n);
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{n}: {d:?} vs {ceiling:?}"
            );
            ceilings.push(ceiling.as_secs());
        }
        assert_eq!(ceilings, [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]);
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
