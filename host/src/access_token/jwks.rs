//! The signing keys of access tokens, fetched from a JWKS URL and cached.
//!
//! Keys are fetched on first use and again once they are older than
//! [`MAX_KEY_AGE`]. A token whose `kid` is not among fresh keys triggers a
//! refetch, at most once per [`REFETCH_COOLDOWN`], so tokens with made-up key
//! ids cannot turn into a stream of requests to the JWKS. After a failed
//! fetch the keys fetched before keep working, and no fetch is tried for
//! [`REFETCH_COOLDOWN`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use serde::Deserialize;

use crate::http::error_chain;

/// The shortest time between two fetches made for unknown key ids, and
/// between a failed fetch and the next attempt.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// How long fetched keys are used before they are fetched again, so a key
/// WorkOS removes from the JWKS stops being accepted.
pub const MAX_KEY_AGE: Duration = Duration::from_secs(60 * 60);
/// How long one JWKS request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The reason no key was returned for a key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The JWKS, fetched recently, has no usable key with this id.
    Unknown,
    /// The JWKS could not be fetched and no key with this id is cached.
    Unavailable {
        /// The JWKS URL.
        url: String,
        /// The last fetch failure.
        reason: String,
    },
}

/// A source of key sets. [`HttpKeySource`] fetches them over HTTP.
#[async_trait]
pub(crate) trait KeySource: Send + Sync {
    /// Fetches the current keys, or returns the reason they could not be
    /// fetched.
    async fn fetch(&self) -> Result<Vec<Jwk>, String>;

    /// Returns the URL the keys come from, for messages.
    fn url(&self) -> &str;
}

/// Fetches a JWKS document over HTTP.
pub(crate) struct HttpKeySource {
    client: reqwest::Client,
    url: String,
}

impl HttpKeySource {
    pub(crate) fn new(url: String) -> Self {
        Self {
            client: reqwest::Client::new(),
            url,
        }
    }
}

/// A JWKS document whose keys are parsed one by one, so one key of a kind
/// this crate cannot read does not hide the others.
#[derive(Deserialize)]
struct KeySetDocument {
    keys: Vec<serde_json::Value>,
}

#[async_trait]
impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<Vec<Jwk>, String> {
        let response = self
            .client
            .get(&self.url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|error| error_chain(&error))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the JWKS server answered {status}"));
        }
        let document: KeySetDocument = response
            .json()
            .await
            .map_err(|error| format!("the response is not a JWKS: {}", error_chain(&error)))?;

        let mut keys = Vec::with_capacity(document.keys.len());
        for value in document.keys {
            match serde_json::from_value::<Jwk>(value) {
                Ok(key) => keys.push(key),
                Err(error) => {
                    tracing::debug!(url = %self.url, %error, "skipped an unreadable JWKS key")
                }
            }
        }
        Ok(keys)
    }

    fn url(&self) -> &str {
        &self.url
    }
}

/// The cached keys and the times of recent fetches.
#[derive(Default)]
struct CacheState {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// When the keys were last fetched successfully.
    fetched_at: Option<Instant>,
    /// When a fetch was last made because a key id was unknown.
    refetched_at: Option<Instant>,
    /// When the last fetch failed, and why, until a fetch succeeds.
    failure: Option<(Instant, String)>,
}

/// The intervals that limit fetches; [`Timing::DEFAULT`] outside tests.
#[derive(Debug, Clone, Copy)]
struct Timing {
    refetch_cooldown: Duration,
    max_key_age: Duration,
}

impl Timing {
    const DEFAULT: Self = Self {
        refetch_cooldown: REFETCH_COOLDOWN,
        max_key_age: MAX_KEY_AGE,
    };
}

/// The next step of a lookup, decided while holding the state lock.
enum Step {
    Use(Arc<DecodingKey>),
    Fail(KeyError),
    /// Fetch the keys; `stale` is the cached key to fall back on if the
    /// fetch fails.
    Fetch {
        stale: Option<Arc<DecodingKey>>,
    },
}

/// The cached RS256 signing keys of one JWKS, by key id.
pub(crate) struct KeyCache {
    source: Box<dyn KeySource>,
    timing: Timing,
    state: Mutex<CacheState>,
    /// Held while fetching, so concurrent lookups share one fetch.
    fetching: tokio::sync::Mutex<()>,
}

impl KeyCache {
    pub(crate) fn new(source: Box<dyn KeySource>) -> Self {
        Self::with_timing(source, Timing::DEFAULT)
    }

