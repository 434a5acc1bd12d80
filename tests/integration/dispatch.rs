//! Delivery of stored events to plugins: the examples end to end, failures,
//! retries, ordering, the `events` command and crash recovery.

use std::time::Duration;

use serde_json::Value;

use crate::support::{
    Options, SECRET, ServerProcess, StoredState, TestResult, TestServer, command, install_plugins,
    sample_events, user_event, wait_until,
};

const MARTA: &str = "user_01JD4M7Q2S8X5K9B3N6P0R1T2V";
const DEV_TESTER: &str = "user_01JD4MF0A9B8C7D6E5F4G3H2J1";
const SETTLE: Duration = Duration::from_secs(20);

fn plugins(names: &[&'static str]) -> Vec<(&'static str, Option<String>)> {
    names.iter().map(|name| (*name, None)).collect()
}

/// Waits until every stored event is fanned out and every delivery is done.
async fn wait_until_drained(server: &TestServer) -> TestResult {
    wait_until(SETTLE, "every delivery is done", || {
        let db = server.db()?;
        Ok(db.undispatched()? == 0 && db.deliveries()?.is_empty())
    })
    .await
}

#[tokio::test]
async fn examples_handle_sample_events() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: plugins(&["todo-lists", "user-mirror", "deny-gmail"]),
        raw_plugin_files: vec![("broken.wasm", b"this is not a component".to_vec())],
        ..Options::default()
    })
    .await?;

    for (name, body) in sample_events()? {
        let (status, reply) = server.post_webhook(&body).await?;
        assert_eq!(status, 200, "{name}: {reply}");
    }
    wait_until_drained(&server).await?;

    let db = server.db()?;
    let todos: Value = serde_json::from_str(
        &db.plugin_value("todo-lists", &format!("todos/{MARTA}"))?
            .ok_or("no todo list for the new user")?,
    )?;
    assert!(todos.to_string().contains(MARTA), "{todos}");
    assert_eq!(
        db.plugin_value("todo-lists", &format!("todos/{DEV_TESTER}"))?,
        None
    );

    let mirrored: Value = serde_json::from_str(
        &db.plugin_value("user-mirror", &format!("users/{MARTA}"))?
            .ok_or("user not mirrored")?,
    )?;
    assert_eq!(mirrored["external_id"], "crm-88412");
    assert_eq!(mirrored["email"], "marta.k@example.com");
    assert_eq!(
        db.plugin_value("user-mirror", &format!("users/{DEV_TESTER}"))?,
        None
    );
    assert!(db.plugin_keys("deny-gmail")?.is_empty());
    Ok(())
}

#[tokio::test]
async fn failing_delivery_retried_then_dead() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: plugins(&["failing-handler"]),
        max_attempts: Some(3),
        retry_base_ms: Some(20),
        ..Options::default()
    })
    .await?;
    let failing = user_event(
        "event_bad",
        "user.created",
        "user_bad",
        "fail@example.com",
        "2026-11-02T09:00:00Z",
    );
    let fine = user_event(
        "event_good",
        "user.created",
        "user_good",
        "ok@example.com",
        "2026-11-02T09:00:00Z",
    );

    server.post_webhook(&failing).await?;
    server.post_webhook(&fine).await?;

    wait_until(SETTLE, "the failing delivery is dead", || {
        let deliveries = server.db()?.deliveries()?;
        Ok(deliveries
            == vec![(
                "failing-handler".into(),
                "event_bad".into(),
                "dead".into(),
                3,
            )])
    })
    .await?;
    let db = server.db()?;
    assert_eq!(
        db.plugin_value("failing-handler", "seen/event_good")?
            .as_deref(),
        Some("user.created")
    );
    assert_eq!(db.plugin_value("failing-handler", "seen/event_bad")?, None);
    Ok(())
}

