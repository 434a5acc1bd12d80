//! Durable storage behind one interface.
//!
//! Ingest, the HTTP API and the background tasks use only the [`Store`]
//! trait, so a second backend (PostgreSQL for several hosts) can implement
//! it without touching them. [`SqliteStore`] is the embedded default.

mod backfill;
mod schema;
mod sqlite;

use async_trait::async_trait;
use bytes::Bytes;

pub use backfill::{BACKFILL_CURSOR, BACKFILL_EVENT_PREFIX, BackfillPage, backfill_event};
pub use sqlite::SqliteStore;

use crate::error::Result;
use crate::event::Event;
use crate::timestamp::Timestamp;
use crate::user::User;

/// The result of [`Store::ingest`].
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

/// An event that fan-out has not yet queued deliveries for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndispatchedEvent {
    /// The event's position in receive order.
    pub sequence: i64,
    /// The event type, matched against plugin subscriptions.
    pub event_type: String,
    /// The user or other entity the event is about.
    pub subject: Option<String>,
}

/// A delivery for fan-out to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The plugin that should handle the event.
    pub plugin: String,
    /// The event's sequence.
    pub event_sequence: i64,
    /// The event's subject, which orders deliveries.
    pub subject: Option<String>,
}

/// A delivery that is due, with its event.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The event's sequence.
    pub event_sequence: i64,
    /// How many attempts have failed so far.
    pub attempts: u32,
    /// The stored event.
    pub event: Event,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The handler succeeded, or the loaded version no longer subscribes
    /// to the event: the delivery is done.
    Handled,
    /// The handler failed; retry at the given time, or park the delivery as
    /// dead when `retry_at` is `None`.
    Failed {
        /// What went wrong, for operators.
        error: String,
        /// When to try again.
        retry_at: Option<Timestamp>,
    },
}

/// One write a handler made to its store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreWrite {
    /// Set `key` to `value`.
    Set {
        /// The key.
        key: String,
        /// The new value.
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: String,
    },
}

/// Whether a delivery still waits or has been given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// Out of attempts; waits for an operator to retry it.
    Dead,
}

impl DeliveryStatus {
    /// Returns the name stored in the database and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Dead => "dead",
        }
    }
}

/// A delivery as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The plugin the delivery is for.
    pub plugin: String,
    /// The event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// Pending or dead.
    pub status: DeliveryStatus,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (meaningless once dead).
    pub next_attempt_at: Timestamp,
    /// The last failure.
    pub last_error: Option<String>,
}

/// The backlog of fan-out and delivery, for the metrics page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Stored events that fan-out has not yet queued deliveries for.
    pub events_awaiting_fan_out: u64,
    /// Deliveries by plugin and status, in plugin name order; a plugin with
    /// none in a status is left out.
    pub deliveries: Vec<DeliveryCount>,
}

/// The number of one plugin's deliveries in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCount {
    /// The plugin name.
    pub plugin: String,
    /// Pending or dead.
    pub status: DeliveryStatus,
    /// How many.
    pub count: u64,
}

/// A selection of deliveries to list or retry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only this plugin's deliveries.
    pub plugin: Option<String>,
    /// Only the deliveries of this event id.
    pub event_id: Option<String>,
    /// Only dead deliveries; otherwise failed pending ones are included too.
    pub dead_only: bool,
}

/// One Action decision, as recorded for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionDecision {
    /// The action id WorkOS sent.
    pub action_id: String,
    /// `authentication` or `user_registration`.
    pub kind: String,
    /// Whether the action was allowed.
    pub allowed: bool,
    /// The message sent with a deny.
    pub error_message: Option<String>,
    /// The plugin whose verdict was answered; `None` for a fallback or
    /// when every plugin allowed.
    pub deciding_plugin: Option<String>,
    /// Why this verdict, such as "denied by deny-gmail" or "fallback: ...".
    pub reason: String,
    /// Time from receiving the request to deciding, in microseconds.
    pub latency_us: u64,
    /// When the decision was made.
    pub decided_at: Timestamp,
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

    /// Returns up to `limit` events, oldest first, that fan-out has not yet
    /// queued deliveries for.
    ///
    /// A backend whose sequences can commit out of order (several writers)
    /// must not return an event while a lower sequence is still uncommitted.
    async fn undispatched_events(&self, limit: usize) -> Result<Vec<UndispatchedEvent>>;

    /// Queues deliveries and marks every event up to `through_sequence` as
    /// fanned out, in one transaction.
    async fn queue_deliveries(
        &self,
        through_sequence: i64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<()>;

    /// Returns up to `limit` pending deliveries for `plugin` that are due at
    /// `now`, oldest first, leaving out any delivery whose subject has an
    /// older pending delivery for the same plugin, so one subject's events
    /// are handled in the order they were received.
    async fn due_deliveries(
        &self,
        plugin: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>>;

    /// Records the outcome of delivery attempts and applies the handlers'
    /// store writes, in one transaction: a handled delivery and its writes
    /// become durable together or not at all.
    async fn complete_deliveries(
        &self,
        plugin: &str,
        outcomes: Vec<(i64, DeliveryOutcome)>,
        writes: Vec<StoreWrite>,
    ) -> Result<()>;

    /// Returns the value at `key` in a plugin's store.
    async fn plugin_store_get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>>;

    /// Returns a plugin's entries whose keys start with `prefix`, sorted by key.
    async fn plugin_store_list(&self, plugin: &str, prefix: &str)
    -> Result<Vec<(String, Vec<u8>)>>;

    /// Returns the dead deliveries and, unless `dead_only`, the pending ones
    /// that have failed at least once, oldest first.
    async fn failed_deliveries(
        &self,
        filter: DeliveryFilter,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>>;

    /// Counts the events awaiting fan-out and the deliveries by plugin and
    /// status. Called on every metrics scrape, so it must stay cheap while
    /// the queue is short.
    async fn queue_depth(&self) -> Result<QueueDepth>;

    /// Deletes every queued delivery, pending or dead, of `plugin`. Returns
    /// how many.
    async fn drop_deliveries(&self, plugin: &str) -> Result<u64>;

    /// Makes matching failed or dead deliveries due now with a fresh attempt
    /// budget. Returns how many.
    async fn retry_deliveries(&self, filter: DeliveryFilter) -> Result<u64>;

    /// Records an Action decision and applies the store writes its plugins
    /// made, by plugin name, in one transaction.
    async fn record_action(
        &self,
        decision: ActionDecision,
        writes: Vec<(String, Vec<StoreWrite>)>,
    ) -> Result<()>;

    /// Returns up to `limit` Action decisions, newest first.
    async fn recent_actions(&self, limit: usize) -> Result<Vec<ActionDecision>>;

    /// Applies one page of users listed by the WorkOS API with the rules of
    /// [`Store::ingest`] (a row only moves to a newer `updated_at`, a
    /// tombstone wins) and stores `next_cursor` as the [`BACKFILL_CURSOR`],
    /// or removes it when `None`, in one transaction. Each inserted user also
    /// gets the event from [`backfill_event`], so plugins receive a
    /// `user.created` for it; updated users get no event.
    async fn backfill_users(
        &self,
        users: Vec<User>,
        next_cursor: Option<String>,
    ) -> Result<BackfillPage>;

    /// Returns the cursor an import from the WorkOS API stored under `name`.
    async fn import_cursor(&self, name: &str) -> Result<Option<String>>;

    /// Stores the cursor of an import under `name`, or removes it when `None`.
    async fn set_import_cursor(&self, name: &str, cursor: Option<String>) -> Result<()>;
}
