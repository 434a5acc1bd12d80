//! authkit-host receives WorkOS AuthKit webhooks, stores every event durably
//! and keeps a local users table correct under repeats and reordering.
//!
//! A map of the crate, in the order a request meets it:
//!
//! - [`server`] binds, serves and shuts down; start reading here.
//! - [`http`] holds the routes: the webhook endpoint, the users API and health.
//! - [`signature`] verifies and creates `WorkOS-Signature` headers.
//! - [`event`] parses the event envelope; [`user`] the user object and the
//!   change a `user.*` event makes; [`timestamp`] the ISO-8601 instants.
//! - [`store`] is the storage interface, with SQLite as the embedded backend.
//! - [`dispatch`] delivers stored events to plugins from a durable queue.
//! - [`registry`] holds the loaded plugins; [`plugin`] compiles handler
//!   components and runs them in sandboxed instances.
//! - [`events_command`] is the `events` command that lists and retries
//!   failed deliveries.
//! - [`config`] resolves flags, environment variables and the TOML file.
//! - [`send`] is the `send` command that signs and posts sample events.
//! - [`error`] is the crate's error type.

pub mod config;
pub mod dispatch;
pub mod error;
pub mod event;
pub mod events_command;
pub mod http;
pub mod plugin;
pub mod registry;
pub mod send;
pub mod server;
pub mod signature;
pub mod store;
pub mod timestamp;
pub mod user;

pub use error::{Error, Result};
