//! A small pool of read-only connections, which WAL mode lets run beside
//! the writer.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::BUSY_TIMEOUT;
use crate::error::{Error, Result};

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// Read-only connections, opened on demand and kept for reuse.
pub(super) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `query` on an idle connection, opening one if none is idle.
    pub(super) fn with_connection<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
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
