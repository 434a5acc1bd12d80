//! The HTTP layer's error type: each variant maps to one status code.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::access_token::TokenError;
use crate::signature::SignatureError;

/// A request that could not be served, rendered as
/// `{"error": "<code>", "message": "<text>"}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The webhook or action signature failed a check.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The access token sent to `/me` was rejected, or its signing keys
    /// cannot be fetched.
    #[error(transparent)]
    AccessToken(#[from] TokenError),
    /// Neither a client id nor a JWKS URL is configured, so access tokens
    /// cannot be verified.
    #[error(
        "/me is disabled because WORKOS_CLIENT_ID is not set; set it to your WorkOS client id (client_…), or set --jwks-url"
    )]
    AccessTokensDisabled,
    /// The body is larger than the configured limit.
    #[error("request body exceeds the {limit}-byte limit set by --max-body-bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No Actions secret is configured.
    #[error(
        "Actions are disabled because WORKOS_ACTION_SECRET is not set; set it to the secret of your Actions endpoint in the WorkOS dashboard"
    )]
    ActionsDisabled,
    /// The signed body is not a valid event; it was quarantined.
    #[error("invalid event: {reason}; the body was kept as quarantine entry {quarantine_id}")]
    InvalidEvent {
        /// What is wrong with the body.
        reason: String,
        /// Where the body was kept.
        quarantine_id: i64,
    },
    /// The request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The API bearer token is missing or wrong.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The route is disabled by configuration.
    #[error("{0}")]
    Disabled(&'static str),
    /// The requested resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The server cannot serve the request now; the client should retry.
    #[error("service unavailable; retry later")]
    Unavailable,
    /// An unexpected failure; details go to the log, not the client.
    #[error("internal error")]
    Internal(#[source] crate::error::Error),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Signature(_) | ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::AccessToken(error) if error.is_unavailable() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::AccessToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::AccessTokensDisabled => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ActionsDisabled => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InvalidEvent { .. } | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Disabled(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Signature(error) => error.code(),
            ApiError::AccessToken(error) => error.code(),
            ApiError::AccessTokensDisabled => "access_tokens_disabled",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::ActionsDisabled => "actions_disabled",
            ApiError::InvalidEvent { .. } => "invalid_event",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Disabled(_) => "disabled",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<crate::error::Error> for ApiError {
    fn from(error: crate::error::Error) -> Self {
        match error {
            crate::error::Error::StoreClosed | crate::error::Error::Commit { .. } => {
                tracing::error!(error = %error, "storage unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(error) = &self {
            tracing::error!(error = %error_chain(error), "request failed");
        }

        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        if let ApiError::InvalidEvent { quarantine_id, .. } = &self {
            body["quarantine_id"] = json!(quarantine_id);
        }

        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized(_)) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::AccessToken(error) = &self {
            // RFC 6750: no error code when no token was sent.
            let challenge = match error {
                TokenError::Missing => Some("Bearer"),
                TokenError::KeysUnavailable { .. } => None,
                _ => Some(r#"Bearer error="invalid_token""#),
            };
            if let Some(challenge) = challenge {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
        }
        response
    }
}

/// Formats an error and its sources as one line.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    crate::error::error_messages(error).join(": ")
}
