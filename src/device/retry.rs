//! Backoff with jitter for the two failures worth retrying: a busy device
//! (409 during HA synchronisation) and a transport error.

use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub base_delay: Duration,
    /// Upper bound of one delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based): exponential, capped,
    /// with "equal jitter" (half fixed, half random) so a fleet of clients
    /// released by the same HA sync does not come back in lock step.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max_delay);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_within_bounds() {
        let p = RetryPolicy::default();
        for retry in 1..12 {
            let exp = p
                .base_delay
                .saturating_mul(1 << (retry - 1))
                .min(p.max_delay);
            let d = p.delay(retry);
            assert!(d >= exp / 2 && d <= exp, "retry {retry}: {d:?} vs {exp:?}");
        }
        assert!(p.delay(30) <= p.max_delay);
    }
}
