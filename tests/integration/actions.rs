//! AuthKit Actions through the real server: verification, plugin verdicts,
//! fallbacks, the signed response and the decision record.

use std::time::{Duration, Instant};

use authkit_host::config::{FallbackVerdict, ServeArgs};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::support::{
    ACTION_SECRET, Options, TestResult, TestServer, command, now_ms, sample_events, wait_until,
};

const GMAIL: &str = include_str!("../../examples/actions/user_registration-gmail.json");
const COMPANY: &str = include_str!("../../examples/actions/user_registration-company.json");
const AUTHENTICATION: &str = include_str!("../../examples/actions/authentication.json");

fn with_plugins(plugins: &[(&'static str, Option<&str>)], serve: ServeArgs) -> Options {
    Options {
        plugins: plugins
            .iter()
            .map(|(name, settings)| (*name, settings.map(str::to_owned)))
            .collect(),
        serve,
        ..Options::default()
    }
}

/// Checks the response shape and its signature, computed here from the
/// payload fields in the signed key order, and returns the payload.
fn verified_payload(body: &str, expected_object: &str) -> TestResult<Value> {
    let response: Value = serde_json::from_str(body)?;
    assert_eq!(response["object"], expected_object, "{body}");
    let payload = &response["payload"];

    let timestamp = payload["timestamp"].as_u64().ok_or("no timestamp")?;
    let verdict = payload["verdict"].as_str().ok_or("no verdict")?;
    let mut canonical = format!(r#"{{"timestamp":{timestamp},"verdict":"{verdict}""#);
    match payload.get("error_message") {
        Some(message) => canonical.push_str(&format!(r#","error_message":{message}}}"#)),
        None => canonical.push('}'),
    }
    assert!(
        body.contains(&format!(r#""payload":{canonical}"#)),
        "payload not compact: {body}"
    );

    let mut mac = Hmac::<Sha256>::new_from_slice(ACTION_SECRET.as_bytes())?;
    mac.update(format!("{timestamp}.{canonical}").as_bytes());
    let expected = hex_encode(&mac.finalize().into_bytes());
    assert_eq!(response["signature"], expected.as_str(), "{body}");

    let age = now_ms().abs_diff(timestamp);
    assert!(age < 60_000, "timestamp {timestamp} is {age} ms from now");
    Ok(payload.clone())
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test]
async fn gmail_registration_denied() -> TestResult {
    let server =
        TestServer::start_with(with_plugins(&[("deny-gmail", None)], ServeArgs::default())).await?;

    let (status, body) = server.post_action(GMAIL).await?;

    assert_eq!(status, 200, "{body}");
    let payload = verified_payload(&body, "user_registration_action_response")?;
    assert_eq!(payload["verdict"], "Deny");
    assert_eq!(payload["error_message"], "Gmail accounts are not allowed");
    Ok(())
}

#[tokio::test]
async fn company_registration_allowed() -> TestResult {
    let server =
        TestServer::start_with(with_plugins(&[("deny-gmail", None)], ServeArgs::default())).await?;

    let (status, body) = server.post_action(COMPANY).await?;

    assert_eq!(status, 200, "{body}");
    let payload = verified_payload(&body, "user_registration_action_response")?;
    assert_eq!(payload["verdict"], "Allow");
    assert!(payload.get("error_message").is_none(), "{body}");
    Ok(())
}

#[tokio::test]
async fn any_deny_wins_in_name_order() -> TestResult {
    // deny-gmail runs before slow-action (name order) and its deny ends the
    // decision; a company address passes both.
    let server = TestServer::start_with(with_plugins(
        &[
            ("deny-gmail", None),
            ("slow-action", Some("[settings]\nspin_ms = \"0\"\n")),
        ],
        ServeArgs::default(),
    ))
    .await?;

    let (_, denied) = server.post_action(GMAIL).await?;
    let (_, allowed) = server.post_action(COMPANY).await?;

    assert_eq!(
        verified_payload(&denied, "user_registration_action_response")?["verdict"],
        "Deny"
    );
    assert_eq!(
        verified_payload(&allowed, "user_registration_action_response")?["verdict"],
        "Allow"
    );
    let listed = actions_listing(&server)?;
    assert!(listed.contains("denied by deny-gmail"), "{listed}");
    assert!(listed.contains("allowed by every plugin"), "{listed}");
    Ok(())
}

#[tokio::test]
async fn unhandled_kind_answers_fallback() -> TestResult {
    let server =
        TestServer::start_with(with_plugins(&[("deny-gmail", None)], ServeArgs::default())).await?;

    let (status, body) = server.post_action(AUTHENTICATION).await?;

    assert_eq!(status, 200, "{body}");
    let payload = verified_payload(&body, "authentication_action_response")?;
    assert_eq!(payload["verdict"], "Deny");
    assert!(
        payload["error_message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let listed = actions_listing(&server)?;
    assert!(
        listed.contains("fallback: no plugin handles authentication actions"),
        "{listed}"
    );
    Ok(())
}

#[tokio::test]
async fn fallback_allow_configurable_per_kind() -> TestResult {
    let server = TestServer::start_with(with_plugins(
        &[],
        ServeArgs {
            action_fallback_authentication: Some(FallbackVerdict::Allow),
            ..ServeArgs::default()
        },
    ))
    .await?;

    let (_, authentication) = server.post_action(AUTHENTICATION).await?;
    let (_, registration) = server.post_action(COMPANY).await?;

    assert_eq!(
        verified_payload(&authentication, "authentication_action_response")?["verdict"],
        "Allow"
    );
    assert_eq!(
        verified_payload(&registration, "user_registration_action_response")?["verdict"],
        "Deny"
    );
    Ok(())
}

#[tokio::test]
async fn slow_plugin_answers_fallback_at_deadline() -> TestResult {
    let server = TestServer::start_with(with_plugins(
        &[("slow-action", Some("[settings]\nspin_ms = \"30000\"\n"))],
        ServeArgs {
            action_deadline_ms: Some(300),
            action_fallback_user_registration: Some(FallbackVerdict::Allow),
            ..ServeArgs::default()
        },
    ))
    .await?;

    let started = Instant::now();
    let (status, body) = server.post_action(COMPANY).await?;

    // The plugin would spin for 30 s; an answer well before then shows the
    // deadline cut it off.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status, 200, "{body}");
    let payload = verified_payload(&body, "user_registration_action_response")?;
    assert_eq!(payload["verdict"], "Allow");
    let listed = actions_listing(&server)?;
    assert!(
        listed.contains("fallback: plugin slow-action did not answer"),
        "{listed}"
    );

    // A later action is decided normally once the slow one is cut off.
    let (status, _) = server.post_action(COMPANY).await?;
    assert_eq!(status, 200);
    Ok(())
}

#[tokio::test]
async fn concurrent_actions_wait_for_a_slot() -> TestResult {
    let server = TestServer::start_with(with_plugins(
        &[("slow-action", Some("[settings]\nspin_ms = \"300\"\n"))],
        ServeArgs {
            max_concurrent_invocations: Some(1),
            action_deadline_ms: Some(5000),
            ..ServeArgs::default()
        },
    ))
    .await?;

    // With one slot the second Action waits for the first to finish. The
    // fallback for registrations is deny, so two allows show that the
    // plugin decided both.
    let (first, second) = tokio::join!(server.post_action(COMPANY), server.post_action(COMPANY));

    for (status, body) in [first?, second?] {
        assert_eq!(status, 200, "{body}");
        let payload = verified_payload(&body, "user_registration_action_response")?;
        assert_eq!(payload["verdict"], "Allow", "{body}");
    }
    let listed = actions_listing(&server)?;
    assert_eq!(
        listed.matches("allowed by every plugin").count(),
        2,
        "{listed}"
    );
    Ok(())
}

#[tokio::test]
async fn failing_and_trapping_plugins_answer_fallback() -> TestResult {
    for (plugin, expected_reason) in [
        ("failing-handler", "fallback: plugin failing-handler failed"),
        (
            "trapping-handler",
            "fallback: plugin trapping-handler failed",
        ),
    ] {
        let server =
            TestServer::start_with(with_plugins(&[(plugin, None)], ServeArgs::default())).await?;

        let (status, body) = server.post_action(AUTHENTICATION).await?;

        assert_eq!(status, 200, "{plugin}: {body}");
        let payload = verified_payload(&body, "authentication_action_response")?;
        assert_eq!(payload["verdict"], "Deny", "{plugin}");
        let listed = actions_listing(&server)?;
        assert!(listed.contains(expected_reason), "{plugin}: {listed}");
    }
    Ok(())
}

#[tokio::test]
async fn action_store_writes_commit() -> TestResult {
    let server =
        TestServer::start_with(with_plugins(&[("counter", None)], ServeArgs::default())).await?;

    for _ in 0..3 {
        let (_, body) = server.post_action(AUTHENTICATION).await?;
        assert_eq!(
            verified_payload(&body, "authentication_action_response")?["verdict"],
            "Allow"
        );
    }

    // Decisions and their writes are recorded just after each answer.
    wait_until(
        Duration::from_secs(10),
        "three sign-ins are counted",
        || Ok(server.db()?.plugin_value("counter", "signins")?.as_deref() == Some("3")),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn bad_signatures_run_nothing() -> TestResult {
    let server =
        TestServer::start_with(with_plugins(&[("counter", None)], ServeArgs::default())).await?;
    let stale = authkit_host::signature::header_value(
        ACTION_SECRET,
        now_ms() - 31_000,
        AUTHENTICATION.as_bytes(),
    );
    let wrong_secret = authkit_host::signature::header_value(
        "whsec_integration_test",
        now_ms(),
        AUTHENTICATION.as_bytes(),
    );

    for (header, code) in [
        (None, "missing_signature"),
        (Some(stale), "stale_timestamp"),
        (Some(wrong_secret), "signature_mismatch"),
    ] {
        let (status, body) = server
            .post_action_with_header(AUTHENTICATION, header.as_deref())
            .await?;
        assert_eq!(status, 401, "{body}");
        let reply: Value = serde_json::from_str(&body)?;
        assert_eq!(reply["error"], code);
    }

    let db = server.db()?;
    assert_eq!(db.count("action_decisions")?, 0);
    assert_eq!(db.plugin_value("counter", "signins")?, None);
    Ok(())
}

#[tokio::test]
async fn invalid_action_body_rejected() -> TestResult {
    let server = TestServer::start().await?;

    for body in [
        "not json",
        r#"{"object":"something_else","id":"x"}"#,
        r#"{"object":"authentication_action_context"}"#,
    ] {
        let (status, reply) = server.post_action(body).await?;
        assert_eq!(status, 400, "{body}: {reply}");
    }
    assert_eq!(server.db()?.count("action_decisions")?, 0);
    Ok(())
}

#[tokio::test]
async fn missing_action_secret_disables_actions_only() -> TestResult {
    let server = TestServer::start_with(Options {
        action_secret: None,
        ..Options::default()
    })
    .await?;

    let (status, body) = server.post_action_with_header(AUTHENTICATION, None).await?;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("WORKOS_ACTION_SECRET"), "{body}");

    let (_, event) = sample_events()?.remove(0);
    let (status, _) = server.post_webhook(&event).await?;
    assert_eq!(status, 200);
    Ok(())
}

/// Returns the `actions` command's listing once every decision so far is
/// recorded, which happens just after each answer.
fn actions_listing(server: &TestServer) -> TestResult<String> {
    let answered = server.actions_answered();
    let started = Instant::now();
    while server.db()?.count("action_decisions")? < answered {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("{answered} decisions were not recorded within 10 s").into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = command()
        .args(["actions", "--db"])
        .arg(server.db_path())
        .output()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}
