//! The durable delivery queue: fan-out, due deliveries, outcomes and the
//! operator's view of failures.

use bytes::Bytes;
use rusqlite::{Connection, params};

use crate::error::{Error, Result};
use crate::event::Event;
use crate::store::{
    Delivery, DeliveryCount, DeliveryFilter, DeliveryOutcome, DeliveryRecord, DeliveryStatus,
    NewDelivery, QueueDepth, UndispatchedEvent,
};
use crate::timestamp::Timestamp;

pub(super) fn undispatched(
    connection: &Connection,
    limit: usize,
) -> Result<Vec<UndispatchedEvent>> {
    connection
        .prepare_cached(
            "SELECT sequence, event_type, subject FROM events
             WHERE sequence > (SELECT last_sequence FROM dispatch_cursor WHERE id = 1)
             ORDER BY sequence LIMIT ?1",
        )
        .and_then(|mut statement| {
            statement
                .query_map([limit as i64], |row| {
                    Ok(UndispatchedEvent {
                        sequence: row.get(0)?,
                        event_type: row.get(1)?,
                        subject: row.get(2)?,
                    })
                })?
                .collect()
        })
        .map_err(|source| Error::database("reading events to fan out", source))
}

pub(super) fn queue(
    connection: &Connection,
    through_sequence: i64,
    deliveries: &[NewDelivery],
) -> Result<()> {
    let context = || format!("queueing deliveries through event sequence {through_sequence}");
    let now = Timestamp::now().unix_nanos();

    for delivery in deliveries {
        connection
            .prepare_cached(
                "INSERT INTO deliveries (plugin, event_sequence, subject, status, next_attempt_at_ns)
                 VALUES (?1, ?2, ?3, 'pending', ?4)
                 ON CONFLICT (plugin, event_sequence) DO NOTHING",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    delivery.plugin,
                    delivery.event_sequence,
                    delivery.subject,
                    now
                ])
            })
            .map_err(|source| Error::database(context(), source))?;
    }

    connection
        .prepare_cached(
            "UPDATE dispatch_cursor SET last_sequence = max(last_sequence, ?1) WHERE id = 1",
        )
        .and_then(|mut statement| statement.execute([through_sequence]))
        .map_err(|source| Error::database(context(), source))?;
    Ok(())
}

