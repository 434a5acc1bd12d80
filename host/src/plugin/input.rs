//! The inputs of `handle-event` and `handle-action`, and a handler's verdict.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::ActionKind;
use crate::event::Event;
use crate::user::User;

/// One event as a handler receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInput {
    /// The event id (`event_…`).
    pub id: String,
    /// The event type, such as `user.created`.
    pub event_type: String,
    /// `created_at` as WorkOS sent it.
    pub created_at: String,
    /// The `data` object as JSON text, exactly as received.
    pub data: String,
    /// The optional `context` object as JSON text.
    pub context: Option<String>,
}

impl From<&Event> for EventInput {
    fn from(event: &Event) -> Self {
        Self {
            id: event.id.clone(),
            event_type: event.event_type.clone(),
            created_at: event.created_at.clone(),
            data: event.data.clone(),
            context: event.context.clone(),
        }
    }
}

/// One AuthKit Action request, parsed from the body WorkOS posts.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionInput {
    /// A user is signing in.
    Authentication(Box<AuthenticationAction>),
    /// A new user is signing up.
    UserRegistration(Box<UserRegistrationAction>),
}

/// The context of an authentication action.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticationAction {
    /// The action id WorkOS sent.
    pub id: String,
    /// The user who is signing in.
    pub user: User,
    /// The id of the organization the user signs in to, if any.
    pub organization_id: Option<String>,
    /// The id of the user's membership in that organization, if any.
    pub organization_membership_id: Option<String>,
    /// The client's IP address.
    pub ip_address: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// WorkOS's fingerprint of the client device.
    pub device_fingerprint: Option<String>,
    /// The issuer, for single sign-on.
    pub issuer: Option<String>,
    /// The authentication method, such as `Password`.
    pub authentication_method: Option<String>,
    /// The whole request body as JSON text.
    pub raw: String,
}

/// The context of a user registration action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRegistrationAction {
    /// The action id WorkOS sent.
    pub id: String,
    /// The details the person entered.
    pub user_data: UserData,
    /// The id of the invitation the user registers through, if any.
    pub invitation_id: Option<String>,
    /// The client's IP address.
    pub ip_address: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// WorkOS's fingerprint of the client device.
    pub device_fingerprint: Option<String>,
    /// The authentication method, such as `GoogleOAuth`.
    pub authentication_method: Option<String>,
    /// The whole request body as JSON text.
    pub raw: String,
}

/// The details a person entered when registering.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserData {
    /// The email address.
    pub email: String,
    /// The given name.
    pub first_name: Option<String>,
    /// The family name.
    pub last_name: Option<String>,
    /// The full name.
    pub name: Option<String>,
}

/// A handler's decision on an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let the sign-in or registration proceed.
    Allow,
    /// Stop it, with the message WorkOS shows to the user.
    Deny(String),
}

/// The `object` value of an authentication action body.
const AUTHENTICATION_OBJECT: &str = "authentication_action_context";

/// The `object` value of a user registration action body.
const USER_REGISTRATION_OBJECT: &str = "user_registration_action_context";

/// The fields every action body has, read first to pick the kind.
#[derive(Deserialize)]
struct Envelope {
    object: Option<String>,
}

/// A nested object of which only the id matters, such as `organization`.
#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct WireAuthentication<'a> {
    id: String,
    #[serde(borrow)]
    user: &'a RawValue,
    organization: Option<IdOnly>,
    organization_membership: Option<IdOnly>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    device_fingerprint: Option<String>,
    issuer: Option<String>,
    authentication_method: Option<String>,
}

#[derive(Deserialize)]
struct WireUserRegistration {
    id: String,
    user_data: UserData,
    invitation: Option<IdOnly>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    device_fingerprint: Option<String>,
    authentication_method: Option<String>,
}

impl ActionInput {
    /// Parses an action request body as WorkOS posts it. The `object` field
    /// picks the kind: `authentication_action_context` or
    /// `user_registration_action_context`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let envelope: Envelope =
            serde_json::from_str(raw).map_err(|error| format!("invalid action body: {error}"))?;

