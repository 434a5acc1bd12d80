//! The SQLite schema, as an ordered list of migrations.
//!
//! Each migration runs once, tracked by SQLite's `user_version`. Append new
//! migrations; never edit one that has shipped.

use rusqlite_migration::{M, Migrations};

/// Returns every migration in order.
pub(super) fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            r#"
        -- Every event received, in receive order. `raw` is the body exactly
        -- as verified; the other columns are copies for queries.
        CREATE TABLE events (
            sequence       INTEGER PRIMARY KEY AUTOINCREMENT,
            id             TEXT    NOT NULL UNIQUE,
            event_type     TEXT    NOT NULL,
            subject        TEXT,
            created_at     TEXT    NOT NULL,
            created_at_ns  INTEGER NOT NULL,
            received_at_ns INTEGER NOT NULL,
            raw            BLOB    NOT NULL
        ) STRICT;
        CREATE INDEX events_by_type ON events (event_type);

        -- The current state of each live user. `raw` is the user object as
        -- WorkOS sent it, so unknown fields survive.
        CREATE TABLE users (
            id                  TEXT    PRIMARY KEY,
            email               TEXT    NOT NULL,
            email_verified      INTEGER,
            first_name          TEXT,
            last_name           TEXT,
            name                TEXT,
            profile_picture_url TEXT,
            last_sign_in_at     TEXT,
            locale              TEXT,
            external_id         TEXT,
            metadata            TEXT    NOT NULL,
            created_at          TEXT,
            updated_at          TEXT    NOT NULL,
            updated_at_ns       INTEGER NOT NULL,
            raw                 TEXT    NOT NULL,
            last_event_id       TEXT
        ) STRICT;
        CREATE INDEX users_by_email ON users (email COLLATE NOCASE);
        CREATE INDEX users_by_external_id ON users (external_id);

        -- Deleted users. A tombstone stops a late create or update from
        -- bringing the user back, until it is pruned after the retention time.
        CREATE TABLE user_tombstones (
            id             TEXT    PRIMARY KEY,
            event_id       TEXT    NOT NULL,
            deleted_at_ns  INTEGER NOT NULL,
            recorded_at_ns INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX user_tombstones_by_recorded_at ON user_tombstones (recorded_at_ns);

        -- Validly signed bodies that were not valid events.
        CREATE TABLE quarantine (
            id             INTEGER PRIMARY KEY AUTOINCREMENT,
            received_at_ns INTEGER NOT NULL,
            reason         TEXT    NOT NULL,
            raw            BLOB    NOT NULL
        ) STRICT;
        "#,
        ),
        M::up(
            r#"
        -- One row per (plugin, event) still to be handled, or parked as dead.
        -- A delivery's row is deleted in the same transaction that commits the
        -- handler's store writes, so a handled event is never handled again.
        CREATE TABLE deliveries (
            plugin             TEXT    NOT NULL,
            event_sequence     INTEGER NOT NULL REFERENCES events (sequence),
            subject            TEXT,
            status             TEXT    NOT NULL CHECK (status IN ('pending', 'dead')),
            attempts           INTEGER NOT NULL DEFAULT 0,
            next_attempt_at_ns INTEGER NOT NULL,
            last_error         TEXT,
            PRIMARY KEY (plugin, event_sequence)
        ) STRICT;
        CREATE INDEX deliveries_by_subject
            ON deliveries (plugin, subject, event_sequence) WHERE status = 'pending';

        -- How far fan-out has queued deliveries, as an event sequence.
        CREATE TABLE dispatch_cursor (
            id            INTEGER PRIMARY KEY CHECK (id = 1),
            last_sequence INTEGER NOT NULL
        ) STRICT;
        INSERT INTO dispatch_cursor (id, last_sequence) VALUES (1, 0);

        -- Each plugin's private key-value store.
        CREATE TABLE plugin_store (
            plugin TEXT NOT NULL,
            key    TEXT NOT NULL,
            value  BLOB NOT NULL,
            PRIMARY KEY (plugin, key)
        ) STRICT, WITHOUT ROWID;
        "#,
        ),
        M::up(
            r#"
        -- Every Action decision, for operators.
        CREATE TABLE action_decisions (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            action_id       TEXT    NOT NULL,
            kind            TEXT    NOT NULL,
            verdict         TEXT    NOT NULL CHECK (verdict IN ('Allow', 'Deny')),
            error_message   TEXT,
            deciding_plugin TEXT,
            reason          TEXT    NOT NULL,
            latency_us      INTEGER NOT NULL,
            decided_at_ns   INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX action_decisions_by_time ON action_decisions (decided_at_ns);
        "#,
        ),
        M::up(
            r#"
        -- Where each resumable import from the WorkOS API (`backfill`,
        -- `catch-up`) stopped: the cursor of the next page to request.
        CREATE TABLE import_cursors (
            name          TEXT    PRIMARY KEY,
            cursor        TEXT    NOT NULL,
            updated_at_ns INTEGER NOT NULL
        ) STRICT;
        "#,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn migrations_apply_to_fresh_database() {
        let mut connection = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut connection).unwrap();
        let tables: i64 = connection
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN \
                 ('events', 'users', 'user_tombstones', 'quarantine', 'deliveries', \
                 'dispatch_cursor', 'plugin_store', 'action_decisions')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 8);
    }

    #[test]
    fn import_cursors_table_created() {
        let mut connection = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut connection).unwrap();
        let count: i64 = connection
            .query_row("SELECT count(*) FROM import_cursors", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 0);
    }
}
