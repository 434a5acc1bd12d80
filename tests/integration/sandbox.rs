//! The `hostile` test guest through the real server. Each misbehavior is
//! stopped or denied within the limit set in the plugin's `<name>.toml`,
//! and a stopped delivery fails and is retried like any other failure.
//! Meanwhile the server keeps accepting webhooks and Actions, and keeps
//! delivering events to `counter` and to `hostile` itself.
//!
//! The registry loads each plugin name from one file only, so a second
//! copy of `hostile` cannot be the healthy plugin, and `counter` is.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use authkit_host::action::FALLBACK_DENY_MESSAGE;
use authkit_host::config::ServeArgs;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::{Value, json};

use crate::support::{
    Options, SECRET, StoredState, TestResult, TestServer, command, counter_count, install_plugins,
    now_ms, post_users, test_plugins_dir, user_event, wait_until,
};

const SETTLE: Duration = Duration::from_secs(30);

const AUTHENTICATION: &str = include_str!("../../examples/actions/authentication.json");

/// The `last_error` of a delivery stopped at a 100 ms deadline.
const TIMED_OUT_AT_100_MS: &str =
    "the handler did not finish within its deadline of 100ms and was interrupted";

/// Builds an event of a type that does not touch the users table, whose
/// `data` is `fields` plus `id` = `subject`. The hostile guest reads its
/// behavior from `data.behavior`, and `data.id` orders the deliveries.
fn behavior_event(event_id: &str, subject: &str, fields: Value) -> String {
    let mut data = fields;
    data["id"] = json!(subject);
    json!({
        "object": "event",
        "id": event_id,
        "event": "test.behavior",
        "data": data,
        "created_at": "2026-11-02T09:00:00.000Z",
    })
    .to_string()
}

/// Returns options with `hostile` (with the given `<name>.toml` text) and
/// `counter` installed, and fast retries.
fn hostile_beside_counter(hostile_toml: &str, max_attempts: u32) -> Options {
    Options {
        plugins: vec![
            ("hostile", Some(hostile_toml.to_owned())),
            ("counter", None),
        ],
        max_attempts: Some(max_attempts),
        retry_base_ms: Some(20),
        ..Options::default()
    }
}

/// POSTs an event body and checks that the server accepts it.
async fn post_event(server: &TestServer, body: &str) -> TestResult {
    let (status, reply) = server.post_webhook(body).await?;
    assert_eq!(status, 200, "{reply}");
    Ok(())
}

/// Waits until every event is fanned out and the only deliveries left are
/// `remaining`, as (plugin, event id, status, attempts).
async fn wait_until_only_left(
    server: &TestServer,
    remaining: &[(&str, &str, &str, i64)],
) -> TestResult {
    let expected: Vec<(String, String, String, i64)> = remaining
        .iter()
        .map(|(plugin, event, status, attempts)| {
            (
                (*plugin).to_owned(),
                (*event).to_owned(),
                (*status).to_owned(),
                *attempts,
            )
        })
        .collect();
    wait_until(SETTLE, &format!("only {remaining:?} are left"), || {
        let db = server.db()?;
        Ok(db.undispatched()? == 0 && db.deliveries()? == expected)
    })
    .await
}

