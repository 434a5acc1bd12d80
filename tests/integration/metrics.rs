//! `GET /metrics` through the real server: every family counts what the
//! server did, in the Prometheus text format, behind the API token.

use std::time::Duration;

use crate::support::{API_TOKEN, Options, TestResult, TestServer, user_event, wait_until};

const GMAIL: &str = include_str!("../../examples/actions/user_registration-gmail.json");
const COMPANY: &str = include_str!("../../examples/actions/user_registration-company.json");

const SETTLE: Duration = Duration::from_secs(30);

/// Fetches `/metrics` with the API token and checks the content type.
async fn scrape(server: &TestServer) -> TestResult<String> {
    let response = server
        .client
        .get(server.url("/metrics"))
        .bearer_auth(API_TOKEN)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    Ok(response.text().await?)
}

/// Returns the value of the one sample whose name and labels are `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn assert_samples(text: &str, expected: &[(&str, f64)]) {
    for (series, value) in expected {
        assert_eq!(sample(text, series), Some(*value), "{series} in\n{text}");
    }
}

#[tokio::test]
async fn metrics_count_what_the_server_did() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![
            ("counter", None),
            ("deny-gmail", None),
            ("failing-handler", None),
        ],
        max_attempts: Some(1),
        max_body_bytes: Some(4096),
        ..Options::default()
    })
    .await?;

    // failing-handler fails the event whose data contains "fail"; with one
    // attempt allowed its delivery goes dead at once.
    let events = [
        user_event(
            "event_m1",
            "user.created",
            "user_m1",
            "a@example.com",
            "2026-11-02T09:00:00Z",
        ),
        user_event(
            "event_m2",
            "user.created",
            "user_m2",
            "b@example.com",
            "2026-11-02T09:00:00Z",
        ),
        user_event(
            "event_m3",
            "user.created",
            "user_m3",
            "fail@example.com",
            "2026-11-02T09:00:00Z",
        ),
    ];
    for body in &events {
        let (status, reply) = server.post_webhook(body).await?;
        assert_eq!(status, 200, "{reply}");
    }
    let (status, reply) = server.post_webhook(&events[0]).await?;
    assert_eq!((status, reply["status"].as_str()), (200, Some("duplicate")));
    let (status, _) = server
        .post_webhook_with_header(&events[1], Some("t=1,v1=00"))
        .await?;
    assert_eq!(status, 401);
    let (status, _) = server.post_webhook(&"x".repeat(8192)).await?;
    assert_eq!(status, 413);
    let (status, _) = server.post_webhook("{\"not\": \"an event\"}").await?;
    assert_eq!(status, 400);

    // deny-gmail denies the Gmail registration itself; the company one
    // passes deny-gmail and then failing-handler fails, so the fallback
    // decides it.
    let (status, _) = server.post_action(GMAIL).await?;
    assert_eq!(status, 200);
    let (status, _) = server.post_action(COMPANY).await?;
    assert_eq!(status, 200);

    wait_until(SETTLE, "every delivery is handled or dead", || {
        let deliveries = server.db()?.deliveries()?;
        Ok(
            server.db()?.plugin_value("counter", "count")?.as_deref() == Some("3")
                && deliveries.len() == 1
                && deliveries[0].2 == "dead",
        )
    })
    .await?;

    let text = scrape(&server).await?;

    assert_samples(
        &text,
        &[
            (r#"authkit_webhooks_received_total{outcome="stored"}"#, 3.0),
            (
                r#"authkit_webhooks_received_total{outcome="duplicate"}"#,
                1.0,
            ),
            (
                r#"authkit_webhooks_received_total{outcome="unauthorized"}"#,
                1.0,
            ),
            (
                r#"authkit_webhooks_received_total{outcome="too_large"}"#,
                1.0,
            ),
            (r#"authkit_webhooks_received_total{outcome="invalid"}"#, 1.0),
            ("authkit_webhook_ingest_seconds_count", 4.0),
            (
                r#"authkit_deliveries_total{plugin="counter",outcome="handled"}"#,
                3.0,
            ),
            (
                r#"authkit_deliveries_total{plugin="failing-handler",outcome="handled"}"#,
                2.0,
            ),
            (
                r#"authkit_deliveries_total{plugin="failing-handler",outcome="failed"}"#,
                1.0,
            ),
            (
                r#"authkit_deliveries_dead_total{plugin="failing-handler"}"#,
                1.0,
            ),
            (
                r#"authkit_plugin_invocation_seconds_count{plugin="counter",kind="event"}"#,
                3.0,
            ),
            (
                r#"authkit_plugin_invocation_seconds_count{plugin="deny-gmail",kind="action"}"#,
                2.0,
            ),
            (
                r#"authkit_plugin_invocation_seconds_count{plugin="failing-handler",kind="action"}"#,
                1.0,
            ),
            ("authkit_events_awaiting_fan_out", 0.0),
            (
                r#"authkit_queued_deliveries{plugin="failing-handler",status="dead"}"#,
                1.0,
            ),
            // The loaded counter's queue is drained, and reads 0.
            (
                r#"authkit_queued_deliveries{plugin="counter",status="pending"}"#,
                0.0,
            ),
            (
                r#"authkit_actions_total{kind="user-registration",verdict="deny",decided_by="plugins"}"#,
                1.0,
            ),
            ("authkit_action_decision_seconds_count", 2.0),
            (r#"authkit_plugin_loads_total{outcome="loaded"}"#, 3.0),
            ("authkit_plugins_loaded", 3.0),
        ],
    );
    let fallback_decisions: f64 = text
        .lines()
        .filter(|line| {
            line.starts_with("authkit_actions_total{") && line.contains(r#"decided_by="fallback""#)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(fallback_decisions, 1.0, "{text}");
    Ok(())
}

#[tokio::test]
async fn plugin_file_changes_are_counted() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("counter", None)],
        ..Options::default()
    })
    .await?;
    let plugins = server.plugins_dir();

    // New settings reload the plugin; a file that is not a component fails
    // to load; removing the plugin's file unloads it.
    std::fs::write(
        plugins.join("counter.toml"),
        "[settings]\nspin_ms = \"0\"\n",
    )?;
    std::fs::write(plugins.join("broken.wasm"), b"not a component")?;
    let reloaded = r#"authkit_plugin_loads_total{outcome="reloaded"}"#;
    let failed = r#"authkit_plugin_loads_total{outcome="failed"}"#;
    let mut text = String::new();
    for _ in 0..150 {
        text = scrape(&server).await?;
        if sample(&text, reloaded) == Some(1.0) && sample(&text, failed) == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_samples(
        &text,
        &[
            (reloaded, 1.0),
            (failed, 1.0),
            ("authkit_plugins_loaded", 1.0),
        ],
    );

    std::fs::remove_file(plugins.join("counter.wasm"))?;
    let unloaded = r#"authkit_plugin_loads_total{outcome="unloaded"}"#;
    for _ in 0..150 {
        text = scrape(&server).await?;
        if sample(&text, unloaded) == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_samples(&text, &[(unloaded, 1.0), ("authkit_plugins_loaded", 0.0)]);
    Ok(())
}

#[tokio::test]
async fn metrics_require_the_api_token() -> TestResult {
    let server = TestServer::start().await?;

    let missing = server.client.get(server.url("/metrics")).send().await?;
    assert_eq!(missing.status(), 401);
    let wrong = server
        .client
        .get(server.url("/metrics"))
        .bearer_auth("not-the-token")
        .send()
        .await?;
    assert_eq!(wrong.status(), 401);

    let without_token = TestServer::start_with(Options {
        api_token: None,
        ..Options::default()
    })
    .await?;
    let disabled = without_token
        .client
        .get(without_token.url("/metrics"))
        .bearer_auth(API_TOKEN)
        .send()
        .await?;
    assert_eq!(disabled.status(), 403);
    let body = disabled.text().await?;
    assert!(body.contains("AUTHKIT_API_TOKEN"), "{body}");
    Ok(())
}
