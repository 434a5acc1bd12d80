//! `authkit-host catch-up` against a fake WorkOS Events API: events stored
//! like webhooks, late events read once, resuming, filters, and delivery by
//! a running server.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_workos::{API_KEY, Endpoint, FakeWorkos, event, user};
use crate::support::{Options, StoredState, TestResult, TestServer, command, wait_until};

const SINCE: &str = "2026-11-02T09:00:00Z";
const CURSOR: &str = "catch-up:2026-11-02T09:00:00.000Z:*";

/// Runs `catch-up --since SINCE` with the fake's URL and the test API key.
async fn catch_up(db: &Path, fake: &FakeWorkos, extra: &[&str]) -> TestResult<Output> {
    let mut catch_up = command();
    catch_up
        .env("WORKOS_API_KEY", API_KEY)
        .arg("catch-up")
        .arg("--db")
        .arg(db)
        .args(["--workos-api-url", &fake.url, "--since", SINCE])
        .args(extra);
    Ok(tokio::process::Command::from(catch_up).output().await?)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "catch-up failed:\n{}",
        text(&output.stderr)
    );
}

/// Returns the time `second` seconds after [`SINCE`].
fn at(second: u32) -> String {
    format!("2026-11-02T09:00:{second:02}.000Z")
}

fn user_created(id: &str, user_id: &str, second: u32) -> Value {
    event(
        id,
        "user.created",
        user(user_id, &format!("{user_id}@example.com"), &at(second)),
        &at(second),
    )
}

fn session_created(id: &str, user_id: &str, second: u32) -> Value {
    event(
        id,
        "session.created",
        json!({ "object": "session", "id": format!("session_{id}"), "user_id": user_id }),
        &at(second),
    )
}

fn user_deleted(id: &str, user_id: &str, second: u32) -> Value {
    event(
        id,
        "user.deleted",
        json!({ "object": "user", "id": user_id }),
        &at(second),
    )
}

#[tokio::test]
async fn catch_up_reads_late_events_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("authkit.db");
    let fake = FakeWorkos::start(2).await?;
    fake.add_events([
        event(
            "event_early",
            "user.created",
            user(
                "user_early",
                "early@example.com",
                "2026-11-02T08:00:00.000Z",
            ),
            "2026-11-02T08:00:00.000Z",
        ),
        user_created("event_1", "user_1", 1),
        session_created("event_2", "user_1", 2),
        event(
            "event_3",
            "user.updated",
            user("user_1", "renamed@example.com", &at(3)),
            &at(3),
        ),
        event(
            "event_4",
            "organization.created",
            json!({ "id": "org_1" }),
            &at(4),
        ),
        user_created("event_5", "user_2", 5),
    ]);

    let output = catch_up(&db, &fake, &[]).await?;

    assert_succeeded(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("5 events seen, 5 stored"), "{stdout}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0].param("range_start"),
        Some("2026-11-02T09:00:00.000Z")
    );
    assert_eq!(requests[0].param("after"), None);
    assert_eq!(requests[1].param("after"), Some("event_2"));
    assert_eq!(requests[1].param("range_start"), None);
    assert_eq!(requests[2].param("after"), Some("event_4"));
    for request in &requests {
        assert_eq!(request.endpoint, Endpoint::Events);
        assert_eq!(request.param("limit"), Some("100"));
        assert_eq!(request.param("order"), Some("asc"));
        assert!(request.params("events").is_empty());
    }
    let state = StoredState::open(&db)?;
    assert_eq!(
        state.event_ids()?,
        ["event_1", "event_2", "event_3", "event_4", "event_5"]
    );
    assert_eq!(state.user_ids()?, ["user_1", "user_2"]);
    let user_1 = state.user("user_1")?.ok_or("user_1 missing")?;
    assert_eq!(user_1["email"], "renamed@example.com");
    assert_eq!(state.import_cursor(CURSOR)?.as_deref(), Some("event_5"));
    drop(state);

    // Two more events appear; the next run reads only those.
    fake.add_events([
        user_deleted("event_6", "user_2", 6),
        session_created("event_7", "user_1", 7),
    ]);
    fake.clear_requests();
    let output = catch_up(&db, &fake, &[]).await?;

    assert_succeeded(&output);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("2 events seen, 2 stored, 0 already stored"),
        "{stdout}"
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].param("after"), Some("event_5"));
    let state = StoredState::open(&db)?;
    assert_eq!(state.count("events")?, 7);
    assert_eq!(state.user_ids()?, ["user_1"]);
    assert!(state.has_tombstone("user_2")?);
    drop(state);

    // Nothing new: one request, nothing stored.
    fake.clear_requests();
    let output = catch_up(&db, &fake, &[]).await?;
    assert_succeeded(&output);
    assert!(text(&output.stdout).contains("0 events seen"));
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].param("after"), Some("event_7"));
    Ok(())
}

