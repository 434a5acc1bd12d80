//! The parts of a backfill besides the users themselves: the counts a page
//! reports and the `user.created` event that brings an imported user to the
//! plugins.

use bytes::Bytes;
use serde_json::json;

use crate::event::Event;
use crate::timestamp::Timestamp;
use crate::user::{User, UserChange};

/// The import cursor name under which [`Store::backfill_users`] keeps the
/// backfill's position.
///
/// [`Store::backfill_users`]: super::Store::backfill_users
pub const BACKFILL_CURSOR: &str = "backfill:users";

/// The id prefix of the events a backfill stores for the users it inserts.
pub const BACKFILL_EVENT_PREFIX: &str = "backfill_user.created_";

/// The changes one page of backfilled users made to the users table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillPage {
    /// Users that were absent and were inserted, each with a `user.created`
    /// event for the plugins.
    pub inserted: u64,
    /// Stored users that the page had a newer version of.
    pub updated: u64,
    /// Users whose stored row is as new or newer.
    pub stale: u64,
    /// Users that were deleted earlier and stay deleted.
    pub tombstoned: u64,
}

impl BackfillPage {
    /// Returns how many users the page left unchanged.
    pub fn skipped(&self) -> u64 {
        self.stale + self.tombstoned
    }
}

/// Builds the `user.created` event stored for a user a backfill inserts, so
/// the dispatcher delivers it like a webhook's. Its id is the user id with
/// [`BACKFILL_EVENT_PREFIX`], so a user is announced once however often
/// backfills run, and its `data` is the user object as the API listed it.
pub fn backfill_event(user: &User, stored_at: Timestamp) -> Event {
    let id = format!("{BACKFILL_EVENT_PREFIX}{}", user.id);
    let created_at = stored_at.to_rfc3339();
    let raw = format!(
        r#"{{"object":"event","id":{},"event":"user.created","data":{},"created_at":{}}}"#,
        json!(id),
        user.raw,
        json!(created_at),
    );

    Event {
        id,
        event_type: "user.created".to_owned(),
        created_at,
        created_at_instant: stored_at,
        data: user.raw.clone(),
        context: None,
        subject: Some(user.id.clone()),
        user_change: Some(UserChange::Upsert(Box::new(user.clone()))),
        raw: Bytes::from(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backfill_event_parses_as_webhook_would() {
        let user = User::from_json(
            r#"{"object":"user","id":"user_7","email":"a@example.com","updated_at":"2026-11-02T09:00:00Z","extra":[1]}"#,
        )
        .unwrap();
        let stored_at = Timestamp::parse("2026-11-03T10:00:00Z").unwrap();

        let event = backfill_event(&user, stored_at);
        let parsed = Event::parse(event.raw.clone()).unwrap();

        assert_eq!(parsed.id, "backfill_user.created_user_7");
        assert_eq!(parsed.id, event.id);
        assert_eq!(parsed.event_type, event.event_type);
        assert_eq!(parsed.data, user.raw);
        assert_eq!(parsed.subject, event.subject);
        assert_eq!(parsed.created_at_instant, stored_at);
        assert_eq!(parsed.user_change, event.user_change);
    }
}