    fn with_timing(source: Box<dyn KeySource>, timing: Timing) -> Self {
        Self {
            source,
            timing,
            state: Mutex::new(CacheState::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Returns the URL the keys come from.
    pub(crate) fn url(&self) -> &str {
        self.source.url()
    }

    /// Returns the key with id `kid`, fetching the key set when it is
    /// missing, stale or lacks the id, within the limits in the module
    /// documentation.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        if let Some(key) = self.fresh_key(kid) {
            return Ok(key);
        }

        // Another lookup may have fetched the keys while this one waited.
        let _fetching = self.fetching.lock().await;
        let stale = match self.next_step(kid) {
            Step::Use(key) => return Ok(key),
            Step::Fail(error) => return Err(error),
            Step::Fetch { stale } => stale,
        };

        let fetched = self.source.fetch().await;
        self.record_fetch(kid, fetched, stale)
    }

    fn fresh_key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        let state = self.state.lock().ok()?;
        let fresh = state
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.timing.max_key_age);
        state.keys.get(kid).filter(|_| fresh).cloned()
    }

    fn next_step(&self, kid: &str) -> Step {
        let Ok(mut state) = self.state.lock() else {
            return Step::Fetch { stale: None };
        };
        let cached = state.keys.get(kid).cloned();
        let fresh = state
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.timing.max_key_age);

        if let (Some(key), true) = (&cached, fresh) {
            return Step::Use(Arc::clone(key));
        }
        if let Some((failed_at, reason)) = &state.failure
            && failed_at.elapsed() < self.timing.refetch_cooldown
        {
            return match cached {
                Some(key) => Step::Use(key),
                None => Step::Fail(KeyError::Unavailable {
                    url: self.source.url().to_owned(),
                    reason: reason.clone(),
                }),
            };
        }
        if fresh {
            // The keys are fresh and lack this id: refetch, unless a
            // refetch happened within the cooldown.
            if state
                .refetched_at
                .is_some_and(|at| at.elapsed() < self.timing.refetch_cooldown)
            {
                return Step::Fail(KeyError::Unknown);
            }
            state.refetched_at = Some(Instant::now());
        }
        Step::Fetch { stale: cached }
    }

    fn record_fetch(
        &self,
        kid: &str,
        fetched: Result<Vec<Jwk>, String>,
        stale: Option<Arc<DecodingKey>>,
    ) -> Result<Arc<DecodingKey>, KeyError> {
        let url = self.source.url();
        let Ok(mut state) = self.state.lock() else {
            return Err(KeyError::Unknown);
        };

        match fetched {
            Ok(keys) => {
                state.keys = usable_keys(url, &keys);
                state.fetched_at = Some(Instant::now());
                state.failure = None;
                tracing::info!(
                    url,
                    keys = state.keys.len(),
                    "fetched access token signing keys"
                );
                state.keys.get(kid).cloned().ok_or(KeyError::Unknown)
            }
            Err(reason) => {
                tracing::warn!(url, error = %reason, "cannot fetch access token signing keys");
                state.failure = Some((Instant::now(), reason.clone()));
                stale.ok_or(KeyError::Unavailable {
                    url: url.to_owned(),
                    reason,
                })
            }
        }
    }
}

