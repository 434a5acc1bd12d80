//! Builds SDK values from the WorkOS fixtures in `tests/fixtures`.

#![allow(dead_code)]

use authkit_plugin::Event;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The WorkOS event envelope, with `data` and `context` kept as the exact
/// JSON text, as the host passes them on.
#[derive(Deserialize)]
struct Envelope {
    id: String,
    event: String,
    created_at: String,
    data: Box<RawValue>,
    #[serde(default)]
    context: Option<Box<RawValue>>,
}

/// Converts one WorkOS event body into the event record the host passes to
/// a handler.
pub(crate) fn event_from_json(json: &str) -> Event {
    let envelope: Envelope = serde_json::from_str(json).expect("fixture is a WorkOS event");
    Event {
        id: envelope.id,
        event_type: envelope.event,
        created_at: envelope.created_at,
        data: envelope.data.get().to_owned(),
        context: envelope.context.map(|context| context.get().to_owned()),
    }
}

/// Builds an event with the given type and data JSON.
pub(crate) fn event(event_type: &str, data: &str) -> Event {
    Event {
        id: "event_TEST".to_owned(),
        event_type: event_type.to_owned(),
        created_at: "2026-11-02T09:14:03.201Z".to_owned(),
        data: data.to_owned(),
        context: None,
    }
}

pub(crate) const USER_CREATED: &str = include_str!("../fixtures/events/01-user.created.json");
pub(crate) const SESSION_CREATED: &str = include_str!("../fixtures/events/02-session.created.json");
pub(crate) const USER_UPDATED: &str = include_str!("../fixtures/events/03-user.updated.json");
pub(crate) const ORGANIZATION_CREATED: &str =
    include_str!("../fixtures/events/04-organization.created.json");
pub(crate) const MEMBERSHIP_CREATED: &str =
    include_str!("../fixtures/events/05-organization_membership.created.json");
pub(crate) const GMAIL_USER_CREATED: &str = include_str!("../fixtures/events/06-user.created.json");
pub(crate) const SESSION_REVOKED: &str = include_str!("../fixtures/events/07-session.revoked.json");
pub(crate) const USER_DELETED: &str = include_str!("../fixtures/events/08-user.deleted.json");
pub(crate) const DSYNC_USER_CREATED: &str =
    include_str!("../fixtures/events/09-dsync.user.created.json");

pub(crate) const AUTHENTICATION: &str = include_str!("../fixtures/actions/authentication.json");
pub(crate) const REGISTRATION_COMPANY: &str =
    include_str!("../fixtures/actions/user_registration-company.json");
pub(crate) const REGISTRATION_GMAIL: &str =
    include_str!("../fixtures/actions/user_registration-gmail.json");