#[tokio::test]
async fn trap_does_not_poison_later_calls() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: plugins(&["trapping-handler"]),
        retry_base_ms: Some(60_000),
        ..Options::default()
    })
    .await?;
    let trapping = user_event(
        "event_trap",
        "user.created",
        "user_trap",
        "trap@example.com",
        "2026-11-02T09:00:00Z",
    );
    server.post_webhook(&trapping).await?;
    for index in 0..5 {
        let body = user_event(
            &format!("event_after_{index}"),
            "user.created",
            &format!("user_after_{index}"),
            "ok@example.com",
            "2026-11-02T09:00:00Z",
        );
        server.post_webhook(&body).await?;
    }

    wait_until(SETTLE, "the events after the trap are handled", || {
        let db = server.db()?;
        Ok(db.undispatched()? == 0
            && db.deliveries()?
                == vec![(
                    "trapping-handler".into(),
                    "event_trap".into(),
                    "pending".into(),
                    1,
                )])
    })
    .await?;
    let keys = server.db()?.plugin_keys("trapping-handler")?;
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(
        !keys.iter().any(|key| key.contains("event_trap")),
        "{keys:?}"
    );
    Ok(())
}

#[tokio::test]
async fn failed_handler_writes_rolled_back() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: plugins(&["write-then-fail"]),
        retry_base_ms: Some(60_000),
        ..Options::default()
    })
    .await?;
    let creating = user_event(
        "event_w1",
        "user.created",
        "user_w1",
        "create-delete-me@example.com",
        "2026-11-02T09:00:00Z",
    );
    let failing = user_event(
        "event_w2",
        "user.created",
        "user_w2",
        "fail@example.com",
        "2026-11-02T09:00:00Z",
    );

    server.post_webhook(&creating).await?;
    wait_until_drained(&server).await?;
    server.post_webhook(&failing).await?;
    wait_until(SETTLE, "the failing delivery has failed once", || {
        Ok(server.db()?.deliveries()?
            == vec![(
                "write-then-fail".into(),
                "event_w2".into(),
                "pending".into(),
                1,
            )])
    })
    .await?;

    let db = server.db()?;
    assert_eq!(
        db.plugin_keys("write-then-fail")?,
        vec![
            "delete-me",
            "last-event",
            "writes/event_w1/1",
            "writes/event_w1/2",
            "writes/event_w1/3"
        ]
    );
    assert_eq!(
        db.plugin_value("write-then-fail", "last-event")?.as_deref(),
        Some("event_w1")
    );
    assert_eq!(
        db.plugin_value("write-then-fail", "delete-me")?.as_deref(),
        Some("event_w1")
    );
    Ok(())
}

#[tokio::test]
async fn subject_order_kept_across_failures() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: plugins(&["failing-handler"]),
        max_attempts: Some(3),
        retry_base_ms: Some(300),
        ..Options::default()
    })
    .await?;
    // The first event of user A fails until it is dead; A's second event must
    // wait for it, and user B's event must not.
    let a1 = user_event(
        "event_a1",
        "user.created",
        "user_order_a",
        "fail@example.com",
        "2026-11-02T09:00:00Z",
    );
    let a2 = user_event(
        "event_a2",
        "user.updated",
        "user_order_a",
        "ok@example.com",
        "2026-11-02T10:00:00Z",
    );
    let b1 = user_event(
        "event_b1",
        "user.created",
        "user_order_b",
        "ok@example.com",
        "2026-11-02T09:00:00Z",
    );
    for body in [&a1, &a2, &b1] {
        server.post_webhook(body).await?;
    }

    wait_until(SETTLE, "user B's event is handled", || {
        Ok(server
            .db()?
            .plugin_value("failing-handler", "seen/event_b1")?
            .is_some())
    })
    .await?;
    let db = server.db()?;
    let pending_a = db.deliveries()?;
    assert_eq!(pending_a.len(), 2, "{pending_a:?}");
    assert_eq!(pending_a[0].1, "event_a1");
    assert_eq!(pending_a[0].2, "pending");
    assert_eq!(
        pending_a[1],
        (
            "failing-handler".into(),
            "event_a2".into(),
            "pending".into(),
            0
        )
    );
    assert_eq!(db.plugin_value("failing-handler", "seen/event_a2")?, None);

    wait_until(
        SETTLE,
        "user A's second event is handled after the first is dead",
        || {
            Ok(server
                .db()?
                .plugin_value("failing-handler", "seen/event_a2")?
                .is_some())
        },
    )
    .await?;
    assert_eq!(
        server.db()?.deliveries()?,
        vec![(
            "failing-handler".into(),
            "event_a1".into(),
            "dead".into(),
            3
        )]
    );
    Ok(())
}

