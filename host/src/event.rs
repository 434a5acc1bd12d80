//! The WorkOS event envelope: parsing and validating a verified webhook body.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::timestamp::Timestamp;
use crate::user::UserChange;

/// A validated event, ready to be stored.
#[derive(Debug, Clone)]
pub struct Event {
    /// The event id (`event_…`), the idempotency key.
    pub id: String,
    /// The event type, such as `user.created`; any string is accepted.
    pub event_type: String,
    /// `created_at` as sent.
    pub created_at: String,
    /// `created_at` parsed.
    pub created_at_instant: Timestamp,
    /// The `data` object as JSON text, exactly as received.
    pub data: String,
    /// The optional `context` object as JSON text.
    pub context: Option<String>,
    /// The user or other entity the event is about, which orders deliveries:
    /// `data.id` for `user.*`, else `data.user_id`, else `data.id`.
    pub subject: Option<String>,
    /// The change the event makes to the users table, if any.
    pub user_change: Option<UserChange>,
    /// The whole body exactly as received and verified.
    pub raw: Bytes,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    object: Option<String>,
    id: String,
    event: String,
    #[serde(borrow)]
    data: &'a RawValue,
    created_at: String,
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SubjectFields {
    id: Option<serde_json::Value>,
    user_id: Option<serde_json::Value>,
}

/// The maximum length of an event id or type, in bytes. The sample events
/// in `examples/events` have ids of 32 bytes and types of at most 31.
const MAX_NAME_BYTES: usize = 255;

/// Checks that an event id or type is at most [`MAX_NAME_BYTES`] long and
/// has no control characters, because both are written to logs and
/// terminals as they are.
fn check_printable(field: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{field} is {} bytes long; the maximum is {MAX_NAME_BYTES}",
            value.len()
        ));
    }
    if let Some(bad) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{field} {value:?} contains the control character {bad:?}"
        ));
    }
    Ok(())
}

impl Event {
    /// Parses and validates a verified webhook body.
    ///
    /// The error message says which part is invalid; the caller answers 400 and
    /// keeps the body in quarantine.
    pub fn parse(raw: Bytes) -> Result<Self, String> {
        let mut deserializer = serde_json::Deserializer::from_slice(&raw);
        let envelope: Envelope<'_> = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| format!("body is not a WorkOS event envelope: {error}"))?;
        deserializer
            .end()
            .map_err(|error| format!("body is not a WorkOS event envelope: {error}"))?;

        if let Some(object) = &envelope.object
            && object != "event"
        {
            return Err(format!("object is {object:?}, expected \"event\""));
        }
        if envelope.id.trim().is_empty() {
            return Err("id is empty".into());
        }
        if envelope.event.trim().is_empty() {
            return Err("event type is empty".into());
        }
        for (field, value) in [("id", &envelope.id), ("event type", &envelope.event)] {
            check_printable(field, value)?;
        }
        if !envelope.data.get().starts_with('{') {
            return Err("data is not a JSON object".into());
        }
        let created_at_instant = Timestamp::parse(&envelope.created_at).ok_or_else(|| {
            format!(
                "created_at {:?} is not an ISO-8601 timestamp",
                envelope.created_at
            )
        })?;
        let context = match envelope.context {
            Some(value) if value.get() == "null" => None,
            Some(value) if !value.get().starts_with('{') => {
                return Err("context is not a JSON object".into());
            }
            other => other.map(|value| value.get().to_owned()),
        };

        let data = envelope.data.get();
        let user_change = UserChange::from_event(&envelope.event, data)?;
        let subject = subject_of(&envelope.event, data);

        Ok(Self {
            id: envelope.id,
            event_type: envelope.event,
            created_at: envelope.created_at,
            created_at_instant,
            data: data.to_owned(),
            context,
            subject,
            user_change,
            raw: raw.clone(),
        })
    }
}

