//! `GET /metrics`: the server's metrics in the Prometheus text format,
//! behind the API token like the other operator routes.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::metrics::CONTENT_TYPE;

/// Renders every metric, with the queue depth read from the store now.
pub(super) async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    let queue = state.store.queue_depth().await?;
    let loaded: Vec<String> = state
        .registry
        .status()
        .iter()
        .map(|loaded| loaded.plugin.info.name.clone())
        .collect();

    let text = state.metrics.render(&queue, &loaded);
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}
