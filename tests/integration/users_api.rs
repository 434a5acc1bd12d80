//! The users API: bearer token, lookups and absent users.

use crate::support::{API_TOKEN, Options, TestResult, TestServer, delete_event, sample_events};

const MARTA: &str = "user_01JD4M7Q2S8X5K9B3N6P0R1T2V";

async fn server_with_samples() -> TestResult<TestServer> {
    let server = TestServer::start().await?;
    for (_, body) in sample_events()? {
        server.post_webhook(&body).await?;
    }
    Ok(server)
}

#[tokio::test]
async fn lookups_return_wire_format() -> TestResult {
    let server = server_with_samples().await?;
    let paths = [
        format!("/users/{MARTA}"),
        "/users?external_id=crm-88412".to_owned(),
        "/users?email=marta.k%40example.com".to_owned(),
        "/users?email=MARTA.K%40EXAMPLE.COM".to_owned(),
    ];

    for path in paths {
        let (status, user) = server.get_with_token(&path).await?;
        assert_eq!(status, 200, "{path}: {user}");
        assert_eq!(user["object"], "user");
        assert_eq!(user["id"], MARTA);
        assert_eq!(user["locale"], "pl-PL");
        assert_eq!(user["metadata"]["plan"], "team");
        assert_eq!(user["updated_at"], "2026-11-02T09:15:40.601Z");
    }
    Ok(())
}

#[tokio::test]
async fn absent_and_deleted_users_not_found() -> TestResult {
    let server = server_with_samples().await?;
    let paths = [
        "/users/user_nobody",
        "/users/user_01JD4MF0A9B8C7D6E5F4G3H2J1",
        "/users?email=dev.tester%40gmail.com",
        "/users?external_id=missing",
    ];

    for path in paths {
        let (status, reply) = server.get_with_token(path).await?;
        assert_eq!(status, 404, "{path}: {reply}");
        assert_eq!(reply["error"], "not_found");
    }
    Ok(())
}

#[tokio::test]
async fn deleted_after_lookup_not_found() -> TestResult {
    let server = server_with_samples().await?;
    let path = format!("/users/{MARTA}");
    assert_eq!(server.get_with_token(&path).await?.0, 200);

    server
        .post_webhook(&delete_event(
            "event_delete_marta",
            MARTA,
            "2026-11-03T00:00:00Z",
        ))
        .await?;

    assert_eq!(server.get_with_token(&path).await?.0, 404);
    Ok(())
}

#[tokio::test]
async fn bad_queries_rejected() -> TestResult {
    let server = server_with_samples().await?;
    let paths = [
        "/users",
        "/users?email=",
        "/users?email=a%40example.com&external_id=x",
        "/users?name=marta",
    ];

    for path in paths {
        let (status, reply) = server.get_with_token(path).await?;
        assert_eq!(status, 400, "{path}: {reply}");
        assert_eq!(reply["error"], "bad_request");
    }
    Ok(())
}

#[tokio::test]
async fn token_required() -> TestResult {
    let server = server_with_samples().await?;
    let url = server.url(&format!("/users/{MARTA}"));

    let missing = server.client.get(&url).send().await?;
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");

    let wrong = server
        .client
        .get(&url)
        .bearer_auth("not-the-token")
        .send()
        .await?;
    assert_eq!(wrong.status(), 401);

    let prefix = server
        .client
        .get(&url)
        .bearer_auth(&API_TOKEN[..5])
        .send()
        .await?;
    assert_eq!(prefix.status(), 401);

    let basic = server
        .client
        .get(&url)
        .header("authorization", format!("Basic {API_TOKEN}"))
        .send()
        .await?;
    assert_eq!(basic.status(), 401);

    let right = server
        .client
        .get(&url)
        .bearer_auth(API_TOKEN)
        .send()
        .await?;
    assert_eq!(right.status(), 200);
    Ok(())
}

#[tokio::test]
async fn disabled_without_token() -> TestResult {
    let server = TestServer::start_with(Options {
        api_token: None,
        ..Options::default()
    })
    .await?;

    let response = server
        .client
        .get(server.url("/users/user_1"))
        .bearer_auth("anything")
        .send()
        .await?;

    assert_eq!(response.status(), 403);
    let reply: serde_json::Value = response.json().await?;
    assert!(
        reply["message"]
            .as_str()
            .unwrap_or_default()
            .contains("AUTHKIT_API_TOKEN"),
        "{reply}"
    );
    Ok(())
}

#[tokio::test]
async fn health_and_unknown_routes() -> TestResult {
    let server = TestServer::start().await?;

    let health = server.client.get(server.url("/healthz")).send().await?;
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<serde_json::Value>().await?["status"], "ok");

    let missing = server.client.get(server.url("/nowhere")).send().await?;
    assert_eq!(missing.status(), 404);
    Ok(())
}
