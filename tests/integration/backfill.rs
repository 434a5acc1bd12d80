//! `authkit-host backfill` against a fake WorkOS API: pagination, retries,
//! deletes that race the import, resuming, and delivery to plugins.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::fake_workos::{API_KEY, Endpoint, FakeWorkos, Fault, user};
use crate::support::{
    Options, StoredState, TestResult, TestServer, command, delete_event, user_event, wait_until,
};

const CURSOR: &str = "backfill:users";

/// Runs `backfill` with the fake's URL and the test API key.
async fn backfill(db: &Path, fake: &FakeWorkos, extra: &[&str]) -> TestResult<Output> {
    let mut backfill = command();
    backfill
        .env("WORKOS_API_KEY", API_KEY)
        .arg("backfill")
        .arg("--db")
        .arg(db)
        .args(["--workos-api-url", &fake.url])
        .args(extra);
    Ok(tokio::process::Command::from(backfill).output().await?)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "backfill failed:\n{}",
        text(&output.stderr)
    );
}

fn users(ids: &[&str]) -> Vec<Value> {
    ids.iter()
        .map(|id| user(id, &format!("{id}@example.com"), "2026-11-02T09:00:00.000Z"))
        .collect()
}

#[tokio::test]
async fn backfill_pages_through_users() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("new.db");
    let fake = FakeWorkos::start(2).await?;
    fake.add_users(users(&["user_1", "user_2", "user_3", "user_4", "user_5"]));

    let output = backfill(&db, &fake, &[]).await?;

    assert_succeeded(&output);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("3 pages, 5 users seen, 5 inserted"),
        "{stdout}"
    );
    let stderr = text(&output.stderr);
    assert_eq!(
        stderr.matches("imported a page of users").count(),
        3,
        "{stderr}"
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    let afters: Vec<Option<&str>> = requests
        .iter()
        .map(|request| request.param("after"))
        .collect();
    assert_eq!(afters, [None, Some("user_2"), Some("user_4")]);
    for request in &requests {
        assert_eq!(request.endpoint, Endpoint::Users);
        assert_eq!(request.param("limit"), Some("100"));
        assert_eq!(request.param("order"), Some("asc"));
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {API_KEY}").as_str())
        );
    }

    let state = StoredState::open(&db)?;
    assert_eq!(
        state.user_ids()?,
        ["user_1", "user_2", "user_3", "user_4", "user_5"]
    );
    let stored = state.user("user_3")?.ok_or("user_3 missing")?;
    assert_eq!(stored["locale"], "en-US");
    assert_eq!(
        state.event_ids()?,
        [
            "backfill_user.created_user_1",
            "backfill_user.created_user_2",
            "backfill_user.created_user_3",
            "backfill_user.created_user_4",
            "backfill_user.created_user_5",
        ]
    );
    assert_eq!(state.import_cursor(CURSOR)?, None);
    drop(state);

    // A second run finds nothing newer and stores no new event.
    let output = backfill(&db, &fake, &[]).await?;
    assert_succeeded(&output);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("0 inserted, 0 updated, 5 skipped"),
        "{stdout}"
    );
    assert_eq!(StoredState::open(&db)?.count("events")?, 5);
    Ok(())
}

#[tokio::test]
async fn backfill_retries_rate_limit_and_server_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("authkit.db");
    let fake = FakeWorkos::start(2).await?;
    fake.add_users(users(&["user_1", "user_2", "user_3", "user_4"]));
    fake.fail_once(
        Endpoint::Users,
        1,
        Fault {
            status: 500,
            retry_after: None,
        },
    );
    fake.fail_once(
        Endpoint::Users,
        2,
        Fault {
            status: 429,
            retry_after: Some("1".to_owned()),
        },
    );

    let output = backfill(&db, &fake, &[]).await?;

    assert_succeeded(&output);
    let requests = fake.requests();
    let pages: Vec<usize> = requests.iter().map(|request| request.page).collect();
    assert_eq!(pages, [1, 1, 2, 2]);
    let after_server_error = requests[1].received_at - requests[0].received_at;
    assert!(
        after_server_error >= Duration::from_millis(950),
        "{after_server_error:?}"
    );
    let after_rate_limit = requests[3].received_at - requests[2].received_at;
    assert!(
        after_rate_limit >= Duration::from_millis(950),
        "{after_rate_limit:?}"
    );
    let stderr = text(&output.stderr);
    assert_eq!(stderr.matches("retrying").count(), 2, "{stderr}");
    assert_eq!(StoredState::open(&db)?.count("users")?, 4);
    Ok(())
}

