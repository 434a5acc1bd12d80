//! Typed WorkOS payloads.
//!
//! The types follow the WorkOS wire format: snake_case field names, `null`
//! or an absent field for a missing optional value, and timestamps as the
//! ISO-8601 text WorkOS sent. Each type keeps fields it does not name, such
//! as `object` or fields WorkOS adds later, in its `extra` map, so a new
//! WorkOS field never breaks parsing and serializing a value writes every
//! field back.
//!
//! [`Payload::parse`] picks the type from the event type:
//!
//! | event type                  | payload                              |
//! |-----------------------------|--------------------------------------|
//! | `user.*`                    | [`Payload::User`]                    |
//! | `session.*`                 | [`Payload::Session`]                 |
//! | `organization.*`            | [`Payload::Organization`]            |
//! | `organization_membership.*` | [`Payload::OrganizationMembership`]  |
//! | `dsync.user.*`              | [`Payload::DirectoryUser`]           |
//! | anything else               | [`Payload::Other`] with the raw JSON |

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A WorkOS user object (`"object": "user"`).
///
/// Only `id` and `email` are required, because `user.deleted` events may
/// carry a trimmed object such as `{"object":"user","id":…,"email":…}`. The
/// other fields are `None` or empty when the payload omits them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The WorkOS user id (`user_…`).
    pub id: String,
    /// The user's email address.
    pub email: String,
    /// Whether WorkOS has verified the email address, or `None` when the
    /// payload omits the field.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// The first name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// The last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// The full name.
    #[serde(default)]
    pub name: Option<String>,
    /// The URL of the profile picture.
    #[serde(default)]
    pub profile_picture_url: Option<String>,
    /// When the user last signed in.
    #[serde(default)]
    pub last_sign_in_at: Option<String>,
    /// The user's locale, for example `pl-PL`.
    #[serde(default)]
    pub locale: Option<String>,
    /// The id the application assigned to the user in WorkOS.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Metadata key-value pairs; WorkOS stores the values as strings.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// When WorkOS created the user.
    #[serde(default)]
    pub created_at: Option<String>,
    /// When WorkOS last updated the user.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Fields this type does not name, such as `object`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The user who impersonates another in a WorkOS session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impersonator {
    /// The impersonator's email address.
    pub email: String,
    /// The reason the impersonator gave.
    #[serde(default)]
    pub reason: Option<String>,
    /// Fields this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A WorkOS session object (`"object": "session"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The session id (`session_…`).
    pub id: String,
    /// The id of the user the session belongs to.
    pub user_id: String,
    /// The organization the session is scoped to.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// The session status, for example `active` or `revoked`.
    #[serde(default)]
    pub status: Option<String>,
    /// How the user authenticated, for example `password`.
    #[serde(default)]
    pub auth_method: Option<String>,
    /// The IP address the session started from.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// The user agent the session started from.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The impersonator, when another user impersonates the session's user.
    #[serde(default)]
    pub impersonator: Option<Impersonator>,
    /// When the session expires.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// When the session was created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// When the session was last updated.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Fields this type does not name, such as `object`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A domain of a WorkOS organization (`"object": "organization_domain"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationDomain {
    /// The domain id (`org_domain_…`).
    pub id: String,
    /// The domain name, for example `example.com`.
    pub domain: String,
    /// The verification state, for example `verified` or `pending`.
    #[serde(default)]
    pub state: Option<String>,
    /// How the domain is verified, for example `dns` or `manual`.
    #[serde(default)]
    pub verification_strategy: Option<String>,
    /// The id of the organization that owns the domain.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// When the domain was added.
    #[serde(default)]
    pub created_at: Option<String>,
    /// When the domain was last updated.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Fields this type does not name, such as `object`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A WorkOS organization object (`"object": "organization"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// The organization id (`org_…`).
    pub id: String,
    /// The organization's name.
    pub name: String,
    /// Whether members may sign in with profiles outside the organization's
    /// domains.
    #[serde(default)]
    pub allow_profiles_outside_organization: Option<bool>,
    /// The organization's domains.
    #[serde(default)]
    pub domains: Vec<OrganizationDomain>,
    /// The id the application assigned to the organization in WorkOS.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Metadata key-value pairs; WorkOS stores the values as strings.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// When the organization was created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// When the organization was last updated.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Fields this type does not name, such as `object`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A role reference, as in `"role": {"slug": "admin"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    /// The role's slug.
    pub slug: String,
    /// Fields this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A WorkOS organization membership object
