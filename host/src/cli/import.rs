//! The parts `backfill` and `catch-up` share: the flags naming the database
//! and the WorkOS API, and the API key from the environment.

use std::path::PathBuf;

use crate::config::{API_KEY_VAR, DEFAULT_DB, DEFAULT_WORKOS_API_URL, Secret, parse_api_url};
use crate::error::{Error, Result};
use crate::store::SqliteStore;
use crate::workos_api::WorkosClient;

/// Flags of the commands that import from the WorkOS API.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// SQLite database file, created if missing; the server may be running
    /// on it [default: ./authkit.db]
    #[arg(long, env = "AUTHKIT_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,

    /// Base URL of the WorkOS API [default: https://api.workos.com]
    #[arg(long, env = "AUTHKIT_WORKOS_API_URL", value_name = "URL")]
    pub workos_api_url: Option<String>,
}

impl ImportArgs {
    /// Creates the API client, checking the URL flag.
    pub(super) fn client(&self, api_key: Secret) -> Result<WorkosClient> {
        let url = parse_api_url(
            "--workos-api-url",
            self.workos_api_url
                .as_deref()
                .unwrap_or(DEFAULT_WORKOS_API_URL),
        )?;
        Ok(WorkosClient::new(url, api_key))
    }

    /// Opens the database, creating it if missing, so an import can run
    /// before the server's first start.
    pub(super) async fn open_store(&self) -> Result<SqliteStore> {
        let path = self.db.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DB));
        tokio::task::spawn_blocking(move || SqliteStore::open(&path))
            .await
            .map_err(Error::panicked("opening the database"))?
    }
}

/// Reads the WorkOS API key through `lookup`, which is `std::env::var` in the
/// binary.
pub fn api_key_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Secret> {
    lookup(API_KEY_VAR)
        .filter(|value| !value.trim().is_empty())
        .map(Secret::new)
        .ok_or(Error::MissingEnv {
            variable: API_KEY_VAR,
            hint: "set it to an API key (sk_…) from the WorkOS dashboard of the environment to import from",
        })
}