#[tokio::test]
async fn backfill_respects_deletes_and_newer_rows() -> TestResult {
    let server = TestServer::start().await?;
    let webhook_url = server.url("/workos/webhook");
    // user_2 was deleted before the run; user_3 has a newer stored row, and
    // user_5 an older one.
    let setup = [
        user_event(
            "event_2c",
            "user.created",
            "user_2",
            "two@example.com",
            "2026-11-01T00:00:00Z",
        ),
        delete_event("event_2d", "user_2", "2026-11-01T01:00:00Z"),
        user_event(
            "event_3u",
            "user.updated",
            "user_3",
            "webhook3@example.com",
            "2026-11-03T00:00:00Z",
        ),
        user_event(
            "event_5c",
            "user.created",
            "user_5",
            "old5@example.com",
            "2026-11-01T00:00:00Z",
        ),
    ];
    for body in &setup {
        let (status, reply) = server.post_webhook(body).await?;
        assert_eq!(status, 200, "{reply}");
    }

    let fake = FakeWorkos::start(2).await?;
    fake.add_users(users(&[
        "user_1", "user_2", "user_3", "user_4", "user_5", "user_6",
    ]));
    // Between pages 1 and 2, user_1 (already imported) and user_4 (on page
    // 2) are deleted through webhooks.
    fake.webhook_before_page(
        Endpoint::Users,
        2,
        &webhook_url,
        delete_event("event_1d", "user_1", "2026-11-02T10:00:00Z"),
    );
    fake.webhook_before_page(
        Endpoint::Users,
        2,
        &webhook_url,
        delete_event("event_4d", "user_4", "2026-11-02T10:00:00Z"),
    );

    let output = backfill(&server.db_path(), &fake, &[]).await?;

    assert_succeeded(&output);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("2 inserted, 1 updated, 3 skipped (2 deleted)"),
        "{stdout}"
    );
    let db = server.db()?;
    assert_eq!(db.user_ids()?, ["user_3", "user_5", "user_6"]);
    for deleted in ["user_1", "user_2", "user_4"] {
        assert!(db.has_tombstone(deleted)?, "{deleted}");
    }
    let user_3 = db.user("user_3")?.ok_or("user_3 missing")?;
    assert_eq!(user_3["email"], "webhook3@example.com");
    let user_5 = db.user("user_5")?.ok_or("user_5 missing")?;
    assert_eq!(user_5["email"], "user_5@example.com");

    let backfill_events: Vec<String> = db
        .event_ids()?
        .into_iter()
        .filter(|id| id.starts_with("backfill_"))
        .collect();
    assert_eq!(
        backfill_events,
        [
            "backfill_user.created_user_1",
            "backfill_user.created_user_6"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn backfill_resumes_after_failure() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("authkit.db");
    let fake = FakeWorkos::start(2).await?;
    fake.add_users(users(&[
        "user_1", "user_2", "user_3", "user_4", "user_5", "user_6",
    ]));
    fake.break_page(Endpoint::Users, 3);

    let output = backfill(&db, &fake, &[]).await?;

    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("400"), "{stderr}");
    let state = StoredState::open(&db)?;
    assert_eq!(state.user_ids()?, ["user_1", "user_2", "user_3", "user_4"]);
    assert_eq!(state.import_cursor(CURSOR)?.as_deref(), Some("user_4"));
    drop(state);

    fake.repair();
    fake.clear_requests();
    let output = backfill(&db, &fake, &[]).await?;

    assert_succeeded(&output);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].page, 3);
    assert_eq!(requests[0].param("after"), Some("user_4"));
    let state = StoredState::open(&db)?;
    assert_eq!(state.count("users")?, 6);
    assert_eq!(state.count("events")?, 6);
    assert_eq!(state.import_cursor(CURSOR)?, None);
    Ok(())
}

