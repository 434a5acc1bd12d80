//! When a failed WorkOS API request is tried again, and after how long.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

/// Attempts per request, the first included, before the command fails.
pub const MAX_ATTEMPTS: u32 = 6;
/// The wait after a request's first retryable failure; it doubles with each
/// further failure.
pub const BASE_DELAY: Duration = Duration::from_secs(1);
/// The maximum wait between two attempts computed by doubling.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// The maximum `Retry-After` obeyed. A longer one is cut to this, and the
/// next attempt may get another `429`.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(5 * 60);

/// How to treat a response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatusClass {
    /// 2xx: read the body.
    Success,
    /// 429: wait for the `Retry-After` time, else back off.
    RateLimited,
    /// 5xx, 408: back off and try again.
    Transient,
    /// Every other status: retrying cannot help.
    Permanent,
}

pub(super) fn classify(status: StatusCode) -> StatusClass {
    if status.is_success() {
        StatusClass::Success
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        StatusClass::RateLimited
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        StatusClass::Transient
    } else {
        StatusClass::Permanent
    }
}

/// Returns the wait before the next attempt after `failures` failed ones
/// (1 after the first): [`BASE_DELAY`] doubled per further failure, at most
/// [`MAX_DELAY`].
pub(super) fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    BASE_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

/// Parses a `Retry-After` value, either seconds or an HTTP date, into the
/// wait from `now`, at most [`MAX_RETRY_AFTER`]. A date in the past means no
/// wait; an unreadable value gives `None`.
pub(super) fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = DateTime::parse_from_rfc2822(value)
                .ok()?
                .with_timezone(&Utc);
            (at - now).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classified() {
        let cases = [
            (200, StatusClass::Success),
            (429, StatusClass::RateLimited),
            (500, StatusClass::Transient),
            (503, StatusClass::Transient),
            (408, StatusClass::Transient),
            (400, StatusClass::Permanent),
            (401, StatusClass::Permanent),
            (404, StatusClass::Permanent),
        ];
        for (code, expected) in cases {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(classify(status), expected, "{code}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_max() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(6), MAX_DELAY);
        assert_eq!(backoff(100), MAX_DELAY);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);

        assert_eq!(retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Mon, 02 Nov 2026 09:00:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after("Mon, 02 Nov 2026 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-3", now), None);
    }
}
