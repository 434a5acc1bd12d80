//! Host bindings generated from `wit/authkit-plugin.wit`, and conversions
//! between the generated types and the crate's own.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "authkit-handler",
});

use self::authkit::plugin::types as wit;
use super::input::{ActionInput, AuthenticationAction, UserRegistrationAction};
use super::{ActionKind, EventInput, StoreError, Verdict};
use crate::user::User;

/// The fully qualified name of the export every handler must have. A host
/// lookup of this name also finds any semver-compatible `0.1.x` export.
pub(super) const HANDLER_EXPORT: &str = "authkit:plugin/handler@0.1.0";

/// The name of the handler interface without its version.
pub(super) const HANDLER_EXPORT_UNVERSIONED: &str = "authkit:plugin/handler";

impl From<wit::ActionKind> for ActionKind {
    fn from(kind: wit::ActionKind) -> Self {
        match kind {
            wit::ActionKind::Authentication => ActionKind::Authentication,
            wit::ActionKind::UserRegistration => ActionKind::UserRegistration,
        }
    }
}

impl From<wit::Verdict> for Verdict {
    fn from(verdict: wit::Verdict) -> Self {
        match verdict {
            wit::Verdict::Allow => Verdict::Allow,
            wit::Verdict::Deny(message) => Verdict::Deny(message),
        }
    }
}

impl From<StoreError> for authkit::plugin::store::StoreError {
    fn from(error: StoreError) -> Self {
        use authkit::plugin::store::StoreError as Wit;
        match error {
            StoreError::InvalidKey(detail) => Wit::InvalidKey(detail),
            StoreError::ValueTooLarge(detail) => Wit::ValueTooLarge(detail),
            StoreError::Unavailable(detail) => Wit::Unavailable(detail),
        }
    }
}

impl From<&EventInput> for wit::Event {
    fn from(event: &EventInput) -> Self {
        Self {
            id: event.id.clone(),
            event_type: event.event_type.clone(),
            created_at: event.created_at.clone(),
            data: event.data.clone(),
            context: event.context.clone(),
        }
    }
}

impl From<&ActionInput> for wit::Action {
    fn from(action: &ActionInput) -> Self {
        match action {
            ActionInput::Authentication(action) => {
                wit::Action::Authentication(authentication_context(action))
            }
            ActionInput::UserRegistration(action) => {
                wit::Action::UserRegistration(user_registration_context(action))
            }
        }
    }
}

fn authentication_context(action: &AuthenticationAction) -> wit::AuthenticationContext {
    wit::AuthenticationContext {
        id: action.id.clone(),
        user: wit_user(&action.user),
        organization_id: action.organization_id.clone(),
        organization_membership_id: action.organization_membership_id.clone(),
        ip_address: action.ip_address.clone(),
        user_agent: action.user_agent.clone(),
        device_fingerprint: action.device_fingerprint.clone(),
        issuer: action.issuer.clone(),
        authentication_method: action.authentication_method.clone(),
        raw: action.raw.clone(),
    }
}

fn user_registration_context(action: &UserRegistrationAction) -> wit::UserRegistrationContext {
    wit::UserRegistrationContext {
        id: action.id.clone(),
        user_data: wit::UserData {
            email: action.user_data.email.clone(),
            first_name: action.user_data.first_name.clone(),
            last_name: action.user_data.last_name.clone(),
            name: action.user_data.name.clone(),
        },
        invitation_id: action.invitation_id.clone(),
        ip_address: action.ip_address.clone(),
        user_agent: action.user_agent.clone(),
        device_fingerprint: action.device_fingerprint.clone(),
        authentication_method: action.authentication_method.clone(),
        raw: action.raw.clone(),
    }
}

/// Converts a user to the WIT record.
///
/// The WIT record has no optional `email-verified` or `created-at`, so an
/// absent value becomes `false` or an empty string. Metadata values that are
/// not strings arrive as their JSON text, because the record contains string
/// pairs only.
pub(super) fn wit_user(user: &User) -> wit::User {
    wit::User {
        id: user.id.clone(),
        email: user.email.clone(),
        email_verified: user.email_verified.unwrap_or(false),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        name: user.name.clone(),
        profile_picture_url: user.profile_picture_url.clone(),
        last_sign_in_at: user.last_sign_in_at.clone(),
        locale: user.locale.clone(),
        external_id: user.external_id.clone(),
        metadata: metadata_pairs(&user.metadata),
        created_at: user.created_at.clone().unwrap_or_default(),
        updated_at: user.updated_at.clone(),
        raw: user.raw.clone(),
    }
}

/// Flattens a metadata JSON object into key and value pairs, sorted by key.
/// Text that is not a JSON object gives no pairs; `User::from_json` only
/// accepts objects, so that happens only for a hand-edited database.
fn metadata_pairs(metadata: &str) -> Vec<(String, String)> {
    let Ok(object) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(metadata)
    else {
        tracing::warn!(
            metadata,
            "user metadata is not a JSON object; passing no metadata to the handler"
        );
        return Vec::new();
    };
    let mut pairs: Vec<(String, String)> = object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => (key, text),
            other => (key, other.to_string()),
        })
        .collect();
    pairs.sort();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_values_flattened() {
        let pairs =
            metadata_pairs(r#"{"plan":"team","seats":5,"flags":{"beta":true},"none":null}"#);
        assert_eq!(
            pairs,
            [
                ("flags".to_owned(), r#"{"beta":true}"#.to_owned()),
                ("none".to_owned(), "null".to_owned()),
                ("plan".to_owned(), "team".to_owned()),
                ("seats".to_owned(), "5".to_owned()),
            ]
        );
    }

    #[test]
    fn metadata_not_object_gives_no_pairs() {
        assert!(metadata_pairs("[1]").is_empty());
        assert!(metadata_pairs("{}").is_empty());
    }

    #[test]
    fn user_converted() {
        let user = User::from_json(
            r#"{"id":"user_1","email":"a@example.com","metadata":{"plan":"team"},"updated_at":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let record = wit_user(&user);
        assert_eq!(record.id, "user_1");
        assert!(!record.email_verified);
        assert_eq!(record.created_at, "");
        assert_eq!(record.metadata, [("plan".to_owned(), "team".to_owned())]);
        assert_eq!(record.raw, user.raw);
    }
}
