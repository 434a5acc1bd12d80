//! `POST /workos/webhook`: verify, store, acknowledge.
//!
//! The order matters: the size limit, then the signature over the raw bytes,
//! then parsing. Only a durable write earns a 2xx, and no handler runs here;
//! plugins receive the event later from the store.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use crate::config::Secret;
use crate::event::Event;
use crate::metrics::WebhookOutcome;
use crate::signature::{self, SIGNATURE_HEADER, SignatureError};
use crate::store::IngestOutcome;

/// Receives one webhook delivery and counts how it ended.
#[tracing::instrument(skip_all, fields(event_id, event_type))]
pub(super) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let started = Instant::now();

    let result = ingest(&state, &headers, body).await;

    let outcome = match &result {
        Ok((outcome, _)) => *outcome,
        Err(ApiError::Signature(_)) => WebhookOutcome::Unauthorized,
        Err(ApiError::PayloadTooLarge { .. }) => WebhookOutcome::TooLarge,
        Err(ApiError::InvalidEvent { .. } | ApiError::BadRequest(_)) => WebhookOutcome::Invalid,
        Err(_) => WebhookOutcome::Error,
    };
    state.metrics.record_webhook(outcome, started.elapsed());

    let (outcome, event_id) = result?;
    let status = match outcome {
        WebhookOutcome::Duplicate => "duplicate",
        _ => "stored",
    };
    Ok((
        StatusCode::OK,
        Json(json!({ "status": status, "event_id": event_id })),
    ))
}

/// Verifies, parses and stores one webhook body. Returns whether the event
/// was stored or a duplicate, and its id.
async fn ingest(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(WebhookOutcome, String), ApiError> {
    let body = read_body(body, state.webhook.max_body_bytes)?;
    verify_signature(
        headers,
        &body,
        &state.webhook.secret,
        state.webhook.tolerance,
        "webhook",
    )?;

    let event = match Event::parse(body.clone()) {
        Ok(event) => event,
        Err(reason) => {
            let quarantine_id = state.store.quarantine(body, reason.clone()).await?;
            tracing::warn!(%reason, quarantine_id, "quarantined invalid webhook body");
            return Err(ApiError::InvalidEvent {
                reason,
                quarantine_id,
            });
        }
    };

    let span = tracing::Span::current();
    span.record("event_id", event.id.as_str());
    span.record("event_type", event.event_type.as_str());
    let event_id = event.id.clone();

    let outcome = match state.store.ingest(event).await? {
        IngestOutcome::Stored {
            sequence,
            user_effect,
        } => {
            tracing::info!(sequence, user_effect = user_effect.as_str(), "stored event");
            state.dispatch.wake();
            WebhookOutcome::Stored
        }
        IngestOutcome::Duplicate => {
            tracing::debug!("duplicate event ignored");
            WebhookOutcome::Duplicate
        }
    };
    Ok((outcome, event_id))
}

/// Turns the body extractor's rejection into an API error: 413 past the
/// route's size limit, 400 when the body cannot be read at all.
pub(super) fn read_body(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            tracing::warn!(limit, "rejected oversized request body");
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::BadRequest(format!("cannot read request body: {rejection}"))
        }
    })
}

/// Verifies the `WorkOS-Signature` header of a webhook or action request.
pub(super) fn verify_signature(
    headers: &HeaderMap,
    body: &[u8],
    secret: &Secret,
    tolerance: Duration,
    endpoint: &'static str,
) -> Result<(), ApiError> {
    let header =
        match headers.get(SIGNATURE_HEADER) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| {
                SignatureError::Malformed("header is not visible ASCII text".into())
            })?),
        };

    let result = signature::verify(header, body, secret.expose(), tolerance, unix_millis_now());
    if let Err(error) = &result {
        tracing::warn!(endpoint, check = error.code(), %error, "rejected request signature");
    }
    result.map(|_| ()).map_err(ApiError::from)
}

/// Returns the current Unix time in milliseconds.
pub(crate) fn unix_millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}
