//! The users table and its tombstones.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::store::{UserEffect, UserLookup};
use crate::timestamp::Timestamp;
use crate::user::User;

pub(super) fn upsert(
    connection: &Connection,
    user: &User,
    event_id: &str,
) -> rusqlite::Result<UserEffect> {
    let effect = upsert_effect(connection, user)?;
    if matches!(effect, UserEffect::Inserted | UserEffect::Updated) {
        write(connection, user, Some(event_id))?;
    }
    Ok(effect)
}

/// Returns what storing `user` would do, without storing it: a row only
/// moves to a newer `updated_at`, and a tombstone blocks it.
pub(super) fn upsert_effect(connection: &Connection, user: &User) -> rusqlite::Result<UserEffect> {
    let tombstoned = connection
        .prepare_cached("SELECT 1 FROM user_tombstones WHERE id = ?1")?
        .exists([&user.id])?;
    if tombstoned {
        return Ok(UserEffect::Tombstoned);
    }

    let stored_updated_at: Option<i64> = connection
        .prepare_cached("SELECT updated_at_ns FROM users WHERE id = ?1")?
        .query_row([&user.id], |row| row.get(0))
        .optional()?;
    Ok(match stored_updated_at {
        Some(stored) if stored >= user.updated_at_instant.unix_nanos() => UserEffect::Stale,
        Some(_) => UserEffect::Updated,
        None => UserEffect::Inserted,
    })
}

/// Inserts or replaces the user's row. `event_id` is the stored event the
/// row comes from, if any.
pub(super) fn write(
    connection: &Connection,
    user: &User,
    event_id: Option<&str>,
) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO users (
                id, email, email_verified, first_name, last_name, name,
                profile_picture_url, last_sign_in_at, locale, external_id,
                metadata, created_at, updated_at, updated_at_ns, raw, last_event_id
             ) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?
        .execute(params![
            user.id,
            user.email,
            user.email_verified,
            user.first_name,
            user.last_name,
            user.name,
            user.profile_picture_url,
            user.last_sign_in_at,
            user.locale,
            user.external_id,
            user.metadata,
            user.created_at,
            user.updated_at,
            user.updated_at_instant.unix_nanos(),
            user.raw,
            event_id,
        ])?;
    Ok(())
}

pub(super) fn delete(
    connection: &Connection,
    id: &str,
    event_id: &str,
    deleted_at: Timestamp,
) -> rusqlite::Result<UserEffect> {
    connection
        .prepare_cached(
            "INSERT INTO user_tombstones (id, event_id, deleted_at_ns, recorded_at_ns)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            id,
            event_id,
            deleted_at.unix_nanos(),
            Timestamp::now().unix_nanos()
        ])?;
    connection
        .prepare_cached("DELETE FROM users WHERE id = ?1")?
        .execute([id])?;
    Ok(UserEffect::Deleted)
}

pub(super) fn prune_tombstones(connection: &Connection, recorded_before: Timestamp) -> Result<u64> {
    let removed = connection
        .prepare_cached("DELETE FROM user_tombstones WHERE recorded_at_ns < ?1")
        .and_then(|mut statement| statement.execute([recorded_before.unix_nanos()]))
        .map_err(|source| Error::database("pruning user tombstones", source))?;
    Ok(removed as u64)
}

pub(super) fn find(connection: &Connection, lookup: &UserLookup) -> Result<Option<User>> {
    let (sql, key) = match lookup {
        UserLookup::Id(id) => ("SELECT raw FROM users WHERE id = ?1", id),
        UserLookup::Email(email) => (
            "SELECT raw FROM users WHERE email = ?1 COLLATE NOCASE
             ORDER BY updated_at_ns DESC LIMIT 1",
            email,
        ),
        UserLookup::ExternalId(external_id) => (
            "SELECT raw FROM users WHERE external_id = ?1
             ORDER BY updated_at_ns DESC LIMIT 1",
            external_id,
        ),
    };
    let context = || format!("looking up user by {lookup:?}");

    let raw: Option<String> = connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.query_row([key], |row| row.get(0)).optional())
        .map_err(|source| Error::database(context(), source))?;

    // Rows were validated before they were stored, so a parse failure means
    // the file was edited by hand.
    raw.map(|raw| {
        User::from_json(&raw).map_err(|reason| Error::Corrupt {
            what: format!("stored user for {lookup:?}"),
            reason,
        })
    })
    .transpose()
}
