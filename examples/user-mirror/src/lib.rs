//! Example handler: mirrors WorkOS users into its store, as an application
//! keeps its own users table.
//!
//! The record of each user lives at `users/<user_id>` as JSON. A deleted
//! user's record is removed and a tombstone is stored at `deleted/<user_id>`.
//!
//! WorkOS may deliver events more than once and out of order, so the
//! handler orders writes by the user's `updated_at` (falling back to the
//! event's `created_at`) and skips an update older than the stored record.
//! A tombstone makes every later create or update of that user a no-op,
//! which assumes that WorkOS never reuses a user id.

use authkit_plugin::{Event, Handler, PluginInfo, Result, User, store};
use serde::{Deserialize, Serialize};

/// The application's copy of one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MirroredUser {
    id: String,
    email: String,
    email_verified: bool,
    /// The full name, or the first and last name joined when WorkOS sent no
    /// full name.
    name: Option<String>,
    external_id: Option<String>,
    /// The WorkOS `updated_at` timestamp of the version mirrored.
    updated_at: String,
}

impl MirroredUser {
    fn from_user(user: &User, event: &Event) -> Self {
        Self {
            id: user.id.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified.unwrap_or(false),
            name: display_name(user),
            external_id: user.external_id.clone(),
            updated_at: user
                .updated_at
                .clone()
                .unwrap_or_else(|| event.created_at.clone()),
        }
    }
}

fn display_name(user: &User) -> Option<String> {
    if let Some(name) = user.name.as_deref().filter(|name| !name.is_empty()) {
        return Some(name.to_owned());
    }
    let parts: Vec<&str> = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Returns whether `incoming` should replace `stored`.
///
/// WorkOS sends timestamps in one ISO-8601 UTC format with millisecond
/// precision (`2026-11-02T09:15:40.601Z`), so comparing the strings orders
/// them by time. An equal timestamp replaces the record, so redelivering the
/// same event rewrites the same value.
///
/// NOTE: a timestamp in another format (another offset or precision) would
/// compare wrongly; parse the times before comparing if that can happen.
fn is_newer(incoming: &MirroredUser, stored: Option<&MirroredUser>) -> bool {
    stored.is_none_or(|stored| incoming.updated_at >= stored.updated_at)
}

fn record_key(user_id: &str) -> String {
    format!("users/{user_id}")
}

fn tombstone_key(user_id: &str) -> String {
    format!("deleted/{user_id}")
}

fn upsert(event: &Event, user: &User) -> Result<()> {
    if store::get(&tombstone_key(&user.id))?.is_some() {
        authkit_plugin::info!(
            "skipping {} for user {}: user already deleted (event {})",
            event.event_type,
            user.id,
            event.id
        );
        return Ok(());
    }
    let key = record_key(&user.id);
    let incoming = MirroredUser::from_user(user, event);
    let stored: Option<MirroredUser> = store::get_json(&key)?;
    if !is_newer(&incoming, stored.as_ref()) {
        authkit_plugin::debug!(
            "skipping {} for user {}: stored version is newer (event {})",
            event.event_type,
            user.id,
            event.id
        );
        return Ok(());
    }
    store::set_json(&key, &incoming)?;
    authkit_plugin::debug!("mirrored user {} (event {})", user.id, event.id);
    Ok(())
}

struct UserMirror;

impl Handler for UserMirror {
    fn describe() -> PluginInfo {
        PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")).with_events([
            "user.created",
            "user.updated",
            "user.deleted",
        ])
    }

    fn on_user_created(event: &Event, user: User) -> Result<()> {
        upsert(event, &user)
    }

    fn on_user_updated(event: &Event, user: User) -> Result<()> {
        upsert(event, &user)
    }

    fn on_user_deleted(event: &Event, user: User) -> Result<()> {
        store::delete(&record_key(&user.id))?;
        store::set(&tombstone_key(&user.id), event.created_at.as_bytes())?;
        authkit_plugin::info!("removed mirrored user {} (event {})", user.id, event.id);
        Ok(())
    }
}

authkit_plugin::export_handler!(UserMirror);

#[cfg(test)]
mod tests {
    use super::*;

    fn event(created_at: &str) -> Event {
        Event {
            id: "event_1".to_owned(),
            event_type: "user.updated".to_owned(),
            created_at: created_at.to_owned(),
            data: String::new(),
            context: None,
        }
    }

    fn user(json: &str) -> User {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn record_takes_user_fields() {
        let user = user(
            r#"{"id":"user_1","email":"a@example.com","email_verified":true,
                "name":"Ada Lovelace","external_id":"crm-1",
                "updated_at":"2026-11-02T09:15:40.601Z"}"#,
        );
        let record = MirroredUser::from_user(&user, &event("2026-11-02T09:15:40.650Z"));
        assert_eq!(record.id, "user_1");
        assert_eq!(record.email, "a@example.com");
        assert!(record.email_verified);
        assert_eq!(record.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(record.external_id.as_deref(), Some("crm-1"));
        assert_eq!(record.updated_at, "2026-11-02T09:15:40.601Z");
    }

    #[test]
    fn record_joins_first_and_last_name() {
        let user = user(r#"{"id":"u","email":"e","first_name":"Dev","last_name":"Tester"}"#);
        assert_eq!(display_name(&user).as_deref(), Some("Dev Tester"));
    }

    #[test]
    fn record_without_names_has_no_name() {
        let user = user(r#"{"id":"u","email":"e","name":null,"first_name":""}"#);
        assert_eq!(display_name(&user), None);
    }

    #[test]
    fn record_falls_back_to_event_time() {
        let user = user(r#"{"id":"u","email":"e"}"#);
        let record = MirroredUser::from_user(&user, &event("2026-11-02T12:00:00.000Z"));
        assert_eq!(record.updated_at, "2026-11-02T12:00:00.000Z");
        assert!(!record.email_verified);
    }

    #[test]
    fn older_update_does_not_replace() {
        let base = MirroredUser::from_user(
            &user(r#"{"id":"u","email":"e","updated_at":"2026-11-02T09:15:40.601Z"}"#),
            &event("x"),
        );
        let older = MirroredUser {
            updated_at: "2026-11-02T09:14:03.118Z".to_owned(),
            ..base.clone()
        };
        assert!(is_newer(&base, None));
        assert!(is_newer(&base, Some(&older)));
        assert!(is_newer(&base, Some(&base)));
        assert!(!is_newer(&older, Some(&base)));
    }
}