/// (`"object": "organization_membership"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationMembership {
    /// The membership id (`om_…`).
    pub id: String,
    /// The id of the member.
    pub user_id: String,
    /// The id of the organization.
    pub organization_id: String,
    /// The organization's name.
    #[serde(default)]
    pub organization_name: Option<String>,
    /// The member's primary role.
    #[serde(default)]
    pub role: Option<Role>,
    /// Every role of the member.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// The membership status, for example `active` or `pending`.
    #[serde(default)]
    pub status: Option<String>,
    /// Attributes mapped from the identity provider.
    #[serde(default)]
    pub custom_attributes: Map<String, Value>,
    /// When the membership was created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// When the membership was last updated.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Fields this type does not name, such as `object`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A WorkOS Directory Sync user object (`"object": "directory_user"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryUser {
    /// The directory user id (`directory_user_…`).
    pub id: String,
    /// The id of the directory the user belongs to.
    pub directory_id: String,
    /// The id of the organization that owns the directory.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// The user's id in the identity provider.
    #[serde(default)]
    pub idp_id: Option<String>,
    /// The user's email address; directories may omit it.
    #[serde(default)]
    pub email: Option<String>,
    /// The first name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// The last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// The user's state in the directory, for example `active`.
    #[serde(default)]
    pub state: Option<String>,
    /// The user's role.
    #[serde(default)]
    pub role: Option<Role>,
    /// Attributes mapped by the organization's attribute mapping.
    #[serde(default)]
    pub custom_attributes: Map<String, Value>,
    /// Attributes as the identity provider sent them.
    #[serde(default)]
    pub raw_attributes: Map<String, Value>,
    /// When the directory user was created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// When the directory user was last updated.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Fields this type does not name, such as `object` or `groups`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An event's `data`, parsed into the type its event type implies.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// The data of a `user.*` event.
    User(User),
    /// The data of a `session.*` event.
    Session(Session),
    /// The data of an `organization.*` event.
    Organization(Organization),
    /// The data of an `organization_membership.*` event.
    OrganizationMembership(OrganizationMembership),
    /// The data of a `dsync.user.*` event.
    DirectoryUser(DirectoryUser),
    /// The data of any other event, as parsed JSON.
    Other(Value),
}

impl Payload {
    /// Parses an event's `data` JSON into the type that `event_type` implies.
    ///
    /// The mapping is in the [module documentation](self). The error names
    /// the event type and the target type.
    pub fn parse(event_type: &str, data: &str) -> Result<Self, PayloadError> {
        let source = format!("`{event_type}` event data");
        let payload = if event_type.starts_with("user.") {
            Self::User(parse_json(&source, data)?)
        } else if event_type.starts_with("session.") {
            Self::Session(parse_json(&source, data)?)
        } else if event_type.starts_with("organization.") {
            Self::Organization(parse_json(&source, data)?)
        } else if event_type.starts_with("organization_membership.") {
            Self::OrganizationMembership(parse_json(&source, data)?)
        } else if event_type.starts_with("dsync.user.") {
            Self::DirectoryUser(parse_json(&source, data)?)
        } else {
            Self::Other(parse_json(&source, data)?)
        };
        Ok(payload)
    }
}

/// A JSON document that did not parse into the expected type.
#[derive(Debug)]
pub struct PayloadError {
    source: String,
    target: &'static str,
    error: serde_json::Error,
}

impl PayloadError {
    /// Creates an error for JSON from `source` that did not parse into `T`.
    pub(crate) fn new<T>(source: &str, error: serde_json::Error) -> Self {
        Self {
            source: source.to_owned(),
            target: short_type_name::<T>(),
            error,
        }
    }

    /// Returns the serde_json error, which carries the line and column.
    pub fn json_error(&self) -> &serde_json::Error {
        &self.error
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed to parse {} as {}: {}",
            self.source, self.target, self.error
        )
    }
}

impl std::error::Error for PayloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Parses `json` into `T`, naming `source` in the error.
pub(crate) fn parse_json<T: DeserializeOwned>(source: &str, json: &str) -> Result<T, PayloadError> {
    serde_json::from_str(json).map_err(|error| PayloadError::new::<T>(source, error))
}

/// Returns the last path segment of `T`'s name, for example `User`.
fn short_type_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    let without_generics = name.split('<').next().unwrap_or(name);
    without_generics.rsplit("::").next().unwrap_or(name)
}
