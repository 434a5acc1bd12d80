//! A restart keeps every event, user, tombstone and quarantined body.

use crate::support::{TestResult, TestServer, sample_events, user_event};

#[tokio::test]
async fn restart_keeps_everything() -> TestResult {
    let server = TestServer::start().await?;
    let samples = sample_events()?;
    for (_, body) in &samples {
        server.post_webhook(body).await?;
    }
    server.post_webhook("signed but not an event").await?;

    let server = server.restart().await?;

    let db = server.db()?;
    assert_eq!(db.count("events")?, 9);
    assert_eq!(db.count("users")?, 1);
    assert_eq!(db.count("quarantine")?, 1);
    assert!(db.has_tombstone("user_01JD4MF0A9B8C7D6E5F4G3H2J1")?);
    let (status, _) = server
        .get_with_token("/users/user_01JD4M7Q2S8X5K9B3N6P0R1T2V")
        .await?;
    assert_eq!(status, 200);

    // Idempotency and tombstones survive the restart too.
    for (name, body) in &samples {
        let (status, reply) = server.post_webhook(body).await?;
        assert_eq!(status, 200, "{name}");
        assert_eq!(reply["status"], "duplicate", "{name}");
    }
    let late_create = user_event(
        "event_late",
        "user.created",
        "user_01JD4MF0A9B8C7D6E5F4G3H2J1",
        "dev.tester@gmail.com",
        "2026-11-02T10:01:00.000Z",
    );
    server.post_webhook(&late_create).await?;
    assert_eq!(server.db()?.user("user_01JD4MF0A9B8C7D6E5F4G3H2J1")?, None);
    assert_eq!(server.db()?.count("events")?, 10);
    Ok(())
}
