//! The record of Action decisions.

use rusqlite::{Connection, params};

use crate::error::{Error, Result};
use crate::store::ActionDecision;
use crate::timestamp::Timestamp;

pub(super) fn record(connection: &Connection, decision: &ActionDecision) -> Result<()> {
    connection
        .prepare_cached(
            "INSERT INTO action_decisions (action_id, kind, verdict, error_message,
                 deciding_plugin, reason, latency_us, decided_at_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                decision.action_id,
                decision.kind,
                if decision.allowed { "Allow" } else { "Deny" },
                decision.error_message,
                decision.deciding_plugin,
                decision.reason,
                decision.latency_us as i64,
                decision.decided_at.unix_nanos(),
            ])
        })
        .map_err(|source| {
            Error::database(format!("recording action {}", decision.action_id), source)
        })?;
    Ok(())
}

pub(super) fn recent(connection: &Connection, limit: usize) -> Result<Vec<ActionDecision>> {
    connection
        .prepare_cached(
            "SELECT action_id, kind, verdict, error_message, deciding_plugin, reason,
                    latency_us, decided_at_ns
             FROM action_decisions ORDER BY id DESC LIMIT ?1",
        )
        .and_then(|mut statement| {
            statement
                .query_map([limit as i64], |row| {
                    let verdict: String = row.get(2)?;
                    let latency_us: i64 = row.get(6)?;
                    Ok(ActionDecision {
                        action_id: row.get(0)?,
                        kind: row.get(1)?,
                        allowed: verdict == "Allow",
                        error_message: row.get(3)?,
                        deciding_plugin: row.get(4)?,
                        reason: row.get(5)?,
                        latency_us: latency_us.max(0) as u64,
                        decided_at: Timestamp::from_unix_nanos(row.get(7)?),
                    })
                })?
                .collect()
        })
        .map_err(|source| Error::database("listing action decisions", source))
}
