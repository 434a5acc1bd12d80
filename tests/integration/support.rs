//! Shared test fixtures: a real server on a loopback port with a temporary
//! SQLite file, a signed-request builder and direct reads of stored state.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
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
/// The Actions secret of servers started with [`Options::action_secret`].
pub const ACTION_SECRET: &str = "action_secret_for_tests";
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
    /// Plugins to install, by component name in the test plugins folder,
    /// each with the text of its optional `<name>.toml`.
    pub plugins: Vec<(&'static str, Option<String>)>,
    /// Other files to put in the plugins folder, by name.
    pub raw_plugin_files: Vec<(&'static str, Vec<u8>)>,
    /// The Actions secret; `None` disables Actions.
    pub action_secret: Option<String>,
    /// Other `serve` settings; the listen address, database and plugins
    /// folder are always the test's own.
    pub serve: ServeArgs,
    /// Delivery attempts before a delivery is dead.
    pub max_attempts: Option<u32>,
    /// Milliseconds to wait after a delivery's first failure.
    pub retry_base_ms: Option<u64>,
    /// The WorkOS client id (`WORKOS_CLIENT_ID`); `None` disables `/me`
    /// unless `serve.jwks_url` is set.
    pub client_id: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            secret: SECRET.to_owned(),
            api_token: Some(API_TOKEN.to_owned()),
            tolerance_secs: None,
            max_body_bytes: None,
            plugins: Vec::new(),
            raw_plugin_files: Vec::new(),
            action_secret: Some(ACTION_SECRET.to_owned()),
            serve: ServeArgs::default(),
            max_attempts: None,
            retry_base_ms: None,
            client_id: None,
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
    actions_answered: std::sync::atomic::AtomicI64,
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

    /// Starts a server in an existing folder, on the database `authkit.db`
    /// in it (created if missing).
    pub async fn start_in(dir: TempDir, options: Options) -> TestResult<Self> {
        let plugins_dir = dir.path().join("plugins");
        install_plugins(&plugins_dir, &options.plugins)?;
        for (name, bytes) in &options.raw_plugin_files {
            std::fs::create_dir_all(&plugins_dir)?;
            std::fs::write(plugins_dir.join(name), bytes)?;
        }
        let args = ServeArgs {
            listen: Some("127.0.0.1:0".parse()?),
            db: Some(dir.path().join("authkit.db")),
            plugins: Some(dir.path().join("plugins")),
            webhook_tolerance_secs: options.tolerance_secs,
            max_body_bytes: options.max_body_bytes,
            delivery_max_attempts: options.max_attempts,
            delivery_retry_base_ms: options.retry_base_ms,
            ..options.serve.clone()
        };
        let token = options.api_token.clone();
        let action_secret = options.action_secret.clone();
        let client_id = options.client_id.clone();
        let secrets = Secrets::from_env(|name| match name {
            "WORKOS_WEBHOOK_SECRET" => Some(options.secret.clone()),
            "WORKOS_ACTION_SECRET" => action_secret.clone(),
            "WORKOS_CLIENT_ID" => client_id.clone(),
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
            actions_answered: std::sync::atomic::AtomicI64::new(0),
        };
        server.wait_until_healthy().await?;
        Ok(server)
    }

    /// Waits until `/healthz` returns 200, which it does once the plugins
    /// in the server's folder have loaded or failed.
    async fn wait_until_healthy(&self) -> TestResult {
        for _ in 0..1000 {
            if let Ok(response) = self.client.get(self.url("/healthz")).send().await
                && response.status() == 200
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err("server did not become healthy within 20 s".into())
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

    /// Stops the server and returns its folder, to start another server on
    /// the same database with other options.
    pub async fn into_dir(mut self) -> TestResult<TempDir> {
        self.stop().await?;
        Ok(std::mem::replace(&mut self.dir, tempfile::tempdir()?))
    }

    /// Returns the full URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Returns the plugins folder.
    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
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
        let response = self.post_signed("/workos/webhook", body, header).await?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await?;
        Ok((status, body))
    }

    /// POSTs a JSON body to `path` with the given signature header (or none).
    async fn post_signed(
        &self,
        path: &str,
        body: &str,
        header: Option<&str>,
    ) -> TestResult<reqwest::Response> {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(header) = header {
            request = request.header("WorkOS-Signature", header);
        }
        Ok(request.send().await?)
    }

    /// POSTs an Action body signed with the test Actions secret and a fresh
    /// timestamp, and returns the status and the body as text.
    pub async fn post_action(&self, body: &str) -> TestResult<(u16, String)> {
        let header = signature::header_value(ACTION_SECRET, now_ms(), body.as_bytes());
        self.post_action_with_header(body, Some(&header)).await
    }

    /// POSTs an Action body with the given signature header (or none).
    pub async fn post_action_with_header(
        &self,
        body: &str,
        header: Option<&str>,
    ) -> TestResult<(u16, String)> {
        let response = self.post_signed("/workos/action", body, header).await?;
        let status = response.status().as_u16();
        if status == 200 {
            self.actions_answered
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok((status, response.text().await?))
    }

    /// Returns how many Action requests this server returned a verdict for.
    pub fn actions_answered(&self) -> i64 {
        self.actions_answered
            .load(std::sync::atomic::Ordering::Relaxed)
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

    /// Returns a plugin's store value as text.
    pub fn plugin_value(&self, plugin: &str, key: &str) -> TestResult<Option<String>> {
        let value: Option<Vec<u8>> = self
            .0
            .query_row(
                "SELECT value FROM plugin_store WHERE plugin = ?1 AND key = ?2",
                [plugin, key],
                |row| row.get(0),
            )
            .optional()?;
        Ok(value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Returns a plugin's store keys, sorted.
    pub fn plugin_keys(&self, plugin: &str) -> TestResult<Vec<String>> {
        let mut statement = self
            .0
            .prepare("SELECT key FROM plugin_store WHERE plugin = ?1 ORDER BY key")?;
        let keys = statement.query_map([plugin], |row| row.get(0))?;
        Ok(keys.collect::<Result<_, _>>()?)
    }

    /// Returns each delivery still queued as (plugin, event id, status, attempts).
    pub fn deliveries(&self) -> TestResult<Vec<(String, String, String, i64)>> {
        let mut statement = self.0.prepare(
            "SELECT d.plugin, e.id, d.status, d.attempts
             FROM deliveries d JOIN events e ON e.sequence = d.event_sequence
             ORDER BY d.event_sequence, d.plugin",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns the number of events fan-out has not yet queued deliveries for.
    pub fn undispatched(&self) -> TestResult<i64> {
        Ok(self.0.query_row(
            "SELECT count(*) FROM events
             WHERE sequence > (SELECT last_sequence FROM dispatch_cursor)",
            [],
            |row| row.get(0),
        )?)
    }

    /// Returns the stored event ids in receive order.
    pub fn event_ids(&self) -> TestResult<Vec<String>> {
        let mut statement = self.0.prepare("SELECT id FROM events ORDER BY sequence")?;
        let ids = statement.query_map([], |row| row.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    /// Returns the ids of the live users, sorted.
    pub fn user_ids(&self) -> TestResult<Vec<String>> {
        let mut statement = self.0.prepare("SELECT id FROM users ORDER BY id")?;
        let ids = statement.query_map([], |row| row.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    /// Returns the cursor an import from the WorkOS API stored under `name`.
    pub fn import_cursor(&self, name: &str) -> TestResult<Option<String>> {
        Ok(self
            .0
            .query_row(
                "SELECT cursor FROM import_cursors WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
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

/// POSTs `count` signed `user.created` events with ids
/// `event_<prefix>_<index>` and checks that each is accepted.
pub async fn post_users(server: &TestServer, prefix: &str, count: usize) -> TestResult {
    for index in 0..count {
        let body = user_event(
            &format!("event_{prefix}_{index}"),
            "user.created",
            &format!("user_{prefix}_{index}"),
            "plugins@example.com",
            "2026-11-02T09:00:00Z",
        );
        let (status, reply) = server.post_webhook(&body).await?;
        assert_eq!(status, 200, "{reply}");
    }
    Ok(())
}

/// Returns the number of events the `counter` test plugin has counted.
pub fn counter_count(server: &TestServer) -> TestResult<u64> {
    Ok(server
        .db()?
        .plugin_value("counter", "count")?
        .map_or(Ok(0), |count| count.parse())?)
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

/// Returns the folder of test plugin components, building them on first use
/// (`tests/run.sh` builds them before the tests, so this is then quick).
pub fn test_plugins_dir() -> TestResult<PathBuf> {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = root.join("target/test-plugins");
        for script in ["examples/build-plugins.sh", "tests/guests/build.sh"] {
            let output = std::process::Command::new("bash")
                .arg(root.join(script))
                .arg(&out)
                .output()
                .map_err(|error| format!("cannot run {script}: {error}"))?;
            if !output.status.success() {
                return Err(format!(
                    "{script} failed:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
        Ok(out)
    });
    built.clone().map_err(Into::into)
}

/// Copies the named test plugins, with their settings files, into `dir`.
pub fn install_plugins(dir: &Path, plugins: &[(&str, Option<String>)]) -> TestResult {
    if plugins.is_empty() {
        return Ok(());
    }
    let source = test_plugins_dir()?;
    std::fs::create_dir_all(dir)?;
    for (name, settings) in plugins {
        std::fs::copy(
            source.join(format!("{name}.wasm")),
            dir.join(format!("{name}.wasm")),
        )?;
        if let Some(settings) = settings {
            std::fs::write(dir.join(format!("{name}.toml")), settings)?;
        }
    }
    Ok(())
}

/// Polls `check` every 20 ms until it returns true, failing after `timeout`.
pub async fn wait_until(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> TestResult<bool>,
) -> TestResult {
    let started = std::time::Instant::now();
    loop {
        if check()? {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting until {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The path of the `authkit-host` binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_authkit-host");

/// Returns a command for the binary with a clean environment.
pub fn command() -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info");
    command
}

/// A server process whose log is read for its listening address.
pub struct ServerProcess {
    child: Child,
    /// The address the server listens on.
    pub address: String,
}

impl ServerProcess {
    /// Starts `serve` on an OS-assigned port with its database and plugins
    /// folder in `dir`, and waits for the log line that names the address.
    pub fn start(dir: &Path, extra_args: &[&str]) -> TestResult<Self> {
        let mut child = command()
            .env("WORKOS_WEBHOOK_SECRET", SECRET)
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .arg("--db")
            .arg(dir.join("authkit.db"))
            .arg("--plugins")
            .arg(dir.join("plugins"))
            .args(extra_args)
            .stderr(Stdio::piped())
            .spawn()?;

        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (lines, received) = mpsc::channel();
        // Keep draining after the address is found: a closed pipe would make
        // the server's log writes fail.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });

        loop {
            let line = received.recv_timeout(Duration::from_secs(20))?;
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["message"] == "listening" {
                let address = entry["address"]
                    .as_str()
                    .ok_or("no address field")?
                    .to_owned();
                return Ok(Self { child, address });
            }
        }
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn terminate(mut self) -> TestResult<std::process::ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        assert!(status.success());
        Ok(self.child.wait()?)
    }

    /// Kills the server with SIGKILL, as a crash would, and waits for it.
    pub fn kill(mut self) -> TestResult {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A test that fails part-way must not leave a server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