/// Returns the `last_error` of a plugin's delivery of an event.
fn delivery_error(server: &TestServer, plugin: &str, event_id: &str) -> TestResult<String> {
    let connection =
        Connection::open_with_flags(server.db_path(), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let error: Option<Option<String>> = connection
        .query_row(
            "SELECT d.last_error
             FROM deliveries d JOIN events e ON e.sequence = d.event_sequence
             WHERE d.plugin = ?1 AND e.id = ?2",
            [plugin, event_id],
            |row| row.get(0),
        )
        .optional()?;
    error
        .flatten()
        .ok_or_else(|| format!("no failed delivery of {event_id} to {plugin}").into())
}

/// Returns one plugin's entry of `GET /plugins`.
async fn plugin_status(server: &TestServer, name: &str) -> TestResult<Value> {
    let (status, report) = server.get_with_token("/plugins").await?;
    assert_eq!(status, 200, "{report}");
    let plugins = report["plugins"].as_array().ok_or("no plugins array")?;
    plugins
        .iter()
        .find(|plugin| plugin["name"] == name)
        .cloned()
        .ok_or_else(|| format!("plugin {name} is not loaded: {report}").into())
}

/// Returns the invocation counters of `GET /plugins` for one plugin, as
/// (handled, failed, timed_out, trapped).
async fn invocation_counts(server: &TestServer, name: &str) -> TestResult<(u64, u64, u64, u64)> {
    let status = plugin_status(server, name).await?;
    let count = |field: &str| {
        status[field]
            .as_u64()
            .ok_or_else(|| format!("no {field} count for {name}: {status}"))
    };
    Ok((
        count("handled")?,
        count("failed")?,
        count("timed_out")?,
        count("trapped")?,
    ))
}

/// Waits until the counters of `GET /plugins` for one plugin are
/// `expected`, as (handled, failed, timed_out, trapped).
async fn wait_until_counted(
    server: &TestServer,
    name: &str,
    expected: (u64, u64, u64, u64),
) -> TestResult {
    let started = Instant::now();
    loop {
        let counts = invocation_counts(server, name).await?;
        if counts == expected {
            return Ok(());
        }
        if started.elapsed() > SETTLE {
            return Err(format!(
                "{name} counted {counts:?} after {SETTLE:?}, expected {expected:?}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks that `/healthz` returns 200, that a new webhook is accepted, and
/// that both plugins handle its event: `counter` as its `counter_total`-th
/// event, `hostile` as an ordinary event.
async fn assert_still_serving(server: &TestServer, counter_total: u64) -> TestResult {
    let health = server.client.get(server.url("/healthz")).send().await?;
    assert_eq!(health.status(), 200);

    post_users(server, "after", 1).await?;
    wait_until(SETTLE, "both plugins handle the event after", || {
        let db = server.db()?;
        Ok(counter_count(server)? == counter_total
            && db.plugin_value("hostile", "seen/event_after_0")?.is_some())
    })
    .await?;
    assert_eq!(
        server
            .db()?
            .plugin_value("counter", "seen/event_after_0")?
            .as_deref(),
        Some(counter_total.to_string().as_str())
    );
    Ok(())
}

#[tokio::test]
async fn infinite_loop_timed_out_then_dead() -> TestResult {
    let server =
        TestServer::start_with(hostile_beside_counter("[limits]\ndeadline_ms = 100\n", 3)).await?;

    post_event(
        &server,
        &behavior_event("event_loop", "subject_loop", json!({"behavior": "loop"})),
    )
    .await?;
    post_users(&server, "beside", 5).await?;

    wait_until_only_left(&server, &[("hostile", "event_loop", "dead", 3)]).await?;
    assert_eq!(
        delivery_error(&server, "hostile", "event_loop")?,
        TIMED_OUT_AT_100_MS
    );
    // The loop did not hold back the hostile plugin's other subjects.
    let db = server.db()?;
    for index in 0..5 {
        let key = format!("seen/event_beside_{index}");
        assert_eq!(
            db.plugin_value("hostile", &key)?.as_deref(),
            Some("user.created"),
            "{key}"
        );
    }
    assert_eq!(counter_count(&server)?, 6);

    assert_eq!(invocation_counts(&server, "hostile").await?, (5, 0, 3, 0));
    assert_eq!(invocation_counts(&server, "counter").await?, (6, 0, 0, 0));
    let hostile = plugin_status(&server, "hostile").await?;
    assert_eq!(hostile["last_error"], TIMED_OUT_AT_100_MS, "{hostile}");

    assert_still_serving(&server, 7).await?;
    Ok(())
}

/// Posts an event with `behavior` for `hostile` beside three ordinary ones,
/// with two attempts allowed. Checks that both attempts trap with an error
/// that starts with `prefix` and contains each of `details`, that the
/// delivery goes dead, and that everything else is handled.
async fn assert_trapped_twice(
    server: &TestServer,
    behavior: &str,
    prefix: &str,
    details: &[&str],
) -> TestResult {
    let event_id = format!("event_{behavior}");
    post_event(
        server,
        &behavior_event(
            &event_id,
            &format!("subject_{behavior}"),
            json!({ "behavior": behavior }),
        ),
    )
    .await?;
    post_users(server, "beside", 3).await?;

    wait_until_only_left(server, &[("hostile", &event_id, "dead", 2)]).await?;
    let error = delivery_error(server, "hostile", &event_id)?;
    assert!(error.starts_with(prefix), "{error}");
    for detail in details {
        assert!(error.contains(detail), "{detail:?} missing from {error}");
    }
    assert_eq!(counter_count(server)?, 4);

    assert_eq!(invocation_counts(server, "hostile").await?, (3, 0, 0, 2));
    assert_eq!(invocation_counts(server, "counter").await?, (4, 0, 0, 0));

    assert_still_serving(server, 5).await
}

#[tokio::test]
async fn busy_loop_trapped_at_cpu_limit() -> TestResult {
    // The deadline is far off, so only the CPU time limit can stop the loop
    // before the wait below gives up.
    let server = TestServer::start_with(hostile_beside_counter(
        "[limits]\ndeadline_ms = 60000\ncpu_ms = 100\n",
        2,
    ))
    .await?;

    assert_trapped_twice(
        &server,
        "loop",
        "the handler trapped: CPU time limit exceeded",
        &["limit of 100 ms", "cpu_ms"],
    )
    .await
}

/// A `describe` that never returns is stopped at the plugin's deadline.
/// The files in the folder load in parallel at start, so three hanging
/// files hold the start back by one deadline and the compile, not three
/// deadlines, and the healthy plugin beside them loads and serves.
#[tokio::test]
async fn hanging_describes_stopped_in_parallel_at_start() -> TestResult {
    const DEADLINE_MS: u64 = 4_000;
    let hostile = std::fs::read(test_plugins_dir()?.join("hostile.wasm"))?;
    let settings = format!(
        "[settings]\ndescribe_behavior = \"loop\"\n\n[limits]\ndeadline_ms = {DEADLINE_MS}\n"
    );
    let mut raw_plugin_files = Vec::new();
    for (wasm, toml) in [
        ("hang-1.wasm", "hang-1.toml"),
        ("hang-2.wasm", "hang-2.toml"),
        ("hang-3.wasm", "hang-3.toml"),
    ] {
        raw_plugin_files.push((wasm, hostile.clone()));
        raw_plugin_files.push((toml, settings.clone().into_bytes()));
    }

    let started = Instant::now();
    let server = TestServer::start_with(Options {
        plugins: vec![("counter", None)],
        raw_plugin_files,
        ..Options::default()
    })
    .await?;
    let start_time = started.elapsed();

    // Loaded one after another, they would take three deadlines.
    assert!(
        start_time < Duration::from_millis(3 * DEADLINE_MS),
        "the server took {start_time:?} to start"
    );
    let (status, report) = server.get_with_token("/plugins").await?;
    assert_eq!(status, 200, "{report}");
    let errors = report["load_errors"].as_array().ok_or("no load_errors")?;
    assert_eq!(errors.len(), 3, "{report}");
    for error in errors {
        let reason = error["error"].as_str().unwrap_or_default();
        assert!(reason.contains("deadline of 4s"), "{reason}");
    }
    assert_eq!(plugin_status(&server, "counter").await?["name"], "counter");

    post_users(&server, "beside-hanging", 2).await?;
    wait_until(SETTLE, "counter handles the events", || {
        Ok(counter_count(&server)? == 2)
    })
    .await?;
    Ok(())
}

/// A version with a line break or an escape sequence would forge log
/// lines and terminal output wherever the version is shown, so such a
/// description fails to load.
#[tokio::test]
async fn forged_version_rejected() -> TestResult {
    let settings = r#"describe_version = "1.0\n2026-12-04T21:00:00Z  INFO forged line \u001b[31m""#;
    let server = TestServer::start_with(hostile_beside_counter(
        &format!("[settings]\n{settings}\n"),
        1,
    ))
    .await?;

    let (status, report) = server.get_with_token("/plugins").await?;
    assert_eq!(status, 200, "{report}");
    let reason = report["load_errors"][0]["error"]
        .as_str()
        .ok_or_else(|| format!("no load error: {report}"))?;
    assert!(
        reason.contains(
            r#"handler "hostile" has a version that contains the control character '\n'"#
        ),
        "{reason}"
    );
    assert!(!reason.contains('\n'), "{reason:?}");
    assert!(plugin_status(&server, "hostile").await.is_err());
    Ok(())
}

#[tokio::test]
async fn memory_bomb_trapped_at_limit() -> TestResult {
    let server =
        TestServer::start_with(hostile_beside_counter("[limits]\nmemory_mb = 16\n", 2)).await?;

    assert_trapped_twice(
        &server,
        "allocate",
        "the handler trapped: memory limit exceeded",
        &["limit of 16777216 bytes", "memory_mb"],
    )
    .await
}

#[tokio::test]
async fn deep_recursion_trapped() -> TestResult {
    let server = TestServer::start_with(hostile_beside_counter("", 1)).await?;

    post_event(
        &server,
        &behavior_event(
            "event_recurse",
            "subject_recurse",
            json!({"behavior": "recurse"}),
        ),
    )
    .await?;
    post_event(
        &server,
        &behavior_event(
            "event_frames",
            "subject_frames",
            json!({"behavior": "recurse-frames"}),
        ),
    )
    .await?;

    wait_until_only_left(
        &server,
        &[
            ("hostile", "event_recurse", "dead", 1),
            ("hostile", "event_frames", "dead", 1),
        ],
    )
    .await?;
    let call_stack = delivery_error(&server, "hostile", "event_recurse")?;
    assert!(
        call_stack.starts_with("the handler trapped: stack overflow"),
        "{call_stack}"
    );
    // Rust keeps large locals on a shadow stack at the bottom of linear
    // memory, so overflowing it is an out-of-bounds access.
    let shadow_stack = delivery_error(&server, "hostile", "event_frames")?;
    assert!(
        shadow_stack.starts_with("the handler trapped: "),
        "{shadow_stack}"
    );
    assert!(
        shadow_stack.contains("out of bounds memory access"),
        "{shadow_stack}"
    );
    assert_eq!(counter_count(&server)?, 2);

    assert_eq!(invocation_counts(&server, "hostile").await?, (0, 0, 0, 2));
    assert_eq!(invocation_counts(&server, "counter").await?, (2, 0, 0, 0));

    assert_still_serving(&server, 3).await?;
    Ok(())
}

#[tokio::test]
async fn sandbox_denies_files_env_and_network() -> TestResult {
    let server = TestServer::start_with(hostile_beside_counter("", 1)).await?;

    post_event(
        &server,
        &behavior_event("event_probe", "subject_probe", json!({"behavior": "probe"})),
    )
    .await?;

    wait_until_only_left(&server, &[]).await?;
    let db = server.db()?;
    let outcome = |name: &str| -> TestResult<String> {
        db.plugin_value("hostile", &format!("probe/{name}"))?
            .ok_or_else(|| format!("the guest stored no outcome for {name}").into())
    };
    // No folder is preopened, so no path resolves, and the WASI context
    // rejects every socket address.
    for name in ["read-file", "list-root", "list-cwd"] {
        let outcome = outcome(name)?;
        assert!(outcome.starts_with("error: "), "{name}: {outcome}");
        assert!(
            outcome.contains("No such file or directory"),
            "{name}: {outcome}"
        );
    }
    for name in ["tcp-connect", "tcp-listen", "udp-bind"] {
        let outcome = outcome(name)?;
        assert!(outcome.starts_with("error: "), "{name}: {outcome}");
        assert!(outcome.contains("Permission denied"), "{name}: {outcome}");
    }
    // The server's process has environment variables, and none reach the
    // guest.
    assert!(std::env::var_os("PATH").is_some());
    assert_eq!(
        outcome("env-path")?,
        "error: environment variable not found"
    );
    assert_eq!(outcome("env-vars")?, "ok: 0 variables");
    assert_eq!(outcome("args")?, "ok: 0 arguments");

    assert_eq!(invocation_counts(&server, "hostile").await?, (1, 0, 0, 0));
    assert_still_serving(&server, 2).await?;
    Ok(())
}

#[tokio::test]
async fn sleep_counts_toward_deadline_only() -> TestResult {
    // A sleep uses no CPU time, so the short sleep passes a CPU limit below
    // its length, and the long one is stopped by the deadline.
    let server = TestServer::start_with(hostile_beside_counter(
        "[limits]\ndeadline_ms = 300\ncpu_ms = 50\n",
        1,
    ))
    .await?;
    let started = Instant::now();

    post_event(
        &server,
        &behavior_event(
            "event_nap",
            "subject_nap",
            json!({"behavior": "sleep", "ms": 150}),
        ),
    )
    .await?;
    post_event(
        &server,
        &behavior_event(
            "event_oversleep",
            "subject_oversleep",
            json!({"behavior": "sleep", "ms": 60_000}),
        ),
    )
    .await?;

    wait_until_only_left(&server, &[("hostile", "event_oversleep", "dead", 1)]).await?;
    // The 60 s sleep would end far past this bound.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        delivery_error(&server, "hostile", "event_oversleep")?,
        "the handler did not finish within its deadline of 300ms and was interrupted"
    );
    assert_eq!(invocation_counts(&server, "hostile").await?, (1, 0, 1, 0));
    assert_eq!(invocation_counts(&server, "counter").await?, (2, 0, 0, 0));

    assert_still_serving(&server, 3).await?;
    Ok(())
}

/// A server process whose JSON log lines the test reads.
struct LoggedServer {
    child: Child,
    address: String,
    log: mpsc::Receiver<Value>,
}

impl LoggedServer {
    /// Starts `serve` on an OS-assigned port with its database and plugins
    /// folder in `dir`, and waits for the log line that names the address.
    fn start(dir: &Path) -> TestResult<Self> {
        let mut child = command()
            .env("WORKOS_WEBHOOK_SECRET", SECRET)
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .arg("--db")
            .arg(dir.join("authkit.db"))
            .arg("--plugins")
            .arg(dir.join("plugins"))
            .stderr(Stdio::piped())
            .spawn()?;

        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (sender, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                    let _ = sender.send(entry);
                }
            }
        });

        let mut server = Self {
            child,
            address: String::new(),
            log,
        };
        let listening = server.wait_for_log("the listening line", |entry| {
            entry["message"] == "listening"
        })?;
        server.address = listening["address"]
            .as_str()
            .ok_or("no address field")?
            .to_owned();
        Ok(server)
    }

    /// Returns the first log entry from now on that `matches`, failing
    /// after 30 s.
    fn wait_for_log(&self, what: &str, matches: impl Fn(&Value) -> bool) -> TestResult<Value> {
        let timeout = Duration::from_secs(30);
        let started = Instant::now();
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            match self.log.recv_timeout(left) {
                Ok(entry) if matches(&entry) => return Ok(entry),
                Ok(_) => {}
                Err(error) => {
                    return Err(
                        format!("no log entry for {what} within {timeout:?}: {error}").into(),
                    );
                }
            }
        }
    }

    async fn post_webhook(&self, client: &reqwest::Client, body: &str) -> TestResult {
        let header = authkit_host::signature::header_value(SECRET, now_ms(), body.as_bytes());
        let response = client
            .post(format!("http://{}/workos/webhook", self.address))
            .header("WorkOS-Signature", header)
            .body(body.to_owned())
            .send()
            .await?;
        assert_eq!(response.status(), 200);
        Ok(())
    }
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn output_flood_capped_in_log() -> TestResult {
    const LINES: u64 = 20_000;
    // Each line is a 9-digit number, a space, 90 bytes of padding and `\n`.
    const LINE_BYTES: u64 = 101;
    const KEPT_BYTES: u64 = 4096;
    const MAX_LOG_MESSAGES: u64 = 1000;
    let dir = tempfile::tempdir()?;
    install_plugins(
        &dir.path().join("plugins"),
        &[
            ("hostile", Some("[limits]\nmax_output_kb = 4\n".to_owned())),
            ("counter", None),
        ],
    )?;
    let server = LoggedServer::start(dir.path())?;
    let client = reqwest::Client::new();

    let flood = behavior_event(
        "event_flood",
        "subject_flood",
        json!({"behavior": "flood", "count": LINES}),
    );
    server.post_webhook(&client, &flood).await?;

    let is_guest_output = |entry: &Value, stream: &str| {
        entry["target"] == "authkit_host::plugin::guest"
            && entry["plugin"] == "hostile"
            && entry["stream"] == stream
    };
    let stdout = server.wait_for_log("the flood's stdout", |entry| {
        is_guest_output(entry, "stdout")
    })?;
    let stderr = server.wait_for_log("the flood's stderr", |entry| {
        is_guest_output(entry, "stderr")
    })?;
    for (stream, entry) in [("stdout", &stdout), ("stderr", &stderr)] {
        let text = entry["message"].as_str().ok_or("no message")?;
        // The server logs each newline escaped, as the two characters `\n`.
        assert!(!text.contains('\n'), "{stream}");
        let unescaped = text.replace(r"\n", "\n");
        assert_eq!(unescaped.len() as u64, KEPT_BYTES, "{stream}");
        assert!(text.starts_with("        0 xxx"), "{stream}: {text:.40}");
        assert_eq!(
            entry["dropped_bytes"],
            LINES * LINE_BYTES - KEPT_BYTES,
            "{stream}"
        );
    }
    let dropped_messages = server.wait_for_log("the dropped log messages", |entry| {
        entry["plugin"] == "hostile" && entry.get("dropped").is_some()
    })?;
    assert_eq!(dropped_messages["dropped"], LINES - MAX_LOG_MESSAGES);

    // Output past the cap is dropped rather than rejected, so the guest's
    // writes succeed and so does the delivery.
    let db_path = dir.path().join("authkit.db");
    wait_until(SETTLE, "the flood is delivered", || {
        let db = StoredState::open(&db_path)?;
        Ok(db.undispatched()? == 0 && db.deliveries()?.is_empty())
    })
    .await?;
    let db = StoredState::open(&db_path)?;
    assert_eq!(
        db.plugin_value("hostile", "flood/lines")?,
        Some(LINES.to_string())
    );
    assert_eq!(db.plugin_value("counter", "count")?.as_deref(), Some("1"));

    let after = user_event(
        "event_after_flood",
        "user.created",
        "user_after_flood",
        "sandbox@example.com",
        "2026-11-02T09:00:00.000Z",
    );
    server.post_webhook(&client, &after).await?;
    wait_until(SETTLE, "both plugins handle the event after", || {
        let db = StoredState::open(&db_path)?;
        Ok(db.plugin_value("counter", "count")?.as_deref() == Some("2")
            && db
                .plugin_value("hostile", "seen/event_after_flood")?
                .is_some())
    })
    .await?;
    Ok(())
}

/// Returns the recorded Action decisions, oldest first, as (verdict,
/// reason, latency in microseconds), once `expected` are recorded.
async fn action_decisions(
    server: &TestServer,
    expected: i64,
) -> TestResult<Vec<(String, String, i64)>> {
    wait_until(
        Duration::from_secs(10),
        "the decisions are recorded",
        || Ok(server.db()?.count("action_decisions")? == expected),
    )
    .await?;
    let connection =
        Connection::open_with_flags(server.db_path(), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut statement = connection
        .prepare("SELECT verdict, reason, latency_us FROM action_decisions ORDER BY id")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Checks that an authentication Action response carries the fallback
/// deny message, and returns its verdict.
fn fallback_verdict(body: &str) -> TestResult<String> {
    let response: Value = serde_json::from_str(body)?;
    assert_eq!(
        response["object"], "authentication_action_response",
        "{body}"
    );
    let verdict = response["payload"]["verdict"]
        .as_str()
        .ok_or("no verdict")?
        .to_owned();
    assert_eq!(
        response["payload"]["error_message"], FALLBACK_DENY_MESSAGE,
        "{body}"
    );
    Ok(verdict)
}

#[tokio::test]
async fn looping_action_gets_fallback_at_deadline() -> TestResult {
    const ACTION_DEADLINE: Duration = Duration::from_millis(300);
    // The plugin's own deadline is longer, so the Action deadline is the
    // one that stops it. `counter` decides first (name order) and allows.
    let server = TestServer::start_with(Options {
        plugins: vec![
            (
                "hostile",
                Some(
                    "[settings]\nbehavior = \"loop\"\n\n[limits]\ndeadline_ms = 5000\n".to_owned(),
                ),
            ),
            ("counter", None),
        ],
        serve: ServeArgs {
            action_deadline_ms: Some(ACTION_DEADLINE.as_millis() as u64),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await?;

    for attempt in 0..2 {
        let started = Instant::now();
        let (status, body) = server.post_action(AUTHENTICATION).await?;
        let elapsed = started.elapsed();

        assert_eq!(status, 200, "{attempt}: {body}");
        assert_eq!(fallback_verdict(&body)?, "Deny", "{attempt}");
        assert!(elapsed >= ACTION_DEADLINE, "{attempt}: took {elapsed:?}");
        assert!(
            elapsed < Duration::from_secs(3),
            "{attempt}: took {elapsed:?}"
        );
    }

    let decisions = action_decisions(&server, 2).await?;
    for (verdict, reason, latency_us) in &decisions {
        assert_eq!(verdict, "Deny");
        assert!(
            reason.starts_with("fallback: plugin hostile did not answer within"),
            "{reason}"
        );
        assert!(
            *latency_us >= ACTION_DEADLINE.as_micros() as i64,
            "{reason}: {latency_us} µs"
        );
        assert!(*latency_us < 3_000_000, "{reason}: {latency_us} µs");
    }
    // `counter` allowed each time before `hostile` ran, and its store
    // writes are kept.
    wait_until(SETTLE, "both sign-ins are counted", || {
        Ok(server.db()?.plugin_value("counter", "signins")?.as_deref() == Some("2"))
    })
    .await?;
    // The server sends the response at the Action deadline, before the
    // interrupted invocation returns and is counted.
    wait_until_counted(&server, "hostile", (0, 0, 2, 0)).await?;
    wait_until_counted(&server, "counter", (2, 0, 0, 0)).await?;

    // Events are still delivered. This one sets `data.behavior` to "", so
    // `hostile` does nothing instead of following its `loop` setting.
    post_event(
        &server,
        &behavior_event("event_calm", "subject_calm", json!({"behavior": ""})),
    )
    .await?;
    wait_until_only_left(&server, &[]).await?;
    assert_eq!(counter_count(&server)?, 1);
    Ok(())
}

#[tokio::test]
async fn trapping_action_gets_fallback() -> TestResult {
    for (behavior, limits, trap) in [
        ("allocate", "memory_mb = 16", "memory limit exceeded"),
        ("recurse", "", "stack overflow"),
        (
            "loop",
            "deadline_ms = 5000\ncpu_ms = 100",
            "CPU time limit exceeded",
        ),
    ] {
        let server = TestServer::start_with(Options {
            plugins: vec![(
                "hostile",
                Some(format!(
                    "[settings]\nbehavior = \"{behavior}\"\n\n[limits]\n{limits}\n"
                )),
            )],
            ..Options::default()
        })
        .await?;

        let (status, body) = server.post_action(AUTHENTICATION).await?;

        assert_eq!(status, 200, "{behavior}: {body}");
        assert_eq!(fallback_verdict(&body)?, "Deny", "{behavior}");
        let decisions = action_decisions(&server, 1).await?;
        let (_, reason, _) = &decisions[0];
        assert!(
            reason.starts_with(&format!(
                "fallback: plugin hostile failed: the handler trapped: {trap}"
            )),
            "{behavior}: {reason}"
        );
        assert_eq!(
            invocation_counts(&server, "hostile").await?,
            (0, 0, 0, 1),
            "{behavior}"
        );
    }
    Ok(())
}