/// Keeps the keys that can verify RS256 signatures: RSA keys with an id,
/// meant for signatures, whose algorithm, when given, is RS256.
fn usable_keys(url: &str, keys: &[Jwk]) -> HashMap<String, Arc<DecodingKey>> {
    let mut usable = HashMap::new();
    for key in keys {
        let Some(kid) = &key.common.key_id else {
            continue;
        };
        let rsa = matches!(key.algorithm, AlgorithmParameters::RSA(_));
        let for_signatures = key
            .common
            .public_key_use
            .as_ref()
            .is_none_or(|usage| *usage == PublicKeyUse::Signature);
        let rs256 = key
            .common
            .key_algorithm
            .is_none_or(|algorithm| algorithm == KeyAlgorithm::RS256);
        if !(rsa && for_signatures && rs256) {
            tracing::debug!(
                url,
                kid,
                "skipped a JWKS key that is not an RS256 signing key"
            );
            continue;
        }

        match DecodingKey::from_jwk(key) {
            Ok(decoding_key) => {
                usable.insert(kid.clone(), Arc::new(decoding_key));
            }
            Err(error) => tracing::warn!(url, kid, %error, "skipped an invalid JWKS key"),
        }
    }
    usable
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A key source that serves the key ids in `kids`, or fails while
    /// `down` is set, and counts fetches.
    #[derive(Default)]
    struct FakeSource {
        kids: Mutex<Vec<&'static str>>,
        down: std::sync::atomic::AtomicBool,
        fetches: AtomicUsize,
    }

    #[async_trait]
    impl KeySource for Arc<FakeSource> {
        async fn fetch(&self) -> Result<Vec<Jwk>, String> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err("connection refused".into());
            }
            let kids = self.kids.lock().unwrap().clone();
            Ok(kids.into_iter().map(rsa_jwk).collect())
        }

        fn url(&self) -> &str {
            "http://127.0.0.1:9/jwks"
        }
    }

    fn rsa_jwk(kid: &str) -> Jwk {
        serde_json::from_value(serde_json::json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB"
        }))
        .unwrap()
    }

    /// Intervals short enough to wait out, and long enough that the steps
    /// between two waits finish well within them.
    const TIMING: Timing = Timing {
        refetch_cooldown: Duration::from_millis(400),
        max_key_age: Duration::from_millis(1200),
    };

    fn cache(kids: &[&'static str]) -> (KeyCache, Arc<FakeSource>) {
        let source = Arc::new(FakeSource::default());
        *source.kids.lock().unwrap() = kids.to_vec();
        let cache = KeyCache::with_timing(Box::new(Arc::clone(&source)), TIMING);
        (cache, source)
    }

    async fn wait(duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn fetches(source: &FakeSource) -> usize {
        source.fetches.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn cached_key_needs_no_fetch() {
        let (cache, source) = cache(&["a"]);

        cache.key("a").await.unwrap();
        cache.key("a").await.unwrap();

        assert_eq!(fetches(&source), 1);
    }

    #[tokio::test]
    async fn unknown_kid_refetches_once_per_cooldown() {
        let (cache, source) = cache(&["a"]);
        cache.key("a").await.unwrap();

        source.kids.lock().unwrap().push("b");
        cache.key("b").await.unwrap();
        assert_eq!(fetches(&source), 2);

        assert_eq!(cache.key("c").await.unwrap_err(), KeyError::Unknown);
        assert_eq!(cache.key("d").await.unwrap_err(), KeyError::Unknown);
        assert_eq!(fetches(&source), 2);

        wait(TIMING.refetch_cooldown).await;
        assert_eq!(cache.key("c").await.unwrap_err(), KeyError::Unknown);
        assert_eq!(fetches(&source), 3);
    }

    #[tokio::test]
    async fn failed_fetch_keeps_cached_keys() {
        let (cache, source) = cache(&["a"]);
        cache.key("a").await.unwrap();
        source.down.store(true, Ordering::SeqCst);

        let error = cache.key("b").await.unwrap_err();
        assert!(
            matches!(&error, KeyError::Unavailable { reason, .. } if reason.contains("refused")),
            "{error:?}"
        );
        cache.key("a").await.unwrap();

        // Past the key age the refresh fails, and the stale key still works.
        wait(TIMING.max_key_age).await;
        cache.key("a").await.unwrap();
        assert_eq!(fetches(&source), 3);
    }

    #[tokio::test]
    async fn failed_fetch_waits_for_cooldown() {
        let (cache, source) = cache(&["a"]);
        source.down.store(true, Ordering::SeqCst);

        for _ in 0..5 {
            assert!(matches!(
                cache.key("a").await,
                Err(KeyError::Unavailable { .. })
            ));
        }
        assert_eq!(fetches(&source), 1);

        source.down.store(false, Ordering::SeqCst);
        wait(TIMING.refetch_cooldown).await;
        cache.key("a").await.unwrap();
        assert_eq!(fetches(&source), 2);
    }

    #[tokio::test]
    async fn stale_keys_refetched() {
        let (cache, source) = cache(&["a"]);
        cache.key("a").await.unwrap();

        source.kids.lock().unwrap().clear();
        wait(TIMING.max_key_age).await;

        assert_eq!(cache.key("a").await.unwrap_err(), KeyError::Unknown);
        assert_eq!(fetches(&source), 2);
    }

    #[test]
    fn only_rs256_signing_keys_used() {
        let keys: Vec<Jwk> = serde_json::from_value(serde_json::json!([
            { "kty": "RSA", "kid": "good", "n": "AQAB", "e": "AQAB" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
            { "kty": "RSA", "kid": "ps", "alg": "PS256", "n": "AQAB", "e": "AQAB" },
            { "kty": "RSA", "n": "AQAB", "e": "AQAB" },
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
        ]))
        .unwrap();

        let usable = usable_keys("test", &keys);

        assert_eq!(usable.keys().collect::<Vec<_>>(), vec!["good"]);
    }
}
