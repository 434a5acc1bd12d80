//! authkit-host receives WorkOS AuthKit webhooks, stores every event durably
//! and keeps a local users table correct under repeats and reordering.
//!
//! A map of the crate, in the order a request meets it:
//!
//! - [`server`] binds, serves and shuts down; start reading here.
//! - [`http`] holds the routes: the webhook and Action endpoints, the users
//!   API, `/me`, `/plugins`, `/metrics` and health.
//! - [`metrics`] counts what the server does, for Prometheus.
//! - [`access_token`] verifies the AuthKit access tokens `/me` is called with.
//! - [`action`] decides AuthKit Actions with the plugins and signs the answer.
//! - [`signature`] verifies and creates `WorkOS-Signature` headers.
//! - [`event`] parses the event envelope; [`user`] the user object and the
//!   change a `user.*` event makes; [`timestamp`] the ISO-8601 instants.
//! - [`store`] is the storage interface, with SQLite as the embedded backend.
//! - [`workos_api`] reads the WorkOS REST API's lists, for the `backfill` and
//!   `catch-up` commands.
//! - [`dispatch`] delivers stored events to plugins from a durable queue.
//! - [`registry`] holds the loaded plugins; [`plugin`] compiles handler
//!   components and runs them in sandboxed instances.
//! - [`cli`] holds the commands besides `serve`: `send`, `events`,
//!   `actions`, `backfill` and `catch-up`.
//! - [`config`] resolves flags, environment variables and the TOML file.
//! - [`error`] is the crate's error type.

pub mod access_token;
pub mod action;
pub mod cli;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod event;
pub mod http;
pub mod metrics;
pub(crate) mod overlay;
pub mod plugin;
pub mod registry;
pub mod server;
pub mod signature;
pub mod store;
pub mod timestamp;
pub mod user;
pub mod workos_api;

pub use error::{Error, Result};
