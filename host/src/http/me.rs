//! `GET /me`: the user an AuthKit access token belongs to, with the facts
//! of its session, for an application that has the user's access token.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::AppState;
use super::error::ApiError;
use super::users::bearer_token;
use crate::access_token::{SessionFacts, TokenError};
use crate::store::UserLookup;

/// The body of a `200`: the stored user object exactly as WorkOS sent it.
#[derive(Serialize)]
struct CurrentUser<'a> {
    user: &'a RawValue,
    session: &'a SessionFacts,
}

/// Verifies the bearer access token and returns its user and session.
///
/// A valid token whose user is not in the users table yet (its
/// `user.created` webhook has not arrived) gets `404` with
/// `"error": "user_not_synced"`, the token's `sub` and the session facts.
pub(super) async fn current_user(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(verifier) = &state.access_tokens else {
        return Err(ApiError::AccessTokensDisabled);
    };
    let token = bearer_token(&headers).ok_or(TokenError::Missing)?;

    let verified = verifier.verify(token).await.inspect_err(|error| {
        tracing::debug!(reason = error.code(), "rejected access token");
    })?;

    let user = state
        .store
        .find_user(UserLookup::Id(verified.subject.clone()))
        .await?;
    let Some(user) = user else {
        let body = json!({
            "error": "user_not_synced",
            "message": format!(
                "the access token is valid, but user {} is not in the users table yet; \
                 it appears when its user.created webhook arrives or `authkit-host backfill` runs",
                verified.subject
            ),
            "sub": verified.subject,
            "session": verified.session,
        });
        return Ok((StatusCode::NOT_FOUND, Json(body)).into_response());
    };

    // The stored text was validated as a user object before it was stored.
    let raw = RawValue::from_string(user.raw).map_err(|error| {
        ApiError::Internal(crate::error::Error::Corrupt {
            what: format!("stored user {}", verified.subject),
            reason: error.to_string(),
        })
    })?;
    Ok(Json(CurrentUser {
        user: &raw,
        session: &verified.session,
    })
    .into_response())
}