#[tokio::test]
async fn catch_up_resumes_after_failure() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("authkit.db");
    let fake = FakeWorkos::start(2).await?;
    fake.add_events((1..=5).map(|n| user_created(&format!("event_{n}"), &format!("user_{n}"), n)));
    fake.break_page(Endpoint::Events, 2);

    let output = catch_up(&db, &fake, &[]).await?;

    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("400"));
    let state = StoredState::open(&db)?;
    assert_eq!(state.event_ids()?, ["event_1", "event_2"]);
    assert_eq!(state.import_cursor(CURSOR)?.as_deref(), Some("event_2"));
    drop(state);

    fake.repair();
    fake.clear_requests();
    let output = catch_up(&db, &fake, &[]).await?;

    assert_succeeded(&output);
    let requests = fake.requests();
    assert_eq!(requests[0].page, 2);
    assert_eq!(requests[0].param("after"), Some("event_2"));
    assert_eq!(requests[0].param("range_start"), None);
    assert!(text(&output.stdout).contains("3 events seen, 3 stored"));
    let state = StoredState::open(&db)?;
    assert_eq!(
        state.event_ids()?,
        ["event_1", "event_2", "event_3", "event_4", "event_5"]
    );
    Ok(())
}

#[tokio::test]
async fn catch_up_filters_event_types() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("authkit.db");
    let fake = FakeWorkos::start(10).await?;
    fake.add_events([
        user_created("event_1", "user_1", 1),
        session_created("event_2", "user_1", 2),
        user_deleted("event_3", "user_1", 3),
    ]);

    let output = catch_up(&db, &fake, &["--events", "user.deleted,user.created"]).await?;

    assert_succeeded(&output);
    let requests = fake.requests();
    assert_eq!(
        requests[0].params("events"),
        ["user.created", "user.deleted"]
    );
    let state = StoredState::open(&db)?;
    assert_eq!(state.event_ids()?, ["event_1", "event_3"]);
    assert_eq!(
        state
            .import_cursor("catch-up:2026-11-02T09:00:00.000Z:user.created,user.deleted")?
            .as_deref(),
        Some("event_3")
    );
    assert_eq!(state.import_cursor(CURSOR)?, None);
    drop(state);

    // A run without the filter keeps its own position, starts at --since and
    // finds the filtered events already stored.
    fake.clear_requests();
    let output = catch_up(&db, &fake, &[]).await?;

    assert_succeeded(&output);
    assert_eq!(
        fake.requests()[0].param("range_start"),
        Some("2026-11-02T09:00:00.000Z")
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("3 events seen, 1 stored, 2 already stored"),
        "{stdout}"
    );
    assert_eq!(StoredState::open(&db)?.count("events")?, 3);
    Ok(())
}

#[tokio::test]
async fn catch_up_quarantines_invalid_events() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("authkit.db");
    let fake = FakeWorkos::start(10).await?;
    let mut invalid = user_created("event_bad", "user_bad", 1);
    invalid["data"] = json!({ "id": "user_bad" });
    fake.add_events([invalid, user_created("event_2", "user_2", 2)]);

    let output = catch_up(&db, &fake, &[]).await?;

    assert_succeeded(&output);
    assert!(text(&output.stdout).contains("1 stored, 0 already stored, 1 quarantined"));
    let state = StoredState::open(&db)?;
    let quarantined = state.quarantined()?;
    assert_eq!(quarantined.len(), 1);
    assert!(
        quarantined[0].0.starts_with("catch-up:"),
        "{}",
        quarantined[0].0
    );
    assert_eq!(state.event_ids()?, ["event_2"]);
    assert_eq!(state.import_cursor(CURSOR)?.as_deref(), Some("event_2"));
    Ok(())
}

#[tokio::test]
async fn caught_up_events_reach_running_server() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("todo-lists", None)],
        ..Options::default()
    })
    .await?;
    let already_received = user_created("event_1", "user_1", 1);
    let (status, reply) = server.post_webhook(&already_received.to_string()).await?;
    assert_eq!(status, 200, "{reply}");

    let fake = FakeWorkos::start(10).await?;
    fake.add_events([already_received, user_created("event_2", "user_2", 2)]);
    let output = catch_up(&server.db_path(), &fake, &[]).await?;

    assert_succeeded(&output);
    assert!(text(&output.stdout).contains("2 events seen, 1 stored, 1 already stored"));
    wait_until(Duration::from_secs(20), "user_2 has a list", || {
        Ok(server
            .db()?
            .plugin_value("todo-lists", "todos/user_2")?
            .is_some())
    })
    .await?;
    let db = server.db()?;
    assert_eq!(
        db.plugin_keys("todo-lists")?,
        ["todos/user_1", "todos/user_2"]
    );
    Ok(())
}

#[tokio::test]
async fn catch_up_rejects_invalid_since() -> TestResult {
    let dir = tempfile::tempdir()?;

    let output = command()
        .env("WORKOS_API_KEY", API_KEY)
        .arg("catch-up")
        .arg("--db")
        .arg(dir.path().join("authkit.db"))
        .args([
            "--workos-api-url",
            "http://127.0.0.1:9",
            "--since",
            "yesterday",
        ])
        .output()?;

    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--since"), "{stderr}");
    assert!(stderr.contains("yesterday"), "{stderr}");
    Ok(())
}
