//! Helpers on the types generated from the WIT contract.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::payload::{self, Organization, OrganizationMembership, Payload, PayloadError, User};
use crate::{ActionKind, AuthenticationContext, Event, PluginInfo, UserData, UserRecord, Verdict};

impl Event {
    /// Parses `data` into the payload type that the event type implies.
    ///
    /// See [`Payload::parse`] for the mapping.
    pub fn payload(&self) -> Result<Payload, PayloadError> {
        Payload::parse(&self.event_type, &self.data)
    }

    /// Parses `data` as a WorkOS user, whatever the event type.
    pub fn user(&self) -> Result<User, PayloadError> {
        self.data_as()
    }

    /// Parses `data` into any deserializable type.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        payload::parse_json(&format!("`{}` event data", self.event_type), &self.data)
    }

    /// Parses `context` as JSON, or returns `None` if the event has none.
    pub fn context_json(&self) -> Result<Option<Value>, PayloadError> {
        let source = format!("`{}` event context", self.event_type);
        self.context
            .as_deref()
            .map(|context| payload::parse_json(&source, context))
            .transpose()
    }
}

impl Verdict {
    /// Creates a [`Verdict::Deny`] with the message WorkOS shows to the user.
    pub fn deny(message: impl Into<String>) -> Self {
        Self::Deny(message.into())
    }

    /// Returns whether the verdict is [`Verdict::Allow`].
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

impl PluginInfo {
    /// Creates the description of a handler that subscribes to no events
    /// and decides no actions.
    ///
    /// `name` must be stable across versions, because the host keys the
    /// handler's store and settings by it: 1 to 64 ASCII letters, digits,
    /// `-`, `_` or `.`. `version` is 1 to 64 bytes without control
    /// characters. The host rejects a handler that breaks either rule
    /// when it loads it.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            events: Vec::new(),
            actions: Vec::new(),
        }
    }

    /// Adds event types to receive: exact names such as `user.created`,
    /// prefix patterns such as `user.*`, or `*` for every event.
    pub fn with_events<I, S>(mut self, events: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.events.extend(events.into_iter().map(Into::into));
        self
    }

    /// Adds action kinds to decide.
    pub fn with_actions(mut self, actions: impl IntoIterator<Item = ActionKind>) -> Self {
        self.actions.extend(actions);
        self
    }
}

impl UserRecord {
    /// Parses `raw`, the user object as WorkOS sent it, including fields that
    /// the record does not carry.
    pub fn workos_user(&self) -> Result<User, PayloadError> {
        payload::parse_json("raw user record", &self.raw)
    }

    /// Returns the metadata value for `key`, if set.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

impl UserData {
    /// Returns the part of the email address after the last `@`, or `None`
    /// if the address has no `@`.
    pub fn email_domain(&self) -> Option<&str> {
        email_domain(&self.email)
    }
}

impl AuthenticationContext {
    /// Parses the `organization` object of the raw request body, or returns
    /// `None` when the user signs in without one.
    pub fn organization(&self) -> Result<Option<Organization>, PayloadError> {
        self.raw_field("organization")
    }

    /// Parses the `organization_membership` object of the raw request body,
    /// or returns `None` when the user signs in without an organization.
    pub fn organization_membership(&self) -> Result<Option<OrganizationMembership>, PayloadError> {
        self.raw_field("organization_membership")
    }

    fn raw_field<T: DeserializeOwned>(&self, field: &str) -> Result<Option<T>, PayloadError> {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(flatten)]
            fields: serde_json::Map<String, Value>,
        }

        let source = format!("authentication action `{field}`");
        let mut body: Body = payload::parse_json("authentication action body", &self.raw)?;
        match body.fields.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value)
                .map(Some)
                .map_err(|error| PayloadError::new::<T>(&source, error)),
        }
    }
}

/// Returns the part of `email` after the last `@`, or `None` if there is no
/// `@`.
pub(crate) fn email_domain(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, domain)| domain)
}
