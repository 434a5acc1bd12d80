//! Read access to the users the host has synced from WorkOS.
//!
//! Each function returns `Ok(None)` when the host has no such user, which
//! includes deleted users. An `Err` means the host's lookup failed.

use crate::bindings::authkit::plugin::users as imports;
use crate::{Error, Result, UserRecord};

/// Returns the user with this WorkOS id (`user_…`).
pub fn by_id(id: &str) -> Result<Option<UserRecord>> {
    imports::get_by_id(id)
        .map_err(|message| Error::new(format_args!("failed to look up user id `{id}`: {message}")))
}

/// Returns the user with this email address, compared case-insensitively.
pub fn by_email(email: &str) -> Result<Option<UserRecord>> {
    imports::get_by_email(email).map_err(|message| {
        Error::new(format_args!(
            "failed to look up user email `{email}`: {message}"
        ))
    })
}

/// Returns the user with this external id.
pub fn by_external_id(external_id: &str) -> Result<Option<UserRecord>> {
    imports::get_by_external_id(external_id).map_err(|message| {
        Error::new(format_args!(
            "failed to look up user external id `{external_id}`: {message}"
        ))
    })
}
