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

use crate::config::{DEFAULT_DB, DEFAULT_LISTEN};
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

/// Checks a `--url` that names a running server: it must be an http or
/// https URL, scheme included.
fn check_server_url(text: &str) -> Result<()> {
    let is_http = reqwest::Url::parse(text)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
    if is_http {
        return Ok(());
    }
    Err(Error::InvalidSetting {
        setting: "--url".to_owned(),
        reason: format!(
            "{text:?} is not an http or https URL; give the scheme too, as in http://{DEFAULT_LISTEN}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_need_a_scheme() {
        assert!(check_server_url("http://127.0.0.1:8080").is_ok());
        assert!(check_server_url("https://authkit.example.com/").is_ok());
        for text in ["127.0.0.1:8080", "localhost:8080", "ftp://example.com", ""] {
            let error = check_server_url(text).unwrap_err().to_string();
            assert!(error.contains("give the scheme too"), "{text}: {error}");
        }
    }
}