#[tokio::test]
async fn events_command_lists_and_retries() -> TestResult {
    let mut server = TestServer::start_with(Options {
        plugins: plugins(&["failing-handler"]),
        max_attempts: Some(2),
        retry_base_ms: Some(20),
        ..Options::default()
    })
    .await?;
    let failing = user_event(
        "event_cli",
        "user.created",
        "user_cli",
        "fail@example.com",
        "2026-11-02T09:00:00Z",
    );
    server.post_webhook(&failing).await?;
    wait_until(SETTLE, "the delivery is dead", || {
        Ok(server
            .db()?
            .deliveries()?
            .first()
            .is_some_and(|delivery| delivery.2 == "dead"))
    })
    .await?;
    let db_path = server.db_path();
    let events = |args: &[&str]| -> TestResult<String> {
        let output = command()
            .arg("events")
            .args(args)
            .arg("--db")
            .arg(&db_path)
            .output()?;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8(output.stdout)?)
    };

    let listed = events(&["list"])?;
    let line = listed
        .lines()
        .find(|line| line.contains("event_cli"))
        .ok_or(listed.clone())?;
    assert!(line.starts_with("dead"), "{line}");
    assert!(line.contains("failing-handler"), "{line}");
    assert!(line.contains("fail"), "{line}");
    assert!(events(&["list", "--plugin", "other"])?.contains("no failed or dead deliveries"));

    server.stop().await?;
    let retried = events(&["retry", "--dead", "--event", "event_cli"])?;
    assert!(retried.starts_with("1 deliveries"), "{retried}");
    assert_eq!(
        StoredState::open(&db_path)?.deliveries()?,
        vec![(
            "failing-handler".into(),
            "event_cli".into(),
            "pending".into(),
            0
        )]
    );

    let server = server.restart().await?;
    wait_until(SETTLE, "the retried delivery is dead again", || {
        Ok(server.db()?.deliveries()?
            == vec![(
                "failing-handler".into(),
                "event_cli".into(),
                "dead".into(),
                2,
            )])
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn crash_mid_delivery_applies_each_event_once() -> TestResult {
    const EVENTS: usize = 300;
    let dir = tempfile::tempdir()?;
    install_plugins(
        &dir.path().join("plugins"),
        &[("counter", Some("[settings]\nspin_ms = \"3\"\n".to_owned()))],
    )?;
    let db_path = dir.path().join("authkit.db");
    let client = reqwest::Client::new();

    let server = ServerProcess::start(dir.path(), &[])?;
    for index in 0..EVENTS {
        let body = user_event(
            &format!("event_crash_{index}"),
            "user.created",
            &format!("user_crash_{index}"),
            "crash@example.com",
            "2026-11-02T09:00:00Z",
        );
        let header = authkit_host::signature::header_value(
            SECRET,
            crate::support::now_ms(),
            body.as_bytes(),
        );
        let response = client
            .post(format!("http://{}/workos/webhook", server.address))
            .header("WorkOS-Signature", header)
            .body(body)
            .send()
            .await?;
        assert_eq!(response.status(), 200);
    }

    // Kill the server while part of the events is handled and part is not.
    let counted = |db_path: &std::path::Path| -> TestResult<u64> {
        let db = StoredState::open(db_path)?;
        Ok(db
            .plugin_value("counter", "count")?
            .map_or(Ok(0), |count| count.parse())?)
    };
    wait_until(SETTLE, "some events are handled", || {
        Ok(counted(&db_path)? > 0)
    })
    .await?;
    server.kill()?;
    let handled_before_crash = counted(&db_path)?;
    assert!(
        handled_before_crash < EVENTS as u64,
        "every event was handled before the crash"
    );

    let server = ServerProcess::start(dir.path(), &[])?;
    wait_until(SETTLE * 2, "every event is handled", || {
        let db = StoredState::open(&db_path)?;
        Ok(db.undispatched()? == 0 && db.deliveries()?.is_empty())
    })
    .await?;
    let status = server.terminate()?;
    assert!(status.success());

    let db = StoredState::open(&db_path)?;
    assert_eq!(counted(&db_path)?, EVENTS as u64);
    let seen = db
        .plugin_keys("counter")?
        .iter()
        .filter(|key| key.starts_with("seen/"))
        .count();
    assert_eq!(seen, EVENTS);
    Ok(())
}
