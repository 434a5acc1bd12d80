//! A client for the paginated list endpoints of the WorkOS REST API, which
//! `backfill` and `catch-up` read.
//!
//! A request that fails in a way that may pass (`429`, `5xx`, `408`, a
//! connection error or timeout) is tried again, up to [`MAX_ATTEMPTS`]
//! attempts in all. After a `429` it waits for the `Retry-After` time;
//! otherwise it backs off exponentially from [`BASE_DELAY`] to [`MAX_DELAY`].

mod retry;

use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

pub use retry::{BASE_DELAY, MAX_ATTEMPTS, MAX_DELAY, MAX_RETRY_AFTER};

use crate::config::{API_KEY_VAR, Secret};
use crate::error::{Error, Result};
use crate::http::error_chain;
use retry::StatusClass;

/// How long one request may take, response body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an error response's body goes into the error message.
const MAX_ERROR_BODY_CHARS: usize = 500;

/// One page of a list endpoint. Each element is kept as its JSON text, so
/// fields this crate does not know survive into the store.
#[derive(Debug, Deserialize)]
pub struct ListPage {
    /// The page's objects, oldest first when requested with `order=asc`.
    pub data: Vec<Box<RawValue>>,
    /// The cursors around the page.
    #[serde(default)]
    pub list_metadata: ListMetadata,
}

/// The cursors of a [`ListPage`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ListMetadata {
    /// The id to pass as `after` for the next page; `None` on the last page.
    pub after: Option<String>,
    /// The id to pass as `before` for the previous page.
    pub before: Option<String>,
}

/// Reads list endpoints of the WorkOS API with an API key.
pub struct WorkosClient {
    http: reqwest::Client,
    base_url: String,
    api_key: Secret,
}

impl WorkosClient {
    /// Creates a client for the API at `base_url` (without a trailing slash).
    pub fn new(base_url: String, api_key: Secret) -> Self {
        Self {
            http: reqwest::Client::new(),
            base_url,
            api_key,
        }
    }

    /// Requests one page of the list at `path` (such as `/events`) with the
    /// given query parameters, retrying as the module documentation describes.
    pub async fn list(&self, path: &str, query: &[(&str, String)]) -> Result<ListPage> {
        let url = self.url(path, query)?;
        let mut failures = 0;

        loop {
            let (reason, wait) = match self.attempt(&url).await {
                Attempt::Page(page) => return Ok(page),
                Attempt::Failed(error) => return Err(error),
                Attempt::Retry { reason, wait } => (reason, wait),
            };

            failures += 1;
            if failures >= MAX_ATTEMPTS {
                return Err(Error::WorkosApi {
                    url: url.to_string(),
                    reason: format!("{reason}, {failures} attempts in a row; try again later"),
                });
            }
            let wait = wait.unwrap_or_else(|| retry::backoff(failures));
            tracing::warn!(
                %url,
                error = %reason,
                attempt = failures,
                wait_ms = wait.as_millis() as u64,
                "WorkOS API request failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<reqwest::Url> {
        let text = format!("{}{path}", self.base_url);
        let mut url = reqwest::Url::parse(&text).map_err(|error| Error::WorkosApi {
            url: text.clone(),
            reason: format!("invalid URL: {error}"),
        })?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(name, value)| (*name, value.as_str())));
        Ok(url)
    }

    async fn attempt(&self, url: &reqwest::Url) -> Attempt {
        let sent = self
            .http
            .get(url.clone())
            .bearer_auth(self.api_key.expose())
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                return Attempt::Retry {
                    reason: error_chain(&error),
                    wait: None,
                };
            }
        };

        let status = response.status();
        match retry::classify(status) {
            StatusClass::Success => {}
            StatusClass::RateLimited => {
                let wait = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| retry::retry_after(value, chrono::Utc::now()));
                return Attempt::Retry {
                    reason: format!("the API answered {status}"),
                    wait,
                };
            }
            StatusClass::Transient => {
                return Attempt::Retry {
                    reason: format!("the API answered {status}"),
                    wait: None,
                };
            }
            StatusClass::Permanent => {
                let body = response.text().await.unwrap_or_default();
                return Attempt::Failed(permanent_failure(url, status, &body));
            }
        }

        match response.bytes().await {
            Ok(body) => match serde_json::from_slice::<ListPage>(&body) {
                Ok(page) => Attempt::Page(page),
                Err(error) => Attempt::Failed(Error::WorkosApi {
                    url: url.to_string(),
                    reason: format!("the response is not a list page: {error}"),
                }),
            },
            // The body broke off part-way, like a dropped connection.
            Err(error) => Attempt::Retry {
                reason: error_chain(&error),
                wait: None,
            },
        }
    }
}

/// The outcome of one attempt.
enum Attempt {
    Page(ListPage),
    Failed(Error),
    /// Try again, after `wait` if the server named one.
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
}

fn permanent_failure(url: &reqwest::Url, status: reqwest::StatusCode, body: &str) -> Error {
    let body: String = body.chars().take(MAX_ERROR_BODY_CHARS).collect();
    let hint = match status.as_u16() {
        401 => format!("; check that {API_KEY_VAR} is a valid API key for this environment"),
        403 => format!("; check that the {API_KEY_VAR} key may read this resource"),
        404 => "; check --workos-api-url".to_owned(),
        _ => String::new(),
    };
    Error::WorkosApi {
        url: url.to_string(),
        reason: format!("the API answered {status}: {}{hint}", body.trim()),
    }
}
