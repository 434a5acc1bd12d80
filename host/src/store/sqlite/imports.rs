//! Imports from the WorkOS API: backfilled users and the cursors that let
//! `backfill` and `catch-up` resume.

use rusqlite::{Connection, OptionalExtension, params};

use super::{events, users};
use crate::error::{Error, Result};
use crate::store::UserEffect;
use crate::store::backfill::{BACKFILL_CURSOR, BackfillPage, backfill_event};
use crate::timestamp::Timestamp;
use crate::user::User;

pub(super) fn backfill_users(
    connection: &Connection,
    listed: &[User],
    next_cursor: Option<&str>,
) -> Result<BackfillPage> {
    let stored_at = Timestamp::now();
    let mut page = BackfillPage::default();

    for user in listed {
        let context = || format!("backfilling user {}", user.id);
        let effect = users::upsert_effect(connection, user)
            .map_err(|source| Error::database(context(), source))?;

        match effect {
            UserEffect::Inserted => {
                let event = backfill_event(user, stored_at);
                let stored = events::insert(connection, &event)
                    .map_err(|source| Error::database(context(), source))?;
                if stored.is_none() {
                    tracing::debug!(user_id = %user.id, event_id = %event.id, "backfill event already stored");
                }
                users::write(connection, user, Some(&event.id))
                    .map_err(|source| Error::database(context(), source))?;
                page.inserted += 1;
            }
            UserEffect::Updated => {
                users::write(connection, user, None)
                    .map_err(|source| Error::database(context(), source))?;
                page.updated += 1;
            }
            UserEffect::Tombstoned => page.tombstoned += 1,
            // `upsert_effect` returns no other effect than these and Stale.
            _ => page.stale += 1,
        }
    }

    set_cursor(connection, BACKFILL_CURSOR, next_cursor)?;
    Ok(page)
}

pub(super) fn cursor(connection: &Connection, name: &str) -> Result<Option<String>> {
    connection
        .prepare_cached("SELECT cursor FROM import_cursors WHERE name = ?1")
        .and_then(|mut statement| statement.query_row([name], |row| row.get(0)).optional())
        .map_err(|source| Error::database(format!("reading import cursor {name:?}"), source))
}

pub(super) fn set_cursor(connection: &Connection, name: &str, cursor: Option<&str>) -> Result<()> {
    let context = || format!("storing import cursor {name:?}");
    match cursor {
        Some(cursor) => connection
            .prepare_cached(
                "INSERT INTO import_cursors (name, cursor, updated_at_ns) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor,
                     updated_at_ns = excluded.updated_at_ns",
            )
            .and_then(|mut statement| {
                statement.execute(params![name, cursor, Timestamp::now().unix_nanos()])
            }),
        None => connection
            .prepare_cached("DELETE FROM import_cursors WHERE name = ?1")
            .and_then(|mut statement| statement.execute([name])),
    }
    .map_err(|source| Error::database(context(), source))?;
    Ok(())
}
