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

    let inserted = connection
        .prepare_cached(
            "INSERT INTO events (id, event_type, subject, created_at, created_at_ns, received_at_ns, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                event.id,
                event.event_type,
                event.subject,
                event.created_at,
                event.created_at_instant.unix_nanos(),
                Timestamp::now().unix_nanos(),
                &event.raw[..],
            ])
        })
        .map_err(|source| Error::database(context(), source))?;
    if inserted == 0 {
        return Ok(IngestOutcome::Duplicate);
    }
    let sequence = connection.last_insert_rowid();

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

pub(super) fn quarantine(connection: &Connection, raw: &[u8], reason: &str) -> Result<i64> {
    connection
        .prepare_cached("INSERT INTO quarantine (received_at_ns, reason, raw) VALUES (?1, ?2, ?3)")
        .and_then(|mut statement| {
            statement.execute(params![Timestamp::now().unix_nanos(), reason, raw])
        })
        .map_err(|source| Error::database("quarantining an invalid event", source))?;
    Ok(connection.last_insert_rowid())
}
