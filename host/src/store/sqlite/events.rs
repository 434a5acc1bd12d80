//! Storing events and quarantined bodies.

use rusqlite::{Connection, params};

use super::users;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::store::{IngestOutcome, UserEffect};
use crate::timestamp::Timestamp;
use crate::user::UserChange;

pub(super) fn ingest(connection: &Connection, event: &Event) -> Result<IngestOutcome> {
    let context = || format!("storing event {}", event.id);

    let inserted =
        insert(connection, event).map_err(|source| Error::database(context(), source))?;
    let Some(sequence) = inserted else {
        return Ok(IngestOutcome::Duplicate);
    };

    let user_effect = match &event.user_change {
        None => UserEffect::NotAUserEvent,
        Some(UserChange::Upsert(user)) => users::upsert(connection, user, &event.id)
            .map_err(|source| Error::database(context(), source))?,
        Some(UserChange::Delete { id }) => {
            users::delete(connection, id, &event.id, event.created_at_instant)
                .map_err(|source| Error::database(context(), source))?
        }
    };

    Ok(IngestOutcome::Stored {
        sequence,
        user_effect,
    })
}

/// Inserts the event row without applying it to the users table. Returns
/// its sequence, or `None` when an event with its id is already stored.
pub(super) fn insert(connection: &Connection, event: &Event) -> rusqlite::Result<Option<i64>> {
    let inserted = connection
        .prepare_cached(
            "INSERT INTO events (id, event_type, subject, created_at, created_at_ns, received_at_ns, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            event.id,
            event.event_type,
            event.subject,
            event.created_at,
            event.created_at_instant.unix_nanos(),
            Timestamp::now().unix_nanos(),
            &event.raw[..],
        ])?;
    Ok((inserted > 0).then(|| connection.last_insert_rowid()))
}

pub(super) fn quarantine(connection: &Connection, raw: &[u8], reason: &str) -> Result<i64> {
    connection
        .prepare_cached("INSERT INTO quarantine (received_at_ns, reason, raw) VALUES (?1, ?2, ?3)")
        .and_then(|mut statement| {
            statement.execute(params![Timestamp::now().unix_nanos(), reason, raw])
        })
        .map_err(|source| Error::database("quarantining an invalid event", source))?;
    Ok(connection.last_insert_rowid())
}