        match envelope.object.as_deref() {
            Some(AUTHENTICATION_OBJECT) => Self::parse_authentication(raw),
            Some(USER_REGISTRATION_OBJECT) => Self::parse_user_registration(raw),
            Some(other) => Err(format!(
                "invalid action body: unknown object {other:?}; expected \
                 {AUTHENTICATION_OBJECT:?} or {USER_REGISTRATION_OBJECT:?}"
            )),
            None => Err(format!(
                "invalid action body: missing field `object`; expected \
                 {AUTHENTICATION_OBJECT:?} or {USER_REGISTRATION_OBJECT:?}"
            )),
        }
    }

    fn parse_authentication(raw: &str) -> Result<Self, String> {
        let wire: WireAuthentication<'_> = deserialize(raw, "authentication action")?;
        let user = User::from_json(wire.user.get())
            .map_err(|error| format!("invalid authentication action: user: {error}"))?;

        Ok(Self::Authentication(Box::new(AuthenticationAction {
            id: wire.id,
            user,
            organization_id: wire.organization.map(|organization| organization.id),
            organization_membership_id: wire
                .organization_membership
                .map(|membership| membership.id),
            ip_address: wire.ip_address,
            user_agent: wire.user_agent,
            device_fingerprint: wire.device_fingerprint,
            issuer: wire.issuer,
            authentication_method: wire.authentication_method,
            raw: raw.to_owned(),
        })))
    }

    fn parse_user_registration(raw: &str) -> Result<Self, String> {
        let wire: WireUserRegistration = deserialize(raw, "user registration action")?;

        Ok(Self::UserRegistration(Box::new(UserRegistrationAction {
            id: wire.id,
            user_data: wire.user_data,
            invitation_id: wire.invitation.map(|invitation| invitation.id),
            ip_address: wire.ip_address,
            user_agent: wire.user_agent,
            device_fingerprint: wire.device_fingerprint,
            authentication_method: wire.authentication_method,
            raw: raw.to_owned(),
        })))
    }

    /// Returns the kind of the action.
    pub fn kind(&self) -> ActionKind {
        match self {
            ActionInput::Authentication(_) => ActionKind::Authentication,
            ActionInput::UserRegistration(_) => ActionKind::UserRegistration,
        }
    }

    /// Returns the action id WorkOS sent.
    pub fn id(&self) -> &str {
        match self {
            ActionInput::Authentication(action) => &action.id,
            ActionInput::UserRegistration(action) => &action.id,
        }
    }
}

/// Deserializes `raw`, naming the failing field path in the error.
fn deserialize<'a, T: Deserialize<'a>>(raw: &'a str, what: &str) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| format!("invalid {what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHENTICATION: &str = include_str!("../../../examples/actions/authentication.json");
    const REGISTRATION: &str =
        include_str!("../../../examples/actions/user_registration-gmail.json");

    #[test]
    fn authentication_example_parsed() {
        let ActionInput::Authentication(action) = ActionInput::parse(AUTHENTICATION).unwrap()
        else {
            panic!("expected an authentication action");
        };
        assert_eq!(action.id, "01JD4MK7F8G9H0J1K2M3N4P5Q6");
        assert_eq!(action.user.id, "user_01JD4M7Q2S8X5K9B3N6P0R1T2V");
        assert_eq!(action.user.email, "marta.k@example.com");
        assert_eq!(
            action.organization_id.as_deref(),
            Some("org_01JD4MC5D7E9F1G3H5J7K9M1N3")
        );
        assert_eq!(
            action.organization_membership_id.as_deref(),
            Some("om_01JD4MC69X1Y3Z5A7B9C1D3E5F")
        );
        assert_eq!(action.ip_address.as_deref(), Some("198.51.100.23"));
        assert_eq!(action.device_fingerprint.as_deref(), Some("fp_5c1e9a"));
        assert_eq!(action.issuer, None);
        assert_eq!(action.authentication_method.as_deref(), Some("Password"));
        assert_eq!(action.raw, AUTHENTICATION);
    }

    #[test]
    fn registration_example_parsed() {
        let input = ActionInput::parse(REGISTRATION).unwrap();
        assert_eq!(input.kind(), ActionKind::UserRegistration);
        assert_eq!(input.id(), "01JD4MM8G9H0J1K2M3N4P5Q6R7");

        let ActionInput::UserRegistration(action) = input else {
            panic!("expected a user registration action");
        };
        assert_eq!(action.user_data.email, "new.person@gmail.com");
        assert_eq!(action.user_data.first_name.as_deref(), Some("New"));
        assert_eq!(action.invitation_id, None);
        assert_eq!(action.authentication_method.as_deref(), Some("GoogleOAuth"));
        assert_eq!(action.raw, REGISTRATION);
    }

    #[test]
    fn invitation_id_read() {
        let raw = r#"{"object":"user_registration_action_context","id":"a1","user_data":{"email":"x@example.com"},"invitation":{"object":"invitation","id":"invitation_1"}}"#;
        let ActionInput::UserRegistration(action) = ActionInput::parse(raw).unwrap() else {
            panic!("expected a user registration action");
        };
        assert_eq!(action.invitation_id.as_deref(), Some("invitation_1"));
        assert_eq!(action.user_data.name, None);
    }

    #[test]
    fn invalid_bodies_rejected() {
        let cases = [
            ("not json", "invalid action body"),
            (r#"{"id":"a1"}"#, "missing field `object`"),
            (
                r#"{"object":"event","id":"a1"}"#,
                "unknown object \"event\"",
            ),
            (
                r#"{"object":"user_registration_action_context","id":"a1"}"#,
                "user_data",
            ),
            (
                r#"{"object":"user_registration_action_context","id":"a1","user_data":{"email":7}}"#,
                "user_data.email",
            ),
            (
                r#"{"object":"authentication_action_context","id":"a1","user":{"id":"u"}}"#,
                "user: invalid user object",
            ),
        ];
        for (raw, needle) in cases {
            let error = ActionInput::parse(raw).unwrap_err();
            assert!(error.contains(needle), "{raw}: {error}");
        }
    }
}
