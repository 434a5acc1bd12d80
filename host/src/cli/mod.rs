//! The commands besides `serve`, one module each: `send` posts signed sample
//! requests, `events` lists and retries failed deliveries, `actions` lists
//! recent Action decisions, `plugins` lists a server's plugins or checks a
//! component file. `backfill` imports existing users and `catch-up` reads
//! missed events from the WorkOS API; [`import`] holds what they share.

pub mod actions;
pub mod backfill;
pub mod catch_up;
pub mod events;
pub mod import;
pub mod plugins;
pub mod send;

use std::path::{Path, PathBuf};

use crate::config::DEFAULT_DB;
use crate::error::{Error, Result};
use crate::store::SqliteStore;

/// Opens the database a command inspects, the server's default if none is given.
async fn open_store(db: Option<&Path>) -> Result<SqliteStore> {
    let path = db.map_or_else(|| PathBuf::from(DEFAULT_DB), Path::to_owned);
    if !path.exists() {
        return Err(Error::InvalidSetting {
            setting: "--db".to_owned(),
            reason: format!(
                "{} does not exist; pass the database file the server uses",
                path.display()
            ),
        });
    }
    tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await
        .map_err(Error::panicked("opening the database"))?
}

/// Closes a store off the async threads, because closing joins its writer.
async fn close_store(store: SqliteStore) -> Result<()> {
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .map_err(Error::panicked("closing the database"))
}
