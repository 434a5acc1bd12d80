//! The webhook endpoint: verification, storage, idempotency and rejections.

use authkit_host::signature;

use crate::support::{Options, SECRET, TestResult, TestServer, now_ms, sample_events, user_event};

const KNOWN_ANSWER_BODY: &str = r#"{"id":"event_01TEST","event":"user.created","data":{"object":"user","id":"user_01TEST","email":"ada@example.com","email_verified":true,"first_name":"Ada","last_name":"L","profile_picture_url":null,"last_sign_in_at":null,"external_id":null,"metadata":{},"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"},"created_at":"2026-01-01T00:00:00.123Z"}"#;
const KNOWN_ANSWER_HEADER: &str =
    "t=1767225600000, v1=73d2fa01d2fb2e9f2d25140b56e0e78fe3505c55fddade0b01f0cfa1fea3cc11";

#[tokio::test]
async fn known_answer_vector_accepted() -> TestResult {
    // The vector's timestamp is fixed, so widen the tolerance to cover it; the
    // server must then accept the published header byte for byte.
    let server = TestServer::start_with(Options {
        secret: "whsec_test".to_owned(),
        tolerance_secs: Some(100 * 365 * 24 * 3600),
        ..Options::default()
    })
    .await?;
    let (status, reply) = server
        .post_webhook_with_header(KNOWN_ANSWER_BODY, Some(KNOWN_ANSWER_HEADER))
        .await?;

    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "stored");
    assert!(server.db()?.user("user_01TEST")?.is_some());
    Ok(())
}

#[tokio::test]
async fn sample_events_stored() -> TestResult {
    let server = TestServer::start().await?;

    for (name, body) in sample_events()? {
        let (status, reply) = server.post_webhook(&body).await?;
        assert_eq!(status, 200, "{name}: {reply}");
        assert_eq!(reply["status"], "stored", "{name}: {reply}");
    }

    let db = server.db()?;
    assert_eq!(db.count("events")?, 9);
    assert_eq!(db.count("users")?, 1);
    assert_eq!(db.count("quarantine")?, 0);
    let marta = db
        .user("user_01JD4M7Q2S8X5K9B3N6P0R1T2V")?
        .ok_or("user missing")?;
    assert_eq!(marta["external_id"], "crm-88412");
    assert_eq!(marta["last_sign_in_at"], "2026-11-02T09:15:40.552Z");
    assert!(db.has_tombstone("user_01JD4MF0A9B8C7D6E5F4G3H2J1")?);
    Ok(())
}

#[tokio::test]
async fn raw_body_stored_byte_for_byte() -> TestResult {
    let server = TestServer::start().await?;
    let body = "{ \"id\" : \"event_raw\", \"event\":\"custom.thing\",\n \"data\":{\"n\":1.50,\"s\":\"\\u00e9\"}, \"created_at\":\"2026-11-02 09:00:00\" }";

    let (status, _) = server.post_webhook(body).await?;

    assert_eq!(status, 200);
    assert_eq!(
        server.db()?.event_raw("event_raw")?.as_deref(),
        Some(body.as_bytes())
    );
    Ok(())
}

