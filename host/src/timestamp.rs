//! Parsing the ISO-8601 timestamps WorkOS sends into comparable instants.
//!
//! WorkOS writes timestamps in more than one form: RFC 3339 with `T` and `Z`,
//! and with a space in place of `T` and no zone at all. Comparing them as
//! strings orders them wrongly, so every comparison goes through [`Timestamp`].

use chrono::{DateTime, NaiveDateTime, Utc};

/// A point in time with nanosecond precision, stored as nanoseconds since the
/// Unix epoch so SQLite can compare it as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Wraps nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// Returns nanoseconds since the Unix epoch.
    pub fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Returns the current time.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Parses a WorkOS timestamp. A value without a zone is taken as UTC.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();

        if let Ok(with_zone) = DateTime::parse_from_rfc3339(text) {
            return Some(Self::from_datetime(with_zone.with_timezone(&Utc)));
        }

        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(|naive| Self::from_datetime(naive.and_utc()))
    }

    fn from_datetime(datetime: DateTime<Utc>) -> Self {
        // Outside 1677..2262 the nanosecond count overflows; clamping keeps
        // such (nonsensical) values ordered instead of failing the event.
        Self(
            datetime
                .timestamp_nanos_opt()
                .unwrap_or(if datetime.timestamp() < 0 {
                    i64::MIN
                } else {
                    i64::MAX
                }),
        )
    }

    /// Formats the instant as RFC 3339 with millisecond precision and `Z`.
    pub fn to_rfc3339(self) -> String {
        DateTime::from_timestamp_nanos(self.0).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms_agree() {
        let expected = Timestamp::parse("2026-11-02T09:14:03.118Z").unwrap();
        let forms = [
            "2026-11-02T09:14:03.118Z",
            "2026-11-02T09:14:03.118+00:00",
            "2026-11-02T10:14:03.118+01:00",
            "2026-11-02 09:14:03.118Z",
            "2026-11-02 09:14:03.118",
            "2026-11-02T09:14:03.118",
            "2026-11-02t09:14:03.118z",
            " 2026-11-02T09:14:03.118000Z ",
        ];
        for form in forms {
            assert_eq!(Timestamp::parse(form), Some(expected), "form {form:?}");
        }
    }

    #[test]
    fn orders_by_instant_not_text() {
        let earlier = Timestamp::parse("2026-11-02T10:00:00.000+01:00").unwrap();
        let later = Timestamp::parse("2026-11-02 09:30:00").unwrap();
        assert!(earlier < later);
    }

    #[test]
    fn rejects_non_timestamps() {
        for text in ["", "yesterday", "2026-13-01T00:00:00Z", "1767225600000"] {
            assert_eq!(Timestamp::parse(text), None, "text {text:?}");
        }
    }

    #[test]
    fn formats_as_rfc3339() {
        let instant = Timestamp::parse("2026-11-02 09:14:03.118").unwrap();
        assert_eq!(instant.to_rfc3339(), "2026-11-02T09:14:03.118Z");
    }
}
