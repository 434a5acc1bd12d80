//! A fake WorkOS API on loopback for `backfill` and `catch-up`: the users and
//! events list endpoints with cursor pagination, a request log, injected
//! failures, and webhooks sent to a test server between pages.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::support::{SECRET, TestResult, now_ms};

/// The API key the commands are run with.
pub const API_KEY: &str = "sk_test_fake_workos";

/// The list endpoints the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Users,
    Events,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    pub endpoint: Endpoint,
    /// The page the request asked for, counting from 1, by the fake's page size.
    pub page: usize,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub received_at: Instant,
}

impl Request {
    /// Returns the values of a query parameter, in order.
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// Returns the single value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params(name).first().copied()
    }
}

/// A failure response sent instead of a page.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub retry_after: Option<String>,
}

#[derive(Default)]
struct FakeState {
    users: Vec<Value>,
    events: Vec<Value>,
    page_size: usize,
    requests: Vec<Request>,
    /// One-shot failures, by endpoint and page.
    faults: HashMap<(Endpoint, usize), Vec<Fault>>,
    /// Pages that fail every time with status 400.
    broken_pages: HashSet<(Endpoint, usize)>,
    /// Signed webhooks to POST to a server before responding to a page, once.
    webhooks_before_page: HashMap<(Endpoint, usize), Vec<(String, String)>>,
}

/// The running fake; dropping it stops it.
pub struct FakeWorkos {
    pub url: String,
    state: Arc<Mutex<FakeState>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeWorkos {
    /// Starts the fake with `page_size` objects per page.
    pub async fn start(page_size: usize) -> TestResult<Self> {
        let state = Arc::new(Mutex::new(FakeState {
            page_size,
            ..FakeState::default()
        }));
        let router = Router::new()
            .route("/user_management/users", get(list_users))
            .route("/events", get(list_events))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (shutdown, signal) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = signal.await;
                })
                .await;
        });
        Ok(Self {
            url,
            state,
            shutdown: Some(shutdown),
        })
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake state lock")
    }

    /// Appends users to the list, in the order they are listed.
    pub fn add_users(&self, users: impl IntoIterator<Item = Value>) {
        self.state().users.extend(users);
    }

    /// Appends events to the list, oldest first.
    pub fn add_events(&self, events: impl IntoIterator<Item = Value>) {
        self.state().events.extend(events);
    }

    /// Responds to the next request for a page with `fault` instead.
    pub fn fail_once(&self, endpoint: Endpoint, page: usize, fault: Fault) {
        self.state()
            .faults
            .entry((endpoint, page))
            .or_default()
            .push(fault);
    }

    /// Fails every request for a page with `400` until [`Self::repair`].
    pub fn break_page(&self, endpoint: Endpoint, page: usize) {
        self.state().broken_pages.insert((endpoint, page));
    }

    /// Serves every page again.
    pub fn repair(&self) {
        self.state().broken_pages.clear();
    }

    /// POSTs `body`, signed with the test webhook secret, to `webhook_url`
    /// before responding to the first request for a page.
    pub fn webhook_before_page(
        &self,
        endpoint: Endpoint,
        page: usize,
        webhook_url: &str,
        body: String,
    ) {
        self.state()
            .webhooks_before_page
            .entry((endpoint, page))
            .or_default()
            .push((webhook_url.to_owned(), body));
    }

    /// Returns the requests received so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }
}

impl Drop for FakeWorkos {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn list_users(
    State(state): State<Arc<Mutex<FakeState>>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    list(Endpoint::Users, state, headers, query).await
}

async fn list_events(
    State(state): State<Arc<Mutex<FakeState>>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    list(Endpoint::Events, state, headers, query).await
}

/// The response the handler chose while holding the state lock.
enum Outcome {
    Page(Value),
    Fault(Fault),
}

async fn list(
    endpoint: Endpoint,
    state: Arc<Mutex<FakeState>>,
    headers: HeaderMap,
    query: Vec<(String, String)>,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let param = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };

