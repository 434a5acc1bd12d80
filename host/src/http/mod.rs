//! The HTTP API: routes, shared state and the error type.

mod action;
mod error;
mod me;
mod metrics;
mod plugins;
mod users;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};

pub use error::ApiError;
pub(crate) use error::error_chain;
pub use plugins::{LoadErrorReport, PluginReport, PluginsReport};
pub(crate) use webhook::unix_millis_now;

use crate::access_token::AccessTokenVerifier;
use crate::action::ActionService;
use crate::config::{Secret, ServerConfig};
use crate::dispatch::DispatchWaker;
use crate::metrics::Metrics;
use crate::registry::PluginRegistry;
use crate::store::Store;

/// Settings the webhook endpoint checks requests against.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The signing secret.
    pub secret: Secret,
    /// How far a signature timestamp may be from now.
    pub tolerance: Duration,
    /// The largest body accepted, in bytes.
    pub max_body_bytes: usize,
}

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Durable storage.
    pub store: Arc<dyn Store>,
    /// Webhook verification settings.
    pub webhook: WebhookSettings,
    /// The bearer token for the users API, if enabled.
    pub api_token: Option<Secret>,
    /// Tells the dispatcher that a new event was stored.
    pub dispatch: DispatchWaker,
    /// Decides Actions.
    pub actions: Arc<ActionService>,
    /// Verifies the access tokens `/me` is called with; `None` when no
    /// JWKS is configured, which disables `/me`.
    pub access_tokens: Option<Arc<AccessTokenVerifier>>,
    /// The loaded plugins.
    pub registry: Arc<PluginRegistry>,
    /// The counters and histograms `/metrics` renders.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Builds the state from resolved settings and an open store.
    pub fn new(
        store: Arc<dyn Store>,
        dispatch: DispatchWaker,
        actions: Arc<ActionService>,
        registry: Arc<PluginRegistry>,
        metrics: Arc<Metrics>,
        config: &ServerConfig,
    ) -> Self {
        Self {
            store,
            dispatch,
            actions,
            registry,
            metrics,
            webhook: WebhookSettings {
                secret: config.secrets.webhook_secret.clone(),
                tolerance: config.webhook_tolerance,
                max_body_bytes: config.max_body_bytes,
            },
            api_token: config.secrets.api_token.clone(),
            access_tokens: config.jwks_url.clone().map(|jwks_url| {
                Arc::new(AccessTokenVerifier::new(jwks_url, &config.token_issuers))
            }),
        }
    }
}

/// Builds the router with every route.
pub fn router(state: AppState) -> Router {
    let users = Router::new()
        .route("/users", get(users::find_by_query))
        .route("/users/{id}", get(users::get_by_id))
        .route("/plugins", get(plugins::list))
        .route("/metrics", get(metrics::render))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            users::require_api_token,
        ));

    let workos = Router::new()
        .route("/workos/webhook", post(webhook::receive))
        .route("/workos/action", post(action::receive))
        .layer(DefaultBodyLimit::max(state.webhook.max_body_bytes));

    Router::new()
        .merge(workos)
        .merge(users)
        .route("/me", get(me::current_user))
        .route("/healthz", get(health))
        .fallback(not_found)
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.store.check_health().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(error) => {
            tracing::error!(error = %error_chain(&error), "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}
