//! The embedded SQLite backend.
//!
//! Writes go through the group-commit [`writer`]; reads go through a small
//! pool of read-only connections ([`readers`]). The SQL lives in one module
//! per table group: [`events`], [`users`], [`deliveries`], [`plugin_store`],
//! [`actions`], [`imports`].

mod actions;
mod deliveries;
mod events;
mod imports;
mod plugin_store;
mod readers;
mod users;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::Connection;

use super::{
    ActionDecision, BackfillPage, Delivery, DeliveryFilter, DeliveryOutcome, DeliveryRecord,
    IngestOutcome, NewDelivery, QueueDepth, Store, StoreWrite, UndispatchedEvent, UserLookup,
    schema,
};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::timestamp::Timestamp;
use crate::user::User;
use readers::ReaderPool;
use writer::Writer;

/// How long a connection waits for a lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite-backed [`Store`].
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<ReaderPool>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, brings its schema
    /// up to date and starts the writer thread.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                action: "creating the database folder",
                path: parent.to_owned(),
                source,
            })?;
        }

        let mut connection = Connection::open(path)
            .map_err(|source| Error::database(format!("opening {}", path.display()), source))?;
        configure_writer(&connection)
            .map_err(|source| Error::database(format!("configuring {}", path.display()), source))?;
        schema::migrations()
            .to_latest(&mut connection)
            .map_err(|source| Error::Migration {
                path: path.to_owned(),
                source,
            })?;

        Ok(Self {
            writer: Writer::start(connection, path)?,
            readers: Arc::new(ReaderPool::new(path.to_owned())),
        })
    }

    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.with_connection(query))
            .await
            .map_err(|_| Error::StoreClosed)?
    }
}

fn configure_writer(connection: &Connection) -> rusqlite::Result<()> {
    // WAL lets readers run beside the writer; synchronous=FULL syncs the WAL
    // on every commit, so a committed event survives power loss.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(&self, event: Event) -> Result<IngestOutcome> {
        self.writer
            .write(move |connection| events::ingest(connection, &event))
            .await
    }

    async fn quarantine(&self, raw: Bytes, reason: String) -> Result<i64> {
        self.writer
            .write(move |connection| events::quarantine(connection, &raw, &reason))
            .await
    }

    async fn find_user(&self, lookup: UserLookup) -> Result<Option<User>> {
        self.read(move |connection| users::find(connection, &lookup))
            .await
    }

    async fn prune_tombstones(&self, recorded_before: Timestamp) -> Result<u64> {
        self.writer
            .write(move |connection| users::prune_tombstones(connection, recorded_before))
            .await
    }

    async fn check_health(&self) -> Result<()> {
        if self.writer.is_closed() {
            return Err(Error::StoreClosed);
        }
        self.read(|connection| {
            connection
                .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .map_err(|source| Error::database("checking health", source))
        })
        .await
    }

    async fn undispatched_events(&self, limit: usize) -> Result<Vec<UndispatchedEvent>> {
        self.read(move |connection| deliveries::undispatched(connection, limit))
            .await
    }

    async fn queue_deliveries(&self, through_sequence: i64, new: Vec<NewDelivery>) -> Result<()> {
        self.writer
            .write(move |connection| deliveries::queue(connection, through_sequence, &new))
            .await
    }

    async fn due_deliveries(
        &self,
        plugin: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let plugin = plugin.to_owned();
        self.read(move |connection| deliveries::due(connection, &plugin, now, limit))
            .await
    }

    async fn complete_deliveries(
        &self,
        plugin: &str,
        outcomes: Vec<(i64, DeliveryOutcome)>,
        writes: Vec<StoreWrite>,
    ) -> Result<()> {
        let plugin = plugin.to_owned();
        self.writer
            .write(move |connection| {
                plugin_store::apply(connection, &plugin, &writes)?;
                deliveries::complete(connection, &plugin, &outcomes)
            })
            .await
    }

    async fn plugin_store_get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let (plugin, key) = (plugin.to_owned(), key.to_owned());
        self.read(move |connection| plugin_store::get(connection, &plugin, &key))
            .await
    }

    async fn plugin_store_list(
        &self,
        plugin: &str,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let (plugin, prefix) = (plugin.to_owned(), prefix.to_owned());
        self.read(move |connection| plugin_store::list(connection, &plugin, &prefix))
            .await
    }

    async fn failed_deliveries(
        &self,
        filter: DeliveryFilter,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>> {
        self.read(move |connection| deliveries::failed(connection, &filter, limit))
            .await
    }

    async fn queue_depth(&self) -> Result<QueueDepth> {
        self.read(deliveries::queue_depth).await
    }

    async fn drop_deliveries(&self, plugin: &str) -> Result<u64> {
        let plugin = plugin.to_owned();
        self.writer
            .write(move |connection| deliveries::drop_plugin(connection, &plugin))
            .await
    }

    async fn retry_deliveries(&self, filter: DeliveryFilter) -> Result<u64> {
        self.writer
            .write(move |connection| deliveries::retry(connection, &filter))
            .await
    }

    async fn record_action(
        &self,
        decision: ActionDecision,
        writes: Vec<(String, Vec<StoreWrite>)>,
    ) -> Result<()> {
        self.writer
            .write(move |connection| {
                for (plugin, plugin_writes) in &writes {
                    plugin_store::apply(connection, plugin, plugin_writes)?;
                }
                actions::record(connection, &decision)
            })
            .await
    }

    async fn recent_actions(&self, limit: usize) -> Result<Vec<ActionDecision>> {
        self.read(move |connection| actions::recent(connection, limit))
            .await
    }

    async fn backfill_users(
        &self,
        users: Vec<User>,
        next_cursor: Option<String>,
    ) -> Result<BackfillPage> {
        self.writer
            .write(move |connection| {
                imports::backfill_users(connection, &users, next_cursor.as_deref())
            })
            .await
    }

    async fn import_cursor(&self, name: &str) -> Result<Option<String>> {
        let name = name.to_owned();
        self.read(move |connection| imports::cursor(connection, &name))
            .await
    }

    async fn set_import_cursor(&self, name: &str, cursor: Option<String>) -> Result<()> {
        let name = name.to_owned();
        self.writer
            .write(move |connection| imports::set_cursor(connection, &name, cursor.as_deref()))
            .await
    }
}
