//! The group-commit writer: one thread owns the only writing connection.
//!
//! The thread takes every job that is waiting, runs each inside its own
//! savepoint in one transaction (so one failing job does not sink the
//! others), commits once, and only then replies to each caller. Concurrent
//! callers therefore share one fsync, and no caller hears of a write that is
//! not yet durable.

use std::path::Path;
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

/// The maximum number of jobs in one transaction; more wait for the next commit.
const MAX_BATCH: usize = 1024;
/// Jobs that may queue before callers wait for room.
const QUEUE_CAPACITY: usize = 8192;

/// A unit of work for the writer thread.
trait Job: Send {
    /// Runs the job on the open transaction and returns whether it succeeded
    /// (a failed job's savepoint is rolled back) and how to reply once the
    /// transaction's fate is known.
    fn apply(self: Box<Self>, connection: &Connection) -> Applied;

    /// Replies with a failure without running the job.
    fn reject(self: Box<Self>, reason: &str);
}

/// Sends a job's result once the commit is known: `None` when the commit
/// succeeded, or the reason it failed.
type Reply = Box<dyn FnOnce(Option<&str>) + Send>;

struct Applied {
    succeeded: bool,
    reply: Reply,
}

struct TypedJob<T, F> {
    apply: F,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn apply(self: Box<Self>, connection: &Connection) -> Applied {
        let result = (self.apply)(connection);
        let succeeded = result.is_ok();
        let reply = self.reply;
        Applied {
            succeeded,
            reply: Box::new(move |commit_failure: Option<&str>| {
                let result = match commit_failure {
                    None => result,
                    Some(reason) => Err(Error::Commit {
                        reason: reason.to_owned(),
                    }),
                };
                // A caller that gave up (its HTTP request was cancelled) has
                // dropped its receiver; the write is committed all the same.
                let _ = reply.send(result);
            }),
        }
    }

    fn reject(self: Box<Self>, reason: &str) {
        let _ = self.reply.send(Err(Error::Commit {
            reason: reason.to_owned(),
        }));
    }
}

/// The sending side of the writer queue. Dropping it lets the thread finish
/// the queued jobs and stop; [`Writer::close`] also waits for that.
pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on an open, configured connection.
    pub(super) fn start(connection: Connection, path: &Path) -> Result<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(connection, queue))
            .map_err(|source| Error::Io {
                action: "starting the writer thread for",
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `apply` in the next group commit and returns its result once the
    /// commit is durable.
    pub(super) async fn write<T, F>(&self, apply: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let jobs = self.jobs.as_ref().ok_or(Error::StoreClosed)?;
        let (reply, result) = oneshot::channel();
        jobs.send(Box::new(TypedJob { apply, reply }))
            .await
            .map_err(|_| Error::StoreClosed)?;
        result.await.map_err(|_| Error::StoreClosed)?
    }

    /// Returns whether the writer thread has stopped.
    pub(super) fn is_closed(&self) -> bool {
        self.jobs.as_ref().is_none_or(mpsc::Sender::is_closed)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish what is queued and stop.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(mut connection: Connection, mut queue: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);

    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
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

fn commit_batch(connection: &mut Connection, batch: impl Iterator<Item = Box<dyn Job>>) {
    let mut transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate)
    {
        Ok(transaction) => transaction,
        Err(source) => {
            let reason = source.to_string();
            tracing::error!(error = %reason, "cannot begin a write transaction");
            batch.for_each(|job| job.reject(&reason));
            return;
        }
    };

    let mut replies = Vec::new();
    for job in batch {
        let savepoint = match transaction.savepoint() {
            Ok(savepoint) => savepoint,
            Err(source) => {
                job.reject(&source.to_string());
                continue;
            }
        };
        let applied = job.apply(&savepoint);
        let released = if applied.succeeded {
            savepoint.commit()
        } else {
            // Dropping an uncommitted savepoint rolls it back.
            drop(savepoint);
            Ok(())
        };
        match released {
            Ok(()) => replies.push(applied.reply),
            Err(source) => (applied.reply)(Some(&source.to_string())),
        }
    }

    match transaction.commit() {
        Ok(()) => replies.into_iter().for_each(|reply| reply(None)),
        Err(source) => {
            let reason = source.to_string();
            tracing::error!(error = %reason, "cannot commit a write transaction");
            replies.into_iter().for_each(|reply| reply(Some(&reason)));
        }
    }
}
