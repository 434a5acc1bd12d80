//! `POST /workos/action`: verify, decide with the plugins, answer signed.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::webhook::{read_body, unix_millis_now, verify_signature};
use crate::action::response_body;
use crate::plugin::ActionInput;

/// Receives one Action request.
#[tracing::instrument(skip_all, fields(action_id, kind))]
pub(super) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let actions = &state.actions;
    let Some(secret) = actions.settings().secret.clone() else {
        return Err(ApiError::ActionsDisabled);
    };
    let body = read_body(body, state.webhook.max_body_bytes)?;
    verify_signature(
        &headers,
        &body,
        &secret,
        actions.settings().tolerance,
        "action",
    )?;

    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("action body is not UTF-8 text".into()))?;
    let action = ActionInput::parse(text).map_err(|reason| {
        tracing::warn!(%reason, "rejected invalid action body");
        ApiError::BadRequest(reason)
    })?;
    let span = tracing::Span::current();
    span.record("action_id", action.id());
    span.record("kind", action.kind().as_str());

    let kind = action.kind();
    let decision = actions.decide(action).await;

    let body = response_body(kind, &decision.verdict, secret.expose(), unix_millis_now());
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}
