//! `GET /me` with AuthKit access tokens signed by keys the test generates and
//! serves from a fake WorkOS JWKS endpoint on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authkit_host::config::ServeArgs;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::SeedableRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{Options, TestResult, TestServer, user_event};

const CLIENT_ID: &str = "client_01TESTCLIENT";
const USER_ID: &str = "user_01ME";

/// An RSA key pair with the JWK of its public half.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
    modulus: Vec<u8>,
}

/// Returns the test keys `key-0`, `key-1` and `key-2`, generated once per
/// test run from fixed seeds.
fn keys() -> &'static [SigningKey] {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    KEYS.get_or_init(|| (0..3).map(generate_key).collect())
}

fn generate_key(seed: u64) -> SigningKey {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let private = rsa::PrivateKey::new(&mut rng, 2048).expect("key generation");
    let der = private.to_pkcs1_der().expect("PKCS#1 encoding");
    let kid = format!("key-{seed}");
    let jwk = json!({
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(private.n_bytes()),
        "e": URL_SAFE_NO_PAD.encode(private.e_bytes()),
    });
    SigningKey {
        kid,
        encoding: EncodingKey::from_rsa_der(der.as_bytes()),
        jwk,
        modulus: private.n_bytes().to_vec(),
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Signs `claims` with `key`, naming `kid` in the header.
fn sign_as(key: &SigningKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("signing")
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    sign_as(key, &key.kid, claims)
}

/// A fake WorkOS API that serves the JWKS of one client and counts fetches.
struct FakeJwks {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct JwksState {
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

async fn serve_jwks(State(state): State<JwksState>) -> Json<Value> {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let keys = state.keys.lock().expect("keys lock").clone();
    Json(json!({ "keys": keys }))
}

impl FakeJwks {
    async fn start(keys: &[&SigningKey]) -> TestResult<Self> {
        let state = JwksState {
            keys: Arc::new(Mutex::new(keys.iter().map(|key| key.jwk.clone()).collect())),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let router = Router::new()
            .route(&format!("/sso/jwks/{CLIENT_ID}"), get(serve_jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = signal.await;
                })
                .await;
        });
        Ok(Self {
            url,
            keys: state.keys,
            fetches: state.fetches,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn add_key(&self, key: &SigningKey) {
        self.keys.lock().expect("keys lock").push(key.jwk.clone());
    }

    /// Stops serving; connections to the port are refused afterwards.
    async fn stop(&mut self) -> TestResult {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(5), task).await??;
        }
        Ok(())
    }

    /// Returns the issuer AuthKit writes into this client's tokens.
    fn issuer(&self) -> String {
        format!("{}/user_management/{CLIENT_ID}", self.url)
    }

    fn claims(&self, user_id: &str) -> Value {
        let now = now_secs();
        json!({
            "iss": self.issuer(),
            "sub": user_id,
            "sid": "session_01ME",
            "jti": "token_01ME",
            "org_id": "org_01ME",
            "role": "admin",
            "roles": ["admin", "member"],
            "permissions": ["todos:read", "todos:write"],
            "feature_flags": ["beta-dashboard"],
            "iat": now,
            "exp": now + 300,
        })
    }
}

impl Drop for FakeJwks {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn start_server(jwks: &FakeJwks) -> TestResult<TestServer> {
    TestServer::start_with(Options {
        client_id: Some(CLIENT_ID.to_owned()),
        serve: ServeArgs {
            workos_api_url: Some(jwks.url.clone()),
            ..ServeArgs::default()
        },
        ..Options::default()
    })
    .await
}

/// The status, body and `WWW-Authenticate` header of a `GET /me`.
struct MeResponse {
    status: u16,
    body: Value,
    challenge: Option<String>,
}

async fn get_me(server: &TestServer, token: Option<&str>) -> TestResult<MeResponse> {
    let mut request = server.client.get(server.url("/me"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let body = response.json::<Value>().await?;
    Ok(MeResponse {
        status,
        body,
        challenge,
    })
}

/// Asserts a `401` with the reason code and the RFC 6750 challenge.
fn assert_rejected(response: &MeResponse, code: &str) {
    assert_eq!(response.status, 401, "{}", response.body);
    assert_eq!(response.body["error"], code, "{}", response.body);
    assert_eq!(
        response.challenge.as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
}

async fn sync_user(server: &TestServer) -> TestResult {
    let body = user_event(
        "event_me_created",
        "user.created",
        USER_ID,
        "me@example.com",
        "2026-11-02T09:00:00.000Z",
    );
    let (status, reply) = server.post_webhook(&body).await?;
    assert_eq!(status, 200, "{reply}");
    Ok(())
}

#[tokio::test]
async fn valid_token_for_each_issuer() -> TestResult {
    let jwks = FakeJwks::start(&[&keys()[0]]).await?;
    let server = start_server(&jwks).await?;
    sync_user(&server).await?;
    let issuers = [jwks.issuer(), format!("{}/", jwks.url), jwks.url.clone()];

    for issuer in issuers {
        let mut claims = jwks.claims(USER_ID);
        claims["iss"] = json!(issuer);
        let response = get_me(&server, Some(&sign(&keys()[0], &claims))).await?;

        assert_eq!(response.status, 200, "{issuer}: {}", response.body);
        let user = &response.body["user"];
        assert_eq!(user["id"], USER_ID);
        assert_eq!(user["email"], "me@example.com");
        assert_eq!(user["object"], "user");
        let session = &response.body["session"];
        assert_eq!(session["id"], "session_01ME");
        assert_eq!(session["organization_id"], "org_01ME");
        assert_eq!(session["role"], "admin");
        assert_eq!(session["roles"], json!(["admin", "member"]));
        assert_eq!(session["permissions"], json!(["todos:read", "todos:write"]));
        assert_eq!(session["feature_flags"], json!(["beta-dashboard"]));
        assert_eq!(session["entitlements"], Value::Null);
        assert_eq!(session["impersonator"], Value::Null);
        let expires_at = session["expires_at"].as_str().ok_or("no expires_at")?;
        let expires_at = chrono::DateTime::parse_from_rfc3339(expires_at)?;
        assert_eq!(expires_at.timestamp(), claims["exp"].as_i64().ok_or("exp")?);
    }
    assert_eq!(jwks.fetches(), 1);
    Ok(())
}

#[tokio::test]
async fn impersonator_returned() -> TestResult {
    let jwks = FakeJwks::start(&[&keys()[0]]).await?;
    let server = start_server(&jwks).await?;
    sync_user(&server).await?;
    let mut claims = jwks.claims(USER_ID);
    claims["act"] = json!({ "email": "support@example.com", "reason": "debugging" });

    let response = get_me(&server, Some(&sign(&keys()[0], &claims))).await?;

    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.body["session"]["impersonator"]["email"],
        "support@example.com"
    );
    Ok(())
}

#[tokio::test]
async fn unsynced_user_not_synced() -> TestResult {
    let jwks = FakeJwks::start(&[&keys()[0]]).await?;
    let server = start_server(&jwks).await?;

    let token = sign(&keys()[0], &jwks.claims("user_01NOTYET"));
    let response = get_me(&server, Some(&token)).await?;

    assert_eq!(response.status, 404, "{}", response.body);
    assert_eq!(response.body["error"], "user_not_synced");
    assert_eq!(response.body["sub"], "user_01NOTYET");
    assert_eq!(response.body["session"]["id"], "session_01ME");
    assert!(
        response.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("user_01NOTYET")
    );
    Ok(())
}

#[tokio::test]
async fn expired_and_future_tokens_rejected() -> TestResult {
    let jwks = FakeJwks::start(&[&keys()[0]]).await?;
    let server = start_server(&jwks).await?;
    sync_user(&server).await?;
    let now = now_secs();

    let mut expired = jwks.claims(USER_ID);
    expired["exp"] = json!(now - 120);
    let response = get_me(&server, Some(&sign(&keys()[0], &expired))).await?;
    assert_rejected(&response, "expired_token");

    // Within the 30-second leeway for clock skew.
    let mut just_expired = jwks.claims(USER_ID);
    just_expired["exp"] = json!(now - 5);
    let response = get_me(&server, Some(&sign(&keys()[0], &just_expired))).await?;
    assert_eq!(response.status, 200, "{}", response.body);

    let mut future = jwks.claims(USER_ID);
    future["nbf"] = json!(now + 600);
    let response = get_me(&server, Some(&sign(&keys()[0], &future))).await?;
    assert_rejected(&response, "token_not_yet_valid");

    let mut no_exp = jwks.claims(USER_ID);
    no_exp
        .as_object_mut()
        .ok_or("claims are an object")?
        .remove("exp");
    let response = get_me(&server, Some(&sign(&keys()[0], &no_exp))).await?;
    assert_rejected(&response, "invalid_token");
    Ok(())
}

#[tokio::test]
async fn wrong_key_rejected() -> TestResult {
    let jwks = FakeJwks::start(&[&keys()[0]]).await?;
    let server = start_server(&jwks).await?;
    sync_user(&server).await?;
    let claims = jwks.claims(USER_ID);

    // Signed by a key outside the JWKS, under the id of one inside it.
    let forged = sign_as(&keys()[2], &keys()[0].kid, &claims);
    let response = get_me(&server, Some(&forged)).await?;
    assert_rejected(&response, "invalid_signature");

    // Signed by a key outside the JWKS, under its own id.
    let foreign = sign(&keys()[2], &claims);
    let response = get_me(&server, Some(&foreign)).await?;
    assert_rejected(&response, "unknown_key");
    Ok(())
}

#[tokio::test]
async fn wrong_issuer_rejected() -> TestResult {
    let jwks = FakeJwks::start(&[&keys()[0]]).await?;
    let server = start_server(&jwks).await?;
    sync_user(&server).await?;

    for issuer in [
        json!("https://attacker.example.com"),
        json!(format!("{}/user_management/client_OTHER", jwks.url)),
    ] {
        let mut claims = jwks.claims(USER_ID);
        claims["iss"] = issuer.clone();
        let response = get_me(&server, Some(&sign(&keys()[0], &claims))).await?;
        assert_rejected(&response, "invalid_issuer");
    }
    Ok(())
}

#[tokio::test]
async fn unknown_kid_refetches_jwks() -> TestResult {
    let jwks = FakeJwks::start(&[&keys()[0]]).await?;
    let server = start_server(&jwks).await?;
    sync_user(&server).await?;

    let response = get_me(&server, Some(&sign(&keys()[0], &jwks.claims(USER_ID)))).await?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(jwks.fetches(), 1);

    // WorkOS rotates in a new key; the first token signed with it makes the
    // server fetch the JWKS again.
    jwks.add_key(&keys()[1]);
    let response = get_me(&server, Some(&sign(&keys()[1], &jwks.claims(USER_ID)))).await?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(jwks.fetches(), 2);

    // Made-up key ids within the cooldown cause no further fetches.
    for attempt in 0..5 {
        let token = sign_as(
            &keys()[2],
            &format!("made-up-{attempt}"),
            &jwks.claims(USER_ID),
        );
        let response = get_me(&server, Some(&token)).await?;
        assert_rejected(&response, "unknown_key");
    }
    assert_eq!(jwks.fetches(), 2);

    let response = get_me(&server, Some(&sign(&keys()[0], &jwks.claims(USER_ID)))).await?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(jwks.fetches(), 2);
    Ok(())
}

#[tokio::test]
async fn none_and_hmac_rejected() -> TestResult {
    let jwks = FakeJwks::start(&[&keys()[0]]).await?;
    let server = start_server(&jwks).await?;
    sync_user(&server).await?;
    let claims = jwks.claims(USER_ID);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());

    let none_header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"none","kid":"{}","typ":"JWT"}}"#,
        keys()[0].kid
    ));
    let unsigned = format!("{none_header}.{payload}.");
    let response = get_me(&server, Some(&unsigned)).await?;
    assert_rejected(&response, "unsupported_algorithm");

    // HS256 keyed with the public modulus, which an attacker can read from
    // the JWKS.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(keys()[0].kid.clone());
    let hmac_key = EncodingKey::from_secret(&keys()[0].modulus)?;
    let hmac = jsonwebtoken::encode(&header, &claims, &hmac_key)?;
    let response = get_me(&server, Some(&hmac)).await?;
    assert_rejected(&response, "unsupported_algorithm");

    // The algorithm is checked before any key is fetched.
    assert_eq!(jwks.fetches(), 0);
    Ok(())
}

#[tokio::test]
async fn malformed_and_missing_tokens_rejected() -> TestResult {
    let jwks = FakeJwks::start(&[&keys()[0]]).await?;
    let server = start_server(&jwks).await?;

    for token in ["not-a-jwt", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30.sig"] {
        let response = get_me(&server, Some(token)).await?;
        assert_rejected(&response, "invalid_token");
    }

    let response = get_me(&server, None).await?;
    assert_eq!(response.status, 401);
    assert_eq!(response.body["error"], "missing_token");
    assert_eq!(response.challenge.as_deref(), Some("Bearer"));
    Ok(())
}

#[tokio::test]
async fn jwks_down_keeps_cached_keys() -> TestResult {
    let mut jwks = FakeJwks::start(&[&keys()[0]]).await?;
    let server = start_server(&jwks).await?;
    sync_user(&server).await?;
    let response = get_me(&server, Some(&sign(&keys()[0], &jwks.claims(USER_ID)))).await?;
    assert_eq!(response.status, 200, "{}", response.body);

    let claims = jwks.claims(USER_ID);
    let jwks_url = format!("{}/sso/jwks/{CLIENT_ID}", jwks.url);
    jwks.stop().await?;

    let response = get_me(&server, Some(&sign(&keys()[1], &claims))).await?;
    assert_eq!(response.status, 503, "{}", response.body);
    assert_eq!(response.body["error"], "jwks_unavailable");
    let message = response.body["message"].as_str().unwrap_or_default();
    assert!(message.contains(&jwks_url), "{message}");

    let response = get_me(&server, Some(&sign(&keys()[0], &claims))).await?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["user"]["id"], USER_ID);
    Ok(())
}

#[tokio::test]
async fn me_disabled_without_client_id() -> TestResult {
    let server = TestServer::start().await?;

    let response = get_me(&server, Some("a.b.c")).await?;

    assert_eq!(response.status, 503);
    assert_eq!(response.body["error"], "access_tokens_disabled");
    let message = response.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("WORKOS_CLIENT_ID"), "{message}");
    Ok(())
}