    let (outcome, webhooks) = {
        let mut state = state.lock().expect("fake state lock");
        let listed: Vec<Value> = match endpoint {
            Endpoint::Users => state.users.clone(),
            Endpoint::Events => filter_events(&state.events, &query),
        };

        let start = match param("after") {
            Some(after) => listed
                .iter()
                .position(|object| object["id"] == after.as_str())
                .map_or(listed.len(), |index| index + 1),
            None => match param("range_start") {
                Some(since) => listed
                    .iter()
                    .position(|object| created_at(object) >= parse_time(&since))
                    .unwrap_or(listed.len()),
                None => 0,
            },
        };
        let page = start / state.page_size + 1;
        state.requests.push(Request {
            endpoint,
            page,
            query: query.clone(),
            authorization,
            received_at: Instant::now(),
        });
        let webhooks = state
            .webhooks_before_page
            .remove(&(endpoint, page))
            .unwrap_or_default();

        let fault = state
            .faults
            .get_mut(&(endpoint, page))
            .and_then(|faults| (!faults.is_empty()).then(|| faults.remove(0)));
        let outcome = if let Some(fault) = fault {
            Outcome::Fault(fault)
        } else if state.broken_pages.contains(&(endpoint, page)) {
            Outcome::Fault(Fault {
                status: 400,
                retry_after: None,
            })
        } else {
            let end = (start + state.page_size).min(listed.len());
            let data = listed[start..end].to_vec();
            let after = (end < listed.len()).then(|| listed[end - 1]["id"].clone());
            Outcome::Page(json!({
                "object": "list",
                "data": data,
                "list_metadata": { "before": null, "after": after },
            }))
        };
        (outcome, webhooks)
    };

    for (url, body) in webhooks {
        let signature = authkit_host::signature::header_value(SECRET, now_ms(), body.as_bytes());
        let response = reqwest::Client::new()
            .post(&url)
            .header("WorkOS-Signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("webhook from the fake API");
        assert_eq!(response.status(), 200, "webhook from the fake API");
    }

    match outcome {
        Outcome::Page(page) => axum::Json(page).into_response(),
        Outcome::Fault(fault) => {
            let status = StatusCode::from_u16(fault.status).expect("valid status");
            let mut response =
                (status, axum::Json(json!({ "message": "injected failure" }))).into_response();
            if let Some(retry_after) = fault.retry_after {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_str(&retry_after).expect("valid header"),
                );
            }
            response
        }
    }
}

/// Keeps the events whose type is among the `events` parameters, if any.
fn filter_events(events: &[Value], query: &[(String, String)]) -> Vec<Value> {
    let types: Vec<&str> = query
        .iter()
        .filter(|(key, _)| key == "events")
        .map(|(_, value)| value.as_str())
        .collect();
    events
        .iter()
        .filter(|event| types.is_empty() || types.iter().any(|kind| event["event"] == *kind))
        .cloned()
        .collect()
}

fn parse_time(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339 time")
        .with_timezone(&chrono::Utc)
}

fn created_at(object: &Value) -> chrono::DateTime<chrono::Utc> {
    parse_time(
        object["created_at"]
            .as_str()
            .unwrap_or("1970-01-01T00:00:00Z"),
    )
}

/// Builds a user object as the API lists it.
pub fn user(id: &str, email: &str, updated_at: &str) -> Value {
    json!({
        "object": "user",
        "id": id,
        "email": email,
        "email_verified": true,
        "first_name": "Listed",
        "last_name": "User",
        "profile_picture_url": null,
        "last_sign_in_at": null,
        "external_id": null,
        "metadata": {},
        "created_at": "2026-10-01T00:00:00.000Z",
        "updated_at": updated_at,
        "locale": "en-US",
    })
}

/// Builds an event object as the API lists it.
pub fn event(id: &str, event_type: &str, data: Value, created_at: &str) -> Value {
    json!({
        "object": "event",
        "id": id,
        "event": event_type,
        "data": data,
        "created_at": created_at,
        "context": {},
    })
}
