//! The users table under repeats, reordering and deletes.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::support::{TestResult, TestServer, delete_event, user_event};

#[tokio::test]
async fn older_update_ignored() -> TestResult {
    let server = TestServer::start().await?;
    let newer = user_event(
        "event_2",
        "user.updated",
        "user_o",
        "new@example.com",
        "2026-11-02T10:00:00Z",
    );
    let older = user_event(
        "event_1",
        "user.created",
        "user_o",
        "old@example.com",
        "2026-11-02T09:00:00Z",
    );

    for body in [&newer, &older] {
        let (status, reply) = server.post_webhook(body).await?;
        assert_eq!(status, 200, "{reply}");
    }

    let user = server.db()?.user("user_o")?.ok_or("user missing")?;
    assert_eq!(user["email"], "new@example.com");
    assert_eq!(server.db()?.count("events")?, 2);
    Ok(())
}

#[tokio::test]
async fn equal_updated_at_keeps_first() -> TestResult {
    let server = TestServer::start().await?;
    let first = user_event(
        "event_a",
        "user.updated",
        "user_e",
        "first@example.com",
        "2026-11-02T09:00:00Z",
    );
    let second = user_event(
        "event_b",
        "user.updated",
        "user_e",
        "second@example.com",
        "2026-11-02T09:00:00Z",
    );

    server.post_webhook(&first).await?;
    server.post_webhook(&second).await?;

    let user = server.db()?.user("user_e")?.ok_or("user missing")?;
    assert_eq!(user["email"], "first@example.com");
    Ok(())
}

#[tokio::test]
async fn timestamps_compared_as_instants() -> TestResult {
    let server = TestServer::start().await?;
    // As text "2026-11-02 09:30:00" sorts before "2026-11-02T10:00:00+01:00",
    // but as instants it is 30 minutes later.
    let earlier = user_event(
        "event_z",
        "user.updated",
        "user_i",
        "zone@example.com",
        "2026-11-02T10:00:00+01:00",
    );
    let later = user_event(
        "event_s",
        "user.updated",
        "user_i",
        "space@example.com",
        "2026-11-02 09:30:00",
    );

    server.post_webhook(&later).await?;
    server.post_webhook(&earlier).await?;

    let user = server.db()?.user("user_i")?.ok_or("user missing")?;
    assert_eq!(user["email"], "space@example.com");
    Ok(())
}

#[tokio::test]
async fn delete_before_create_stays_deleted() -> TestResult {
    let server = TestServer::start().await?;
    let delete = delete_event("event_del", "user_d", "2026-11-02T12:00:00Z");
    let create = user_event(
        "event_cre",
        "user.created",
        "user_d",
        "d@example.com",
        "2026-11-02T09:00:00Z",
    );
    let update = user_event(
        "event_upd",
        "user.updated",
        "user_d",
        "d2@example.com",
        "2026-11-02T13:00:00Z",
    );

    for body in [&delete, &create, &update] {
        let (status, reply) = server.post_webhook(body).await?;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["status"], "stored");
    }

    let db = server.db()?;
    assert_eq!(db.user("user_d")?, None);
    assert!(db.has_tombstone("user_d")?);
    assert_eq!(db.count("events")?, 3);
    Ok(())
}

#[tokio::test]
async fn delete_removes_live_user() -> TestResult {
    let server = TestServer::start().await?;
    let create = user_event(
        "event_c1",
        "user.created",
        "user_l",
        "l@example.com",
        "2026-11-02T09:00:00Z",
    );
    let trimmed_delete = r#"{"object":"event","id":"event_d1","event":"user.deleted","data":{"object":"user","id":"user_l","email":"l@example.com"},"created_at":"2026-11-02T12:00:00.000Z"}"#;

    server.post_webhook(&create).await?;
    assert!(server.db()?.user("user_l")?.is_some());
    let (status, reply) = server.post_webhook(trimmed_delete).await?;

    assert_eq!(status, 200, "{reply}");
    assert_eq!(server.db()?.user("user_l")?, None);
    assert!(server.db()?.has_tombstone("user_l")?);
    Ok(())
}

#[tokio::test]
async fn unknown_user_fields_kept() -> TestResult {
    let server = TestServer::start().await?;
    let body = r#"{"object":"event","id":"event_f","event":"user.created","data":{"object":"user","id":"user_f","email":"f@example.com","email_verified":false,"first_name":null,"last_name":null,"profile_picture_url":null,"last_sign_in_at":null,"metadata":{"tier":"gold"},"created_at":"2026-11-02T09:00:00Z","updated_at":"2026-11-02T09:00:00Z","brand_new_field":{"nested":[1,2,3]}},"created_at":"2026-11-02T09:00:00Z"}"#;

    server.post_webhook(body).await?;

    let user = server.db()?.user("user_f")?.ok_or("user missing")?;
    assert_eq!(user["brand_new_field"]["nested"][2], 3);
    assert_eq!(user["metadata"]["tier"], "gold");
    Ok(())
}

