//! The embedded SQLite backend.
//!
//! One writer thread owns the only writing connection. It takes every write
//! that is waiting, applies them in one transaction (each inside its own
//! savepoint, so one failure does not sink the others) and commits once: a
//! group commit, so concurrent requests share one fsync. Reads go through a
//! small pool of read-only connections, which WAL mode lets run beside the
//! writer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::{IngestOutcome, Store, UserEffect, UserLookup, schema};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::timestamp::Timestamp;
use crate::user::{User, UserChange};

/// The most writes one transaction takes; more wait for the next commit.
const MAX_BATCH: usize = 1024;
/// Writes that may queue for the writer before callers wait for room.
const QUEUE_CAPACITY: usize = 8192;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;
/// How long a connection waits for a lock before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The SQLite-backed [`Store`].
pub struct SqliteStore {
    writes: mpsc::Sender<WriteJob>,
    readers: Arc<ReaderPool>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
}

enum WriteJob {
    Ingest {
        event: Box<Event>,
        reply: oneshot::Sender<Result<IngestOutcome>>,
    },
    Quarantine {
        raw: Bytes,
        reason: String,
        reply: oneshot::Sender<Result<i64>>,
    },
    PruneTombstones {
        recorded_before: Timestamp,
        reply: oneshot::Sender<Result<u64>>,
    },
}

/// A job's result, held until the batch commits.
enum Finished {
    Ingest(
        oneshot::Sender<Result<IngestOutcome>>,
        Result<IngestOutcome>,
    ),
    Quarantine(oneshot::Sender<Result<i64>>, Result<i64>),
    PruneTombstones(oneshot::Sender<Result<u64>>, Result<u64>),
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

        let mut writer = Connection::open(path)
            .map_err(|source| Error::database(format!("opening {}", path.display()), source))?;
        configure_writer(&writer)
            .map_err(|source| Error::database(format!("configuring {}", path.display()), source))?;
        schema::migrations()
            .to_latest(&mut writer)
            .map_err(|source| Error::Migration {
                path: path.to_owned(),
                source,
            })?;

        let (writes, jobs) = mpsc::channel(QUEUE_CAPACITY);
        let writer_thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(writer, jobs))
            .map_err(|source| Error::Io {
                action: "starting the writer thread for",
                path: path.to_owned(),
                source,
            })?;

        Ok(Self {
            writes,
            readers: Arc::new(ReaderPool::new(path.to_owned())),
            writer_thread: Mutex::new(Some(writer_thread)),
        })
    }

    async fn submit<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T>>) -> WriteJob,
    ) -> Result<T> {
        let (reply, result) = oneshot::channel();
        self.writes
            .send(job(reply))
            .await
            .map_err(|_| Error::StoreClosed)?;
        result.await.map_err(|_| Error::StoreClosed)?
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

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and stop.
        // Callers cannot be waiting here: each holds a reference to the store.
        let thread = self
            .writer_thread
            .lock()
            .ok()
            .and_then(|mut slot| slot.take());
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.writes, closed));
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(&self, event: Event) -> Result<IngestOutcome> {
        let event = Box::new(event);
        self.submit(|reply| WriteJob::Ingest { event, reply }).await
    }

    async fn quarantine(&self, raw: Bytes, reason: String) -> Result<i64> {
        self.submit(|reply| WriteJob::Quarantine { raw, reason, reply })
            .await
    }

    async fn find_user(&self, lookup: UserLookup) -> Result<Option<User>> {
        self.read(move |connection| find_user(connection, &lookup))
            .await
    }

    async fn prune_tombstones(&self, recorded_before: Timestamp) -> Result<u64> {
        self.submit(|reply| WriteJob::PruneTombstones {
            recorded_before,
            reply,
        })
        .await
    }

    async fn check_health(&self) -> Result<()> {
        if self.writes.is_closed() {
            return Err(Error::StoreClosed);
        }
        self.read(|connection| {
            connection
                .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .map_err(|source| Error::database("checking health", source))
        })
        .await
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

fn run_writer(mut connection: Connection, mut jobs: mpsc::Receiver<WriteJob>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);

    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }

        let size = batch.len();
        let started = std::time::Instant::now();
        commit_batch(&mut connection, batch.drain(..));
        tracing::trace!(
            size,
            elapsed_us = started.elapsed().as_micros() as u64,
            "committed batch"
        );
    }

    tracing::debug!("storage writer stopped");
}

/// Applies a batch in one transaction and replies to every job after the
/// commit, so no caller hears of a write that is not yet durable.
fn commit_batch(connection: &mut Connection, batch: impl Iterator<Item = WriteJob>) {
    let mut finished = Vec::new();

    let transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => transaction,
        Err(source) => {
            let reason = source.to_string();
            tracing::error!(error = %reason, "cannot begin a write transaction");
            for job in batch {
                fail_job(job, &reason);
            }
            return;
        }
    };

    let mut transaction = transaction;
    for job in batch {
        finished.push(apply_job(&mut transaction, job));
    }

    match transaction.commit() {
        Ok(()) => {
            for job in finished {
                job.reply();
            }
        }
        Err(source) => {
            let reason = source.to_string();
            tracing::error!(error = %reason, "cannot commit a write transaction");
            for job in finished {
                job.fail(&reason);
            }
        }
    }
}

