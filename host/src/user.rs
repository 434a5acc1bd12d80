//! The WorkOS user object and the changes `user.*` events make to it.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::timestamp::Timestamp;

/// A user as WorkOS sends it, with typed copies of the fields the host
/// queries and the full JSON text so unknown fields survive.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The WorkOS user id (`user_…`).
    pub id: String,
    /// The email address.
    pub email: String,
    /// Whether WorkOS has verified the email address.
    pub email_verified: Option<bool>,
    /// The given name.
    pub first_name: Option<String>,
    /// The family name.
    pub last_name: Option<String>,
    /// The full display name, sent by newer API versions.
    pub name: Option<String>,
    /// The avatar URL.
    pub profile_picture_url: Option<String>,
    /// When the user last signed in, as sent.
    pub last_sign_in_at: Option<String>,
    /// The user's locale, such as `pl-PL`.
    pub locale: Option<String>,
    /// The application's own id for the user.
    pub external_id: Option<String>,
    /// The metadata object as JSON text (`{}` when absent).
    pub metadata: String,
    /// When the user was created, as sent.
    pub created_at: Option<String>,
    /// When the user was last updated, as sent.
    pub updated_at: String,
    /// `updated_at` parsed, which decides whether a change is newer.
    pub updated_at_instant: Timestamp,
    /// The user object exactly as received, as JSON text.
    pub raw: String,
}

/// The typed subset of the wire object; everything else stays in `raw`.
#[derive(Deserialize)]
struct WireUser {
    id: String,
    email: String,
    email_verified: Option<bool>,
    first_name: Option<String>,
    last_name: Option<String>,
    name: Option<String>,
    profile_picture_url: Option<String>,
    last_sign_in_at: Option<String>,
    locale: Option<String>,
    external_id: Option<String>,
    metadata: Option<Box<RawValue>>,
    created_at: Option<String>,
    updated_at: String,
}

/// The fields of a `user.deleted` payload, which WorkOS may trim to the id.
#[derive(Deserialize)]
struct DeletedUser {
    id: String,
}

impl User {
    /// Parses a full user object, as sent with `user.created` and `user.updated`.
    pub fn from_json(raw: &str) -> Result<Self, String> {
        let mut deserializer = serde_json::Deserializer::from_str(raw);
        let wire: WireUser = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| format!("invalid user object: {error}"))?;

        if wire.id.trim().is_empty() {
            return Err("invalid user object: id is empty".into());
        }
        let updated_at_instant = Timestamp::parse(&wire.updated_at).ok_or_else(|| {
            format!(
                "invalid user object: updated_at {:?} is not an ISO-8601 timestamp",
                wire.updated_at
            )
        })?;
        let metadata = match wire.metadata {
            Some(value) if value.get() != "null" => {
                if !value.get().trim_start().starts_with('{') {
                    return Err("invalid user object: metadata is not an object".into());
                }
                value.get().to_owned()
            }
            _ => "{}".to_owned(),
        };

        Ok(Self {
            id: wire.id,
            email: wire.email,
            email_verified: wire.email_verified,
            first_name: wire.first_name,
            last_name: wire.last_name,
            name: wire.name,
            profile_picture_url: wire.profile_picture_url,
            last_sign_in_at: wire.last_sign_in_at,
            locale: wire.locale,
            external_id: wire.external_id,
            metadata,
            created_at: wire.created_at,
            updated_at: wire.updated_at,
            updated_at_instant,
            raw: raw.to_owned(),
        })
    }
}

/// What a `user.*` event does to the users table.
#[derive(Debug, Clone, PartialEq)]
pub enum UserChange {
    /// `user.created` or `user.updated`: insert, or replace an older row.
    Upsert(Box<User>),
    /// `user.deleted`: remove the row and leave a tombstone.
    Delete {
        /// The deleted user's id.
        id: String,
    },
}

impl UserChange {
    /// Reads the change an event makes, or `None` for event types that do not
    /// touch the users table.
    pub fn from_event(event_type: &str, data: &str) -> Result<Option<Self>, String> {
        match event_type {
            "user.created" | "user.updated" => {
                Ok(Some(Self::Upsert(Box::new(User::from_json(data)?))))
            }
            "user.deleted" => {
                let deleted: DeletedUser = serde_json::from_str(data)
                    .map_err(|error| format!("invalid user.deleted data: {error}"))?;
                if deleted.id.trim().is_empty() {
                    return Err("invalid user.deleted data: id is empty".into());
                }
                Ok(Some(Self::Delete { id: deleted.id }))
            }
            _ => Ok(None),
        }
    }

    /// Returns the id of the user the change applies to.
    pub fn user_id(&self) -> &str {
        match self {
            UserChange::Upsert(user) => &user.id,
            UserChange::Delete { id } => id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"object":"user","id":"user_01","email":"marta.k@example.com","email_verified":true,"first_name":"Marta","last_name":"Kowal","name":"Marta Kowal","profile_picture_url":null,"last_sign_in_at":null,"locale":"pl-PL","external_id":"crm-1","metadata":{"plan":"team"},"created_at":"2026-11-02T09:14:03.118Z","updated_at":"2026-11-02T09:14:03.118Z","favourite_colour":"teal"}"#;

    #[test]
    fn full_user_keeps_typed_and_raw_fields() {
        let user = User::from_json(FULL).unwrap();
        assert_eq!(user.id, "user_01");
        assert_eq!(user.email, "marta.k@example.com");
        assert_eq!(user.email_verified, Some(true));
        assert_eq!(user.external_id.as_deref(), Some("crm-1"));
        assert_eq!(user.metadata, r#"{"plan":"team"}"#);
        assert_eq!(user.raw, FULL);
        assert!(user.raw.contains("favourite_colour"));
    }

    #[test]
    fn missing_optional_fields_accepted() {
        let raw = r#"{"id":"user_02","email":"a@example.com","updated_at":"2026-01-01 00:00:00"}"#;
        let user = User::from_json(raw).unwrap();
        assert_eq!(user.metadata, "{}");
        assert_eq!(user.name, None);
    }

    #[test]
    fn invalid_users_rejected() {
        let cases = [
            (
                r#"{"email":"a@example.com","updated_at":"2026-01-01T00:00:00Z"}"#,
                "id",
            ),
            (
                r#"{"id":"","email":"a@example.com","updated_at":"2026-01-01T00:00:00Z"}"#,
                "empty",
            ),
            (r#"{"id":"user_1","email":"a@example.com"}"#, "updated_at"),
            (
                r#"{"id":"user_1","email":"a@example.com","updated_at":"soon"}"#,
                "soon",
            ),
            (
                r#"{"id":"user_1","email":"a@example.com","updated_at":"2026-01-01T00:00:00Z","metadata":[1]}"#,
                "metadata",
            ),
            (
                r#"{"id":"user_1","email":7,"updated_at":"2026-01-01T00:00:00Z"}"#,
                "email",
            ),
        ];
        for (raw, needle) in cases {
            let error = User::from_json(raw).unwrap_err();
            assert!(error.contains(needle), "{raw}: {error}");
        }
    }

    #[test]
    fn trimmed_delete_accepted() {
        let change =
            UserChange::from_event("user.deleted", r#"{"object":"user","id":"user_9"}"#).unwrap();
        assert_eq!(
            change,
            Some(UserChange::Delete {
                id: "user_9".into()
            })
        );
    }

    #[test]
    fn other_event_types_change_nothing() {
        let change = UserChange::from_event("session.created", r#"{"id":"session_1"}"#).unwrap();
        assert_eq!(change, None);
    }
}
