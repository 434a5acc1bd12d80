//! Integration tests: the real server on a loopback port with a temporary
//! SQLite file, driven over HTTP and checked through the database itself.

// Test helpers are `pub` for the sibling modules; nothing is exported.
#![allow(unreachable_pub)]

mod actions;
mod cli;
mod dispatch;
mod restart;
mod support;
mod user_sync;
mod users_api;
mod webhook;