fn apply_job(transaction: &mut rusqlite::Transaction<'_>, job: WriteJob) -> Finished {
    // A savepoint per job: a failed job rolls back alone and the rest commit.
    let mut within_savepoint = |apply: &mut dyn FnMut(&Connection) -> Result<()>| -> Result<()> {
        let savepoint = transaction
            .savepoint()
            .map_err(|source| Error::database("opening a savepoint", source))?;
        apply(&savepoint)?;
        savepoint
            .commit()
            .map_err(|source| Error::database("releasing a savepoint", source))
    };

    match job {
        WriteJob::Ingest { event, reply } => {
            let mut outcome = None;
            let result = within_savepoint(&mut |connection| {
                outcome = Some(ingest_event(connection, &event)?);
                Ok(())
            });
            Finished::Ingest(reply, result.map(|()| outcome.expect("set on success")))
        }
        WriteJob::Quarantine { raw, reason, reply } => {
            let mut id = 0;
            let result = within_savepoint(&mut |connection| {
                id = insert_quarantine(connection, &raw, &reason)?;
                Ok(())
            });
            Finished::Quarantine(reply, result.map(|()| id))
        }
        WriteJob::PruneTombstones {
            recorded_before,
            reply,
        } => {
            let mut removed = 0;
            let result = within_savepoint(&mut |connection| {
                removed = prune_tombstones(connection, recorded_before)?;
                Ok(())
            });
            Finished::PruneTombstones(reply, result.map(|()| removed))
        }
    }
}

fn fail_job(job: WriteJob, reason: &str) {
    let error = || Error::Commit {
        reason: reason.to_owned(),
    };
    match job {
        WriteJob::Ingest { reply, .. } => {
            let _ = reply.send(Err(error()));
        }
        WriteJob::Quarantine { reply, .. } => {
            let _ = reply.send(Err(error()));
        }
        WriteJob::PruneTombstones { reply, .. } => {
            let _ = reply.send(Err(error()));
        }
    }
}

impl Finished {
    fn reply(self) {
        // A caller that gave up (its HTTP request was cancelled) has dropped
        // its receiver; the write is durable all the same.
        match self {
            Finished::Ingest(reply, result) => {
                let _ = reply.send(result);
            }
            Finished::Quarantine(reply, result) => {
                let _ = reply.send(result);
            }
            Finished::PruneTombstones(reply, result) => {
                let _ = reply.send(result);
            }
        }
    }

    fn fail(self, reason: &str) {
        let error = || Error::Commit {
            reason: reason.to_owned(),
        };
        match self {
            Finished::Ingest(reply, _) => {
                let _ = reply.send(Err(error()));
            }
            Finished::Quarantine(reply, _) => {
                let _ = reply.send(Err(error()));
            }
            Finished::PruneTombstones(reply, _) => {
                let _ = reply.send(Err(error()));
            }
        }
    }
}

fn ingest_event(connection: &Connection, event: &Event) -> Result<IngestOutcome> {
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
        Some(UserChange::Upsert(user)) => upsert_user(connection, user, &event.id)
            .map_err(|source| Error::database(context(), source))?,
        Some(UserChange::Delete { id }) => {
            delete_user(connection, id, &event.id, event.created_at_instant)
                .map_err(|source| Error::database(context(), source))?
        }
    };

    Ok(IngestOutcome::Stored {
        sequence,
        user_effect,
    })
}

fn upsert_user(
    connection: &Connection,
    user: &User,
    event_id: &str,
) -> rusqlite::Result<UserEffect> {
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
    let effect = match stored_updated_at {
        Some(stored) if stored >= user.updated_at_instant.unix_nanos() => {
            return Ok(UserEffect::Stale);
        }
        Some(_) => UserEffect::Updated,
        None => UserEffect::Inserted,
    };

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
    Ok(effect)
}

fn delete_user(
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

fn insert_quarantine(connection: &Connection, raw: &[u8], reason: &str) -> Result<i64> {
    connection
        .prepare_cached("INSERT INTO quarantine (received_at_ns, reason, raw) VALUES (?1, ?2, ?3)")
        .and_then(|mut statement| {
            statement.execute(params![Timestamp::now().unix_nanos(), reason, raw])
        })
        .map_err(|source| Error::database("quarantining an invalid event", source))?;
    Ok(connection.last_insert_rowid())
}

fn prune_tombstones(connection: &Connection, recorded_before: Timestamp) -> Result<u64> {
    let removed = connection
        .prepare_cached("DELETE FROM user_tombstones WHERE recorded_at_ns < ?1")
        .and_then(|mut statement| statement.execute([recorded_before.unix_nanos()]))
        .map_err(|source| Error::database("pruning user tombstones", source))?;
    Ok(removed as u64)
}

fn find_user(connection: &Connection, lookup: &UserLookup) -> Result<Option<User>> {
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

/// Read-only connections, opened on demand and kept for reuse.
struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn with_connection<T>(&self, query: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match reused {
            Some(connection) => connection,
            None => self.open()?,
        };

        let result = query(&connection);

        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(connection);
        }
        result
    }

    fn open(&self) -> Result<Connection> {
        let context = || format!("opening {} for reading", self.path.display());
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| Error::database(context(), source))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|source| Error::database(context(), source))?;
        Ok(connection)
    }
}