#[tokio::test]
async fn duplicate_delivery_changes_nothing() -> TestResult {
    let server = TestServer::start().await?;
    let first = user_event(
        "event_dup",
        "user.created",
        "user_dup",
        "a@example.com",
        "2026-11-02T09:00:00Z",
    );
    // Same id, different content: the stored event and user must not change.
    let second = user_event(
        "event_dup",
        "user.updated",
        "user_dup",
        "b@example.com",
        "2026-11-02T10:00:00Z",
    );

    let (status, reply) = server.post_webhook(&first).await?;
    assert_eq!((status, reply["status"].as_str()), (200, Some("stored")));
    for body in [&first, &second, &first] {
        let (status, reply) = server.post_webhook(body).await?;
        assert_eq!(status, 200);
        assert_eq!(reply["status"], "duplicate");
    }

    let db = server.db()?;
    assert_eq!(db.count("events")?, 1);
    assert_eq!(
        db.user("user_dup")?.ok_or("user missing")?["email"],
        "a@example.com"
    );
    assert_eq!(
        db.event_raw("event_dup")?.as_deref(),
        Some(first.as_bytes())
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_duplicates_stored_once() -> TestResult {
    let server = TestServer::start().await?;
    let body = user_event(
        "event_race",
        "user.created",
        "user_race",
        "r@example.com",
        "2026-11-02T09:00:00Z",
    );

    let attempts = (0..32).map(|_| server.post_webhook(&body));
    let replies = futures::future::join_all(attempts).await;

    let mut stored = 0;
    for reply in replies {
        let (status, reply) = reply?;
        assert_eq!(status, 200);
        if reply["status"] == "stored" {
            stored += 1;
        }
    }
    assert_eq!(stored, 1);
    assert_eq!(server.db()?.count("events")?, 1);
    Ok(())
}

#[tokio::test]
async fn unknown_event_type_accepted() -> TestResult {
    let server = TestServer::start().await?;
    let body = r#"{"object":"event","id":"event_new_kind","event":"role.permissions_changed","data":{"object":"role","slug":"admin"},"created_at":"2026-11-02T09:00:00.000Z"}"#;

    let (status, reply) = server.post_webhook(body).await?;

    assert_eq!(status, 200);
    assert_eq!(reply["status"], "stored");
    assert_eq!(server.db()?.count("events")?, 1);
    Ok(())
}

#[tokio::test]
async fn signature_rejections_store_nothing() -> TestResult {
    let server = TestServer::start().await?;
    let body = user_event(
        "event_sig",
        "user.created",
        "user_sig",
        "s@example.com",
        "2026-11-02T09:00:00Z",
    );
    let now = now_ms();
    let valid_v1 = signature::compute(SECRET, now, body.as_bytes());

    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "missing_signature"),
        (Some(String::new()), "malformed_signature"),
        (Some(format!("v1={valid_v1}")), "malformed_signature"),
        (Some(format!("t={now}")), "malformed_signature"),
        (Some(format!("t=abc, v1={valid_v1}")), "malformed_signature"),
        (
            Some(format!(
                "t={now}, v1={}",
                signature::compute("wrong", now, body.as_bytes())
            )),
            "signature_mismatch",
        ),
        (
            Some(format!("t={}, v1={valid_v1}", now + 1)),
            "signature_mismatch",
        ),
        (
            Some(format!("t={now}, v1={}", valid_v1.to_uppercase())),
            "signature_mismatch",
        ),
        (
            Some(signature::header_value(
                SECRET,
                now - 181_000,
                body.as_bytes(),
            )),
            "stale_timestamp",
        ),
        (
            Some(signature::header_value(
                SECRET,
                now + 181_000,
                body.as_bytes(),
            )),
            "future_timestamp",
        ),
    ];
    for (header, code) in cases {
        let (status, reply) = server
            .post_webhook_with_header(&body, header.as_deref())
            .await?;
        assert_eq!(status, 401, "{header:?}: {reply}");
        assert_eq!(reply["error"], code, "{header:?}: {reply}");
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    let db = server.db()?;
    assert_eq!(db.count("events")?, 0);
    assert_eq!(db.count("users")?, 0);
    assert_eq!(db.count("quarantine")?, 0);
    Ok(())
}

#[tokio::test]
async fn tampered_body_rejected() -> TestResult {
    let server = TestServer::start().await?;
    let body = user_event(
        "event_t",
        "user.created",
        "user_t",
        "t@example.com",
        "2026-11-02T09:00:00Z",
    );
    let header = signature::header_value(SECRET, now_ms(), body.as_bytes());
    let tampered = body.replace("t@example.com", "x@example.com");

    let (status, reply) = server
        .post_webhook_with_header(&tampered, Some(&header))
        .await?;

    assert_eq!(status, 401);
    assert_eq!(reply["error"], "signature_mismatch");
    assert_eq!(server.db()?.count("events")?, 0);
    Ok(())
}

#[tokio::test]
async fn oversized_body_rejected() -> TestResult {
    let server = TestServer::start_with(Options {
        max_body_bytes: Some(4096),
        ..Options::default()
    })
    .await?;
    let padding = "x".repeat(5000);
    let body = format!(
        r#"{{"id":"event_big","event":"custom.big","data":{{"pad":"{padding}"}},"created_at":"2026-11-02T09:00:00Z"}}"#
    );

    let (status, reply) = server.post_webhook(&body).await?;
    assert_eq!(status, 413, "{reply}");
    assert_eq!(reply["error"], "payload_too_large");

    // Without a Content-Length header the limit applies while reading.
    let header = signature::header_value(SECRET, now_ms(), body.as_bytes());
    let chunks: Vec<Result<String, std::io::Error>> = body
        .as_bytes()
        .chunks(1000)
        .map(|chunk| Ok(String::from_utf8_lossy(chunk).into_owned()))
        .collect();
    let response = server
        .client
        .post(server.url("/workos/webhook"))
        .header("WorkOS-Signature", header)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await?;
    assert_eq!(response.status(), 413);

    assert_eq!(server.db()?.count("events")?, 0);
    assert_eq!(server.db()?.count("quarantine")?, 0);
    Ok(())
}

#[tokio::test]
async fn invalid_signed_body_quarantined() -> TestResult {
    let server = TestServer::start().await?;
    let cases = [
        ("not json at all", "envelope"),
        (
            r#"{"id":"event_x","event":"user.created","data":{"id":"user_x"},"created_at":"2026-11-02T09:00:00Z"}"#,
            "user object",
        ),
        (
            r#"{"id":"event_y","event":"custom","data":{},"created_at":"next tuesday"}"#,
            "created_at",
        ),
        (
            r#"{"id":"event_z\n2026-12-04T00:00:00Z  INFO forged","event":"custom","data":{},"created_at":"2026-11-02T09:00:00Z"}"#,
            "contains the control character",
        ),
    ];

    for (index, (body, needle)) in cases.iter().enumerate() {
        let (status, reply) = server.post_webhook(body).await?;
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["error"], "invalid_event");
        assert!(
            reply["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{reply}"
        );
        assert_eq!(reply["quarantine_id"], index as i64 + 1);
    }

    let db = server.db()?;
    assert_eq!(db.count("events")?, 0);
    let quarantined = db.quarantined()?;
    assert_eq!(quarantined.len(), cases.len());
    for ((reason, raw), (body, needle)) in quarantined.iter().zip(cases) {
        assert_eq!(raw.as_slice(), body.as_bytes());
        assert!(reason.contains(needle), "{reason}");
    }
    Ok(())
}
