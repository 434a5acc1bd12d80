//! `GET /users/{id}` and `GET /users?external_id=…|email=…`: the synced users,
//! for the application's backend, behind a bearer token.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::store::UserLookup;
use crate::user::User;

/// The 403 message when no token is configured; it names the variable to set.
const DISABLED_MESSAGE: &str = "this route is disabled because no API token is configured; \
     set AUTHKIT_API_TOKEN and send it as 'Authorization: Bearer <token>'";

/// Query parameters of `GET /users`; exactly one must be given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserQuery {
    external_id: Option<String>,
    email: Option<String>,
}

/// Rejects requests without the configured API bearer token.
pub(super) async fn require_api_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(expected) = &state.api_token else {
        return Err(ApiError::Disabled(DISABLED_MESSAGE));
    };

    let presented = bearer_token(request.headers()).ok_or(ApiError::Unauthorized(
        "missing bearer token; send 'Authorization: Bearer <token>'",
    ))?;
    let matches: bool = presented
        .as_bytes()
        .ct_eq(expected.expose().as_bytes())
        .into();
    if !matches {
        tracing::warn!("rejected request with a wrong API token");
        return Err(ApiError::Unauthorized("invalid bearer token"));
    }

    Ok(next.run(request).await)
}

/// Returns the token of an `Authorization: Bearer <token>` header.
pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Returns the user with a WorkOS id.
pub(super) async fn get_by_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    find(&state, UserLookup::Id(id)).await
}

/// Returns the user with an external id or email address.
pub(super) async fn find_by_query(
    State(state): State<AppState>,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::BadRequest(format!(
            "{}; use ?external_id=<id> or ?email=<address>",
            rejection.body_text()
        ))
    })?;

    let lookup = match (query.external_id, query.email) {
        (Some(external_id), None) if !external_id.is_empty() => UserLookup::ExternalId(external_id),
        (None, Some(email)) if !email.is_empty() => UserLookup::Email(email),
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one non-empty query parameter: external_id or email".into(),
            ));
        }
    };
    find(&state, lookup).await
}

async fn find(state: &AppState, lookup: UserLookup) -> Result<Response, ApiError> {
    let description = match &lookup {
        UserLookup::Id(id) => format!("no user with id {id:?}"),
        UserLookup::Email(email) => format!("no user with email {email:?}"),
        UserLookup::ExternalId(external_id) => format!("no user with external_id {external_id:?}"),
    };

    let user: User = state
        .store
        .find_user(lookup)
        .await?
        .ok_or(ApiError::NotFound(description))?;

    Ok(([(header::CONTENT_TYPE, "application/json")], user.raw).into_response())
}
