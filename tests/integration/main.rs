//! Integration tests: the real server on a loopback port with a temporary
//! SQLite file, driven over HTTP and checked through the database itself.

// Test helpers are `pub` for the sibling modules; nothing is exported.
#![allow(unreachable_pub)]

mod actions;
mod backfill;
mod catch_up;
mod cli;
mod dispatch;
mod fake_workos;
mod hot_reload;
mod me;
mod metrics;
mod polyglot;
mod restart;
mod sandbox;
mod support;
mod user_sync;
mod users_api;
mod webhook;