/// One generated delivery stream for a single user.
#[derive(Debug, Clone)]
struct Stream {
    /// Distinct minute offsets: the `updated_at` of each version.
    versions: Vec<u32>,
    /// The order deliveries arrive in, as indexes into `versions`, with repeats.
    deliveries: Vec<usize>,
    /// Where in the deliveries a delete arrives, if one does.
    delete_at: Option<usize>,
}

fn stream_strategy() -> impl Strategy<Value = Stream> {
    proptest::collection::btree_set(0u32..10_000, 1..8)
        .prop_flat_map(|versions| {
            let versions: Vec<u32> = versions.into_iter().collect();
            let count = versions.len();
            let repeats = proptest::collection::vec(0..count, 0..6);
            (
                Just(versions),
                repeats,
                any::<prop::sample::Index>(),
                any::<bool>(),
            )
        })
        .prop_flat_map(|(versions, repeats, delete_index, with_delete)| {
            let mut deliveries: Vec<usize> = (0..versions.len()).collect();
            deliveries.extend(repeats);
            let total = deliveries.len();
            (
                Just(versions),
                Just(deliveries).prop_shuffle(),
                Just(with_delete.then(|| delete_index.index(total + 1))),
            )
        })
        .prop_map(|(versions, deliveries, delete_at)| Stream {
            versions,
            deliveries,
            delete_at,
        })
}

/// Renders minutes past 2026-11-02T00:00:00Z, in the zone-less form or with
/// `T` and `Z`, so both forms take part in the comparison.
fn render_updated_at(minutes: u32, zoneless: bool) -> String {
    let day = 2 + minutes / (24 * 60);
    let hour = (minutes / 60) % 24;
    let minute = minutes % 60;
    if zoneless {
        format!("2026-11-{day:02} {hour:02}:{minute:02}:00.000")
    } else {
        format!("2026-11-{day:02}T{hour:02}:{minute:02}:00.000Z")
    }
}

#[test]
fn shuffled_streams_converge_to_newest() -> TestResult {
    let runtime = tokio::runtime::Runtime::new()?;
    let server = runtime.block_on(TestServer::start())?;
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        ..Config::default()
    });
    let case_number = std::sync::atomic::AtomicU32::new(0);

    let result = runner.run(&stream_strategy(), |stream| {
        let case = case_number.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let user_id = format!("user_prop_{case}");
        runtime
            .block_on(check_stream(&server, &user_id, &stream))
            .map_err(|error| TestCaseError::fail(error.to_string()))
    });

    runtime.block_on(async move {
        let mut server = server;
        server.stop().await
    })?;
    result.map_err(|error| error.to_string().into())
}

async fn check_stream(server: &TestServer, user_id: &str, stream: &Stream) -> TestResult {
    let body_of = |index: usize| {
        let minutes = stream.versions[index];
        user_event(
            &format!("event_{user_id}_{index}"),
            if index == 0 {
                "user.created"
            } else {
                "user.updated"
            },
            user_id,
            &format!("v{minutes}@example.com"),
            &render_updated_at(minutes, minutes.is_multiple_of(2)),
        )
    };
    let delete = delete_event(
        &format!("event_{user_id}_delete"),
        user_id,
        "2026-12-01T00:00:00Z",
    );

    for (position, &index) in stream.deliveries.iter().enumerate() {
        if stream.delete_at == Some(position) {
            server.post_webhook(&delete).await?;
        }
        let (status, reply) = server.post_webhook(&body_of(index)).await?;
        if status != 200 {
            return Err(format!("delivery answered {status}: {reply}").into());
        }
    }
    if stream.delete_at == Some(stream.deliveries.len()) {
        server.post_webhook(&delete).await?;
    }

    let stored = server.db()?.user(user_id)?;
    let expected = match stream.delete_at {
        Some(_) => None,
        None => {
            let newest = stream.versions.iter().max().ok_or("no versions")?;
            Some(format!("v{newest}@example.com"))
        }
    };
    let actual = stored.map(|user| user["email"].as_str().unwrap_or_default().to_owned());
    if actual != expected {
        return Err(format!("stream {stream:?}: stored {actual:?}, expected {expected:?}").into());
    }
    Ok(())
}