#[tokio::test]
async fn backfill_restart_starts_over() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("authkit.db");
    let fake = FakeWorkos::start(2).await?;
    fake.add_users(users(&["user_1", "user_2", "user_3"]));
    fake.break_page(Endpoint::Users, 2);
    let output = backfill(&db, &fake, &[]).await?;
    assert!(!output.status.success());

    fake.repair();
    fake.clear_requests();
    let output = backfill(&db, &fake, &["--restart"]).await?;

    assert_succeeded(&output);
    let afters: Vec<Option<String>> = fake
        .requests()
        .iter()
        .map(|request| request.param("after").map(str::to_owned))
        .collect();
    assert_eq!(afters, [None, Some("user_2".to_owned())]);
    Ok(())
}

#[tokio::test]
async fn backfill_requires_api_key() -> TestResult {
    let dir = tempfile::tempdir()?;

    let output = command()
        .arg("backfill")
        .arg("--db")
        .arg(dir.path().join("authkit.db"))
        .args(["--workos-api-url", "http://127.0.0.1:9"])
        .output()?;

    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("WORKOS_API_KEY"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn backfilled_users_reach_plugins() -> TestResult {
    // A server without plugins stores a user and a delete first, and fans
    // them out before it stops, so no plugin ever gets those events.
    let server = TestServer::start().await?;
    let setup = [
        user_event(
            "event_oc",
            "user.created",
            "user_old",
            "old@example.com",
            "2026-11-01T00:00:00Z",
        ),
        user_event(
            "event_gc",
            "user.created",
            "user_gone",
            "gone@example.com",
            "2026-11-01T00:00:00Z",
        ),
        delete_event("event_gd", "user_gone", "2026-11-01T01:00:00Z"),
    ];
    for body in &setup {
        let (status, reply) = server.post_webhook(body).await?;
        assert_eq!(status, 200, "{reply}");
    }
    wait_until(Duration::from_secs(5), "events are fanned out", || {
        Ok(server.db()?.undispatched()? == 0)
    })
    .await?;
    let dir = server.into_dir().await?;
    let db = dir.path().join("authkit.db");

    let fake = FakeWorkos::start(2).await?;
    fake.add_users([
        user(
            "user_old",
            "old-new@example.com",
            "2026-11-05T00:00:00.000Z",
        ),
        user("user_gone", "gone@example.com", "2026-11-05T00:00:00.000Z"),
        user("user_new1", "new1@example.com", "2026-11-05T00:00:00.000Z"),
        user("user_new2", "new2@example.com", "2026-11-05T00:00:00.000Z"),
    ]);
    let output = backfill(&db, &fake, &[]).await?;
    assert_succeeded(&output);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("2 inserted, 1 updated, 1 skipped"),
        "{stdout}"
    );

    let server = TestServer::start_in(
        dir,
        Options {
            plugins: vec![("todo-lists", None)],
            ..Options::default()
        },
    )
    .await?;

    wait_until(Duration::from_secs(20), "both new users have lists", || {
        let keys = server.db()?.plugin_keys("todo-lists")?;
        Ok(keys.len() >= 2)
    })
    .await?;
    // Give a wrongly queued delivery time to show up.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let db = server.db()?;
    assert_eq!(
        db.plugin_keys("todo-lists")?,
        ["todos/user_new1", "todos/user_new2"]
    );
    assert!(db.deliveries()?.is_empty(), "{:?}", db.deliveries()?);
    Ok(())
}
