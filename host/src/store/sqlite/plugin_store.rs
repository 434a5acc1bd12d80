//! Each plugin's private key-value store.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::store::StoreWrite;

pub(super) fn get(connection: &Connection, plugin: &str, key: &str) -> Result<Option<Vec<u8>>> {
    connection
        .prepare_cached("SELECT value FROM plugin_store WHERE plugin = ?1 AND key = ?2")
        .and_then(|mut statement| {
            statement
                .query_row([plugin, key], |row| row.get(0))
                .optional()
        })
        .map_err(|source| {
            Error::database(format!("reading key {key:?} of plugin {plugin}"), source)
        })
}

pub(super) fn list(
    connection: &Connection,
    plugin: &str,
    prefix: &str,
) -> Result<Vec<(String, Vec<u8>)>> {
    // `substr` compares bytes exactly, where LIKE would treat `%` and `_` in
    // the prefix as wildcards and ignore case.
    connection
        .prepare_cached(
            "SELECT key, value FROM plugin_store
             WHERE plugin = ?1 AND substr(key, 1, length(?2)) = ?2
             ORDER BY key",
        )
        .and_then(|mut statement| {
            statement
                .query_map([plugin, prefix], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .map_err(|source| {
            Error::database(
                format!("listing prefix {prefix:?} of plugin {plugin}"),
                source,
            )
        })
}

pub(super) fn apply(connection: &Connection, plugin: &str, writes: &[StoreWrite]) -> Result<()> {
    let context = || format!("writing the store of plugin {plugin}");

    for write in writes {
        let result = match write {
            StoreWrite::Set { key, value } => connection
                .prepare_cached(
                    "INSERT INTO plugin_store (plugin, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value",
                )
                .and_then(|mut statement| statement.execute(params![plugin, key, value])),
            StoreWrite::Delete { key } => connection
                .prepare_cached("DELETE FROM plugin_store WHERE plugin = ?1 AND key = ?2")
                .and_then(|mut statement| statement.execute([plugin, key])),
        };
        result.map_err(|source| Error::database(context(), source))?;
    }
    Ok(())
}