pub(super) fn due(
    connection: &Connection,
    plugin: &str,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<Delivery>> {
    let rows: Vec<(i64, u32, Vec<u8>)> = connection
        .prepare_cached(
            "SELECT d.event_sequence, d.attempts, e.raw
             FROM deliveries d JOIN events e ON e.sequence = d.event_sequence
             WHERE d.plugin = ?1 AND d.status = 'pending' AND d.next_attempt_at_ns <= ?2
               AND (d.subject IS NULL OR NOT EXISTS (
                   SELECT 1 FROM deliveries earlier
                   WHERE earlier.plugin = d.plugin AND earlier.subject = d.subject
                     AND earlier.status = 'pending'
                     AND earlier.event_sequence < d.event_sequence))
             ORDER BY d.event_sequence LIMIT ?3",
        )
        .and_then(|mut statement| {
            statement
                .query_map(params![plugin, now.unix_nanos(), limit as i64], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect()
        })
        .map_err(|source| Error::database(format!("reading due deliveries of {plugin}"), source))?;

    rows.into_iter()
        .map(|(event_sequence, attempts, raw)| {
            // Events were validated before they were stored, so a parse
            // failure means the file was edited by hand.
            let event = Event::parse(Bytes::from(raw)).map_err(|reason| Error::Corrupt {
                what: format!("stored event with sequence {event_sequence}"),
                reason,
            })?;
            Ok(Delivery {
                event_sequence,
                attempts,
                event,
            })
        })
        .collect()
}

pub(super) fn complete(
    connection: &Connection,
    plugin: &str,
    outcomes: &[(i64, DeliveryOutcome)],
) -> Result<()> {
    let context = || format!("recording delivery outcomes of {plugin}");

    for (event_sequence, outcome) in outcomes {
        let result = match outcome {
            DeliveryOutcome::Handled => connection
                .prepare_cached("DELETE FROM deliveries WHERE plugin = ?1 AND event_sequence = ?2")
                .and_then(|mut statement| statement.execute(params![plugin, event_sequence])),
            DeliveryOutcome::Failed { error, retry_at } => connection
                .prepare_cached(
                    "UPDATE deliveries
                     SET attempts = attempts + 1, last_error = ?3, status = ?4,
                         next_attempt_at_ns = ?5
                     WHERE plugin = ?1 AND event_sequence = ?2",
                )
                .and_then(|mut statement| {
                    let status = match retry_at {
                        Some(_) => DeliveryStatus::Pending,
                        None => DeliveryStatus::Dead,
                    };
                    let next = retry_at.map_or(i64::MAX, Timestamp::unix_nanos);
                    statement.execute(params![
                        plugin,
                        event_sequence,
                        error,
                        status.as_str(),
                        next
                    ])
                }),
        };
        result.map_err(|source| Error::database(context(), source))?;
    }
    Ok(())
}

/// The WHERE clause shared by listing and retrying: `?1` plugin, `?2` event
/// id, `?3` whether only dead deliveries count.
const FAILED_FILTER: &str = "(d.status = 'dead' OR (?3 = 0 AND d.attempts > 0))
      AND (?1 IS NULL OR d.plugin = ?1)
      AND (?2 IS NULL OR e.id = ?2)";

pub(super) fn failed(
    connection: &Connection,
    filter: &DeliveryFilter,
    limit: usize,
) -> Result<Vec<DeliveryRecord>> {
    let sql = format!(
        "SELECT d.plugin, e.id, e.event_type, d.status, d.attempts, d.next_attempt_at_ns,
                d.last_error
         FROM deliveries d JOIN events e ON e.sequence = d.event_sequence
         WHERE {FAILED_FILTER}
         ORDER BY d.event_sequence, d.plugin LIMIT ?4"
    );
    connection
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(
                    params![
                        filter.plugin,
                        filter.event_id,
                        filter.dead_only,
                        limit as i64
                    ],
                    |row| {
                        let status: String = row.get(3)?;
                        Ok(DeliveryRecord {
                            plugin: row.get(0)?,
                            event_id: row.get(1)?,
                            event_type: row.get(2)?,
                            status: parse_status(&status),
                            attempts: row.get(4)?,
                            next_attempt_at: Timestamp::from_unix_nanos(row.get(5)?),
                            last_error: row.get(6)?,
                        })
                    },
                )?
                .collect()
        })
        .map_err(|source| Error::database("listing failed deliveries", source))
}

pub(super) fn queue_depth(connection: &Connection) -> Result<QueueDepth> {
    let context = "counting queued events and deliveries";

    let events_awaiting_fan_out: i64 = connection
        .prepare_cached(
            "SELECT count(*) FROM events
             WHERE sequence > (SELECT last_sequence FROM dispatch_cursor WHERE id = 1)",
        )
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(|source| Error::database(context, source))?;

    let deliveries = connection
        .prepare_cached(
            "SELECT plugin, status, count(*) FROM deliveries
             GROUP BY plugin, status ORDER BY plugin, status DESC",
        )
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    let status: String = row.get(1)?;
                    let count: i64 = row.get(2)?;
                    Ok(DeliveryCount {
                        plugin: row.get(0)?,
                        status: parse_status(&status),
                        count: count as u64,
                    })
                })?
                .collect()
        })
        .map_err(|source| Error::database(context, source))?;

    Ok(QueueDepth {
        events_awaiting_fan_out: events_awaiting_fan_out as u64,
        deliveries,
    })
}

fn parse_status(status: &str) -> DeliveryStatus {
    if status == "dead" {
        DeliveryStatus::Dead
    } else {
        DeliveryStatus::Pending
    }
}

pub(super) fn drop_plugin(connection: &Connection, plugin: &str) -> Result<u64> {
    let dropped = connection
        .prepare_cached("DELETE FROM deliveries WHERE plugin = ?1")
        .and_then(|mut statement| statement.execute([plugin]))
        .map_err(|source| {
            Error::database(format!("dropping the deliveries of {plugin}"), source)
        })?;
    Ok(dropped as u64)
}

pub(super) fn retry(connection: &Connection, filter: &DeliveryFilter) -> Result<u64> {
    let sql = format!(
        "UPDATE deliveries AS d
         SET status = 'pending', attempts = 0, next_attempt_at_ns = ?4
         FROM events e
         WHERE e.sequence = d.event_sequence AND {FAILED_FILTER}"
    );
    let changed = connection
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement.execute(params![
                filter.plugin,
                filter.event_id,
                filter.dead_only,
                Timestamp::now().unix_nanos()
            ])
        })
        .map_err(|source| Error::database("retrying failed deliveries", source))?;
    Ok(changed as u64)
}
