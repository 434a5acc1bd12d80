//! Durable storage behind one interface.
//!
//! Ingest, the HTTP API and the background tasks use only the [`Store`]
//! trait, so a second backend (PostgreSQL for several hosts) can implement
//! it without touching them. [`SqliteStore`] is the embedded default.

mod schema;
mod sqlite;

use async_trait::async_trait;
use bytes::Bytes;

pub use sqlite::SqliteStore;

use crate::error::Result;
use crate::event::Event;
use crate::timestamp::Timestamp;
use crate::user::User;

/// What [`Store::ingest`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The event was new and is now durable.
    Stored {
        /// The position in receive order.
        sequence: i64,
        /// What the event did to the users table.
        user_effect: UserEffect,
    },
    /// An event with this id was stored before; nothing changed.
    Duplicate,
}

/// What an event did to the users table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserEffect {
    /// The event type does not touch users.
    NotAUserEvent,
    /// A new row was inserted.
    Inserted,
    /// An older row was replaced.
    Updated,
    /// The stored row is as new or newer, so the event was ignored.
    Stale,
    /// The user was deleted earlier, so the create or update was ignored.
    Tombstoned,
    /// The row was removed (or was absent) and a tombstone recorded.
    Deleted,
}

impl UserEffect {
    /// Returns a short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            UserEffect::NotAUserEvent => "none",
            UserEffect::Inserted => "inserted",
            UserEffect::Updated => "updated",
            UserEffect::Stale => "stale",
            UserEffect::Tombstoned => "tombstoned",
            UserEffect::Deleted => "deleted",
        }
    }
}

/// A key to look a user up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    /// The WorkOS user id.
    Id(String),
    /// The email address, compared case-insensitively.
    Email(String),
    /// The application's own id.
    ExternalId(String),
}

/// Durable storage for events, users and quarantined bodies.
///
/// Every write method returns only after its effect is durable, which is what
/// lets the webhook endpoint acknowledge on return.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a verified event unless its id was seen before, and applies it
    /// to the users table: a row only moves to a newer `updated_at`, and a
    /// delete leaves a tombstone that later creates and updates cannot undo.
    async fn ingest(&self, event: Event) -> Result<IngestOutcome>;

    /// Keeps a validly signed body that is not a valid event, for inspection.
    /// Returns the quarantine entry's id.
    async fn quarantine(&self, raw: Bytes, reason: String) -> Result<i64>;

    /// Returns the stored user for a lookup key, or `None` if absent or
    /// deleted. When several users match, the most recently updated wins.
    async fn find_user(&self, lookup: UserLookup) -> Result<Option<User>>;

    /// Removes tombstones recorded before `recorded_before`. Returns how many.
    async fn prune_tombstones(&self, recorded_before: Timestamp) -> Result<u64>;

    /// Checks that the store can read and write.
    async fn check_health(&self) -> Result<()>;
}
