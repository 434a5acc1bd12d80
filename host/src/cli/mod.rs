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
#[cfg(test)]
use crate::config::DEFAULT_LISTEN;
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
/// https URL, scheme included. `example` is a valid value for the command.
fn check_server_url(text: &str, example: &str) -> Result<()> {
    let reason = if !text.contains("://") {
        format!("{text:?} has no scheme; give the whole URL, as in {example}")
    } else {
        match reqwest::Url::parse(text) {
            Ok(url) if !matches!(url.scheme(), "http" | "https") => format!(
                "{text:?} has the scheme {:?}; use http or https, as in {example}",
                url.scheme()
            ),
            Ok(url) if url.has_host() => return Ok(()),
            Ok(_) => format!("{text:?} has no host; give one, as in {example}"),
            Err(error) => {
                format!("{text:?} is not a valid URL ({error}); give one such as {example}")
            }
        }
    };
    Err(Error::InvalidSetting {
        setting: "--url".to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_need_a_scheme() {
        let example = format!("http://{DEFAULT_LISTEN}");
        assert!(check_server_url("http://127.0.0.1:8080", &example).is_ok());
        assert!(check_server_url("https://authkit.example.com/", &example).is_ok());

        let cases = [
            ("127.0.0.1:8080", "has no scheme"),
            ("localhost:8080", "has no scheme"),
            ("", "has no scheme"),
            (
                "ftp://example.com",
                "has the scheme \"ftp\"; use http or https",
            ),
            ("http://[::1", "is not a valid URL"),
        ];
        for (text, expected) in cases {
            let error = check_server_url(text, &example).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(error.contains(&example), "{text}: {error}");
        }
    }
}
