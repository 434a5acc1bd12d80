//! When a failed delivery is tried again, and when it is given up on.

use std::time::Duration;

use crate::timestamp::Timestamp;

/// Attempts before a delivery is parked as dead, by default.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// The wait after the first failure, by default; it doubles with each
/// further failure.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_secs(1);
/// The maximum wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(60 * 60);

/// Exponential backoff with a cap and an attempt budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, before the delivery is dead.
    pub max_attempts: u32,
    /// The wait after the first failure.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
        }
    }
}

impl RetryPolicy {
    /// Returns when to try again after `failed_attempts` failures (this one
    /// included), or `None` when the budget is spent.
    pub fn next_attempt(&self, failed_attempts: u32, now: Timestamp) -> Option<Timestamp> {
        if failed_attempts >= self.max_attempts {
            return None;
        }

        let doublings = failed_attempts.saturating_sub(1).min(30);
        let delay = self
            .base_delay
            .saturating_mul(1 << doublings)
            .min(MAX_DELAY);
        let delay_nanos = i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX);
        Some(Timestamp::from_unix_nanos(
            now.unix_nanos().saturating_add(delay_nanos),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_cap() {
        let policy = RetryPolicy {
            max_attempts: 40,
            base_delay: Duration::from_secs(1),
        };
        let now = Timestamp::from_unix_nanos(0);
        let delay =
            |failures| policy.next_attempt(failures, now).unwrap().unix_nanos() / 1_000_000_000;

        assert_eq!(delay(1), 1);
        assert_eq!(delay(2), 2);
        assert_eq!(delay(5), 16);
        assert_eq!(delay(13), 3600);
        assert_eq!(delay(39), 3600);
    }

    #[test]
    fn budget_spent_parks_delivery() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
        };
        let now = Timestamp::from_unix_nanos(0);

        assert!(policy.next_attempt(2, now).is_some());
        assert_eq!(policy.next_attempt(3, now), None);
    }
}