fn subject_of(event_type: &str, data: &str) -> Option<String> {
    let fields: SubjectFields = serde_json::from_str(data).ok()?;
    let as_text = |value: Option<serde_json::Value>| match value {
        Some(serde_json::Value::String(text)) if !text.is_empty() => Some(text),
        _ => None,
    };

    if event_type.starts_with("user.") {
        return as_text(fields.id);
    }
    as_text(fields.user_id).or_else(|| as_text(fields.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Event, String> {
        Event::parse(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn session_event_subject_is_its_user() {
        let event = parse(
            r#"{"object":"event","id":"event_1","event":"session.created","data":{"object":"session","id":"session_1","user_id":"user_1"},"created_at":"2026-11-02T09:15:40.560Z"}"#,
        )
        .unwrap();
        assert_eq!(event.subject.as_deref(), Some("user_1"));
        assert_eq!(event.user_change, None);
        assert_eq!(event.context, None);
    }

    #[test]
    fn organization_event_subject_is_its_id() {
        let event = parse(
            r#"{"id":"event_2","event":"organization.created","data":{"id":"org_1"},"created_at":"2026-11-02T09:20:11Z","context":{"client_id":"client_1"}}"#,
        )
        .unwrap();
        assert_eq!(event.subject.as_deref(), Some("org_1"));
        assert_eq!(
            event.context.as_deref(),
            Some(r#"{"client_id":"client_1"}"#)
        );
    }

    #[test]
    fn data_kept_byte_for_byte() {
        let data = r#"{"id":"x", "n": 1.50, "s":"\u00e9"}"#;
        let body = format!(
            r#"{{"id":"event_3","event":"new.kind","data":{data},"created_at":"2026-11-02 09:20:11"}}"#
        );
        let event = parse(&body).unwrap();
        assert_eq!(event.data, data);
        assert_eq!(&event.raw[..], body.as_bytes());
    }

    #[test]
    fn invalid_envelopes_rejected() {
        let cases = [
            ("not json", "envelope"),
            ("[]", "envelope"),
            (
                r#"{"event":"user.created","data":{},"created_at":"2026-01-01T00:00:00Z"}"#,
                "id",
            ),
            (
                r#"{"id":"","event":"x","data":{},"created_at":"2026-01-01T00:00:00Z"}"#,
                "id is empty",
            ),
            (
                r#"{"id":"e","event":" ","data":{},"created_at":"2026-01-01T00:00:00Z"}"#,
                "event type",
            ),
            (
                r#"{"id":"e","event":"x","data":[],"created_at":"2026-01-01T00:00:00Z"}"#,
                "data",
            ),
            (
                r#"{"id":"e","event":"x","data":{},"created_at":"later"}"#,
                "created_at",
            ),
            (r#"{"id":"e","event":"x","data":{}}"#, "created_at"),
            (
                r#"{"object":"list","id":"e","event":"x","data":{},"created_at":"2026-01-01T00:00:00Z"}"#,
                "object",
            ),
            (
                r#"{"id":"e","event":"x","data":{},"created_at":"2026-01-01T00:00:00Z","context":3}"#,
                "context",
            ),
            (
                r#"{"id":"e","event":"user.created","data":{"id":"u"},"created_at":"2026-01-01T00:00:00Z"}"#,
                "user object",
            ),
            (
                r#"{"id":"ev\n\u001b[31m","event":"x","data":{},"created_at":"2026-01-01T00:00:00Z"}"#,
                r#"id "ev\n\u{1b}[31m" contains the control character '\n'"#,
            ),
            (
                r#"{"id":"e","event":"x\ty","data":{},"created_at":"2026-01-01T00:00:00Z"}"#,
                "event type \"x\\ty\" contains the control character '\\t'",
            ),
        ];
        for (body, needle) in cases {
            let error = parse(body).unwrap_err();
            assert!(error.contains(needle), "{body}: {error}");
        }

        let long_id = format!(
            r#"{{"id":"{}","event":"x","data":{{}},"created_at":"2026-01-01T00:00:00Z"}}"#,
            "e".repeat(256)
        );
        let error = parse(&long_id).unwrap_err();
        assert!(
            error.contains("id is 256 bytes long; the maximum is 255"),
            "{error}"
        );
    }
}
