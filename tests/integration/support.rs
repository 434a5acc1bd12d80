//! Shared test fixtures: a real server on a loopback port with a temporary
//! SQLite file, a signed-request builder and direct reads of stored state.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authkit_host::config::{Secrets, ServeArgs, ServerConfig};
use authkit_host::signature;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The webhook secret test servers use unless a test sets another.
pub const SECRET: &str = "whsec_integration_test";
/// The users API token of servers started with [`Options::api_token`].
pub const API_TOKEN: &str = "api-token-for-tests";

/// The result type of every test: failures surface through `?`.
pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Server settings a test may change.
#[derive(Debug, Clone)]
pub struct Options {
    /// The webhook signing secret.
    pub secret: String,
    /// The users API token; `None` disables the users API.
    pub api_token: Option<String>,
    /// Webhook timestamp tolerance in seconds.
    pub tolerance_secs: Option<u64>,
    /// Webhook body limit in bytes.
    pub max_body_bytes: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            secret: SECRET.to_owned(),
            api_token: Some(API_TOKEN.to_owned()),
            tolerance_secs: None,
            max_body_bytes: None,
        }
    }
}

/// A running in-process server with its own temporary folder.
pub struct TestServer {
    /// The bound loopback address.
    pub address: SocketAddr,
    /// The HTTP client tests use.
    pub client: reqwest::Client,
    dir: TempDir,
    options: Options,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<authkit_host::Result<()>>>,
}

impl TestServer {
    /// Starts a server with default options.
    pub async fn start() -> TestResult<Self> {
        Self::start_with(Options::default()).await
    }

    /// Starts a server with the given options in a new temporary folder.
    pub async fn start_with(options: Options) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        Self::start_in(dir, options).await
    }

    async fn start_in(dir: TempDir, options: Options) -> TestResult<Self> {
        let args = ServeArgs {
            listen: Some("127.0.0.1:0".parse()?),
            db: Some(dir.path().join("authkit.db")),
            plugins: Some(dir.path().join("plugins")),
            webhook_tolerance_secs: options.tolerance_secs,
            max_body_bytes: options.max_body_bytes,
            ..ServeArgs::default()
        };
        let token = options.api_token.clone();
        let secrets = Secrets::from_env(|name| match name {
            "WORKOS_WEBHOOK_SECRET" => Some(options.secret.clone()),
            "AUTHKIT_API_TOKEN" => token.clone(),
            _ => None,
        })?;
        let config = ServerConfig::resolve(args, secrets)?;

        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let address = listener.local_addr()?;
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(authkit_host::server::serve(listener, config, async {
            let _ = signal.await;
        }));

        let server = Self {
            address,
            client: reqwest::Client::new(),
            dir,
            options,
            shutdown: Some(shutdown),
            task: Some(task),
        };
        server.wait_until_healthy().await?;
        Ok(server)
    }

    async fn wait_until_healthy(&self) -> TestResult {
        for _ in 0..100 {
            if let Ok(response) = self.client.get(self.url("/healthz")).send().await
                && response.status() == 200
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err("server did not become healthy within 2 s".into())
    }

    /// Stops the server and waits until its database is closed.
    pub async fn stop(&mut self) -> TestResult {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }

    /// Stops the server and starts a new one on the same database.
    pub async fn restart(mut self) -> TestResult<Self> {
        self.stop().await?;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir()?);
        Self::start_in(dir, self.options.clone()).await
    }

    /// Returns the full URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Returns the database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("authkit.db")
    }

    /// POSTs a body signed with the test secret and a fresh timestamp.
    pub async fn post_webhook(&self, body: &str) -> TestResult<(u16, Value)> {
        let header = signature::header_value(&self.options.secret, now_ms(), body.as_bytes());
        self.post_webhook_with_header(body, Some(&header)).await
    }

    /// POSTs a body with the given signature header (or none).
    pub async fn post_webhook_with_header(
        &self,
        body: &str,
        header: Option<&str>,
    ) -> TestResult<(u16, Value)> {
        let mut request = self
            .client
            .post(self.url("/workos/webhook"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(header) = header {
            request = request.header("WorkOS-Signature", header);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await?;
        Ok((status, body))
    }

    /// GETs a path with the test API token.
    pub async fn get_with_token(&self, path: &str) -> TestResult<(u16, Value)> {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(API_TOKEN)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await?;
        Ok((status, body))
    }

    /// Opens the database read-only, to check stored state directly.
    pub fn db(&self) -> TestResult<StoredState> {
        StoredState::open(&self.db_path())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Read-only access to a server's database.
pub struct StoredState(Connection);

impl StoredState {
    /// Opens a database file read-only.
    pub fn open(path: &Path) -> TestResult<Self> {
        let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        Ok(Self(connection))
    }

    /// Counts the rows of a table.
    pub fn count(&self, table: &str) -> TestResult<i64> {
        let sql = format!("SELECT count(*) FROM {table}");
        Ok(self.0.query_row(&sql, [], |row| row.get(0))?)
    }

    /// Returns the stored user object, if the user is live.
    pub fn user(&self, id: &str) -> TestResult<Option<Value>> {
        let raw: Option<String> = self
            .0
            .query_row("SELECT raw FROM users WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()?;
        Ok(raw.map(|raw| serde_json::from_str(&raw)).transpose()?)
    }

    /// Returns whether a tombstone exists for the user.
    pub fn has_tombstone(&self, id: &str) -> TestResult<bool> {
        Ok(self
            .0
            .query_row("SELECT 1 FROM user_tombstones WHERE id = ?1", [id], |_| {
                Ok(())
            })
            .optional()?
            .is_some())
    }

    /// Returns the raw body stored for an event id.
    pub fn event_raw(&self, id: &str) -> TestResult<Option<Vec<u8>>> {
        Ok(self
            .0
            .query_row("SELECT raw FROM events WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Returns every quarantined body with its reason, oldest first.
    pub fn quarantined(&self) -> TestResult<Vec<(String, Vec<u8>)>> {
        let mut statement = self
            .0
            .prepare("SELECT reason, raw FROM quarantine ORDER BY id")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Returns the current Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// Returns the bundled sample events, in file-name order.
pub fn sample_events() -> TestResult<Vec<(String, String)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Ok((name, std::fs::read_to_string(&path)?))
        })
        .collect()
}

/// Builds a `user.created` or `user.updated` event body.
pub fn user_event(
    event_id: &str,
    event_type: &str,
    user_id: &str,
    email: &str,
    updated_at: &str,
) -> String {
    serde_json::json!({
        "object": "event",
        "id": event_id,
        "event": event_type,
        "data": {
            "object": "user",
            "id": user_id,
            "email": email,
            "email_verified": true,
            "first_name": "Test",
            "last_name": "User",
            "profile_picture_url": null,
            "last_sign_in_at": null,
            "external_id": null,
            "metadata": {},
            "created_at": "2026-11-01T00:00:00.000Z",
            "updated_at": updated_at,
        },
        "created_at": updated_at,
    })
    .to_string()
}

/// Builds a `user.deleted` event body trimmed to the id, as WorkOS may send it.
pub fn delete_event(event_id: &str, user_id: &str, created_at: &str) -> String {
    serde_json::json!({
        "object": "event",
        "id": event_id,
        "event": "user.deleted",
        "data": { "object": "user", "id": user_id },
        "created_at": created_at,
    })
    .to_string()
}
