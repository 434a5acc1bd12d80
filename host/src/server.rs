//! Running the server: open the store, start background tasks, serve HTTP
//! until shutdown, then let the store finish its queued writes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::action::{ActionService, ActionSettings};
use crate::config::ServerConfig;
use crate::dispatch::{DispatchWaker, Dispatcher};
use crate::error::{Error, Result};
use crate::http::{AppState, error_chain, router};
use crate::metrics::Metrics;
use crate::plugin::{Limits, PluginRuntime};
use crate::registry::{self, PluginRegistry};
use crate::store::{SqliteStore, Store};
use crate::timestamp::Timestamp;

/// How often expired user tombstones are pruned.
const TOMBSTONE_PRUNE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Binds the configured address.
pub async fn bind(config: &ServerConfig) -> Result<TcpListener> {
    TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind {
            address: config.listen,
            source,
        })
}

/// Serves on an already-bound listener until `shutdown` completes.
///
/// On return every acknowledged write is durable and the database is closed.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let store = open_store(&config).await?;
    let address = listener.local_addr().map_err(Error::Serve)?;

    let runtime = Arc::new(plugin_runtime(&config)?);
    let metrics = Arc::new(Metrics::new());
    let registry = Arc::new(PluginRegistry::new(
        runtime,
        config.plugins_dir.clone(),
        Arc::clone(&metrics),
    ));
    registry.load_all().await;
    let watcher = registry::watch(Arc::clone(&registry));
    let waker = DispatchWaker::default();
    let dispatcher = Dispatcher::start(
        Arc::clone(&store),
        Arc::clone(&registry),
        config.retry_policy,
        waker.clone(),
        Arc::clone(&metrics),
    );

    let pruner = tokio::spawn(prune_tombstones_periodically(
        Arc::clone(&store),
        config.tombstone_retention,
    ));

    tracing::info!(%address, db = %config.db_path.display(), "listening");
    let actions = Arc::new(ActionService::new(
        Arc::clone(&store),
        Arc::clone(&registry),
        ActionSettings {
            secret: config.secrets.action_secret.clone(),
            tolerance: config.action_tolerance,
            deadline: config.action_deadline,
            fallback_authentication: config.action_fallback_authentication,
            fallback_user_registration: config.action_fallback_user_registration,
            max_concurrent_invocations: config.max_concurrent_invocations,
        },
        Arc::clone(&metrics),
    ));
    if config.secrets.action_secret.is_none() {
        tracing::info!("WORKOS_ACTION_SECRET is not set; /workos/action returns 503");
    }
    match &config.jwks_url {
        Some(jwks_url) => {
            tracing::info!(%jwks_url, issuers = ?config.token_issuers, "/me verifies access tokens")
        }
        None => tracing::info!("WORKOS_CLIENT_ID is not set; /me answers 503"),
    }
    let state = AppState::new(
        Arc::clone(&store),
        waker,
        Arc::clone(&actions),
        Arc::clone(&registry),
        metrics,
        &config,
    );
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Serve);

    pruner.abort();
    let _ = pruner.await;
    watcher.abort();
    let _ = watcher.await;
    dispatcher.stop().await;
    actions.flush().await;
    // The last reference closes the writer queue and joins the writer
    // thread, which blocks, so it happens off the async threads.
    let _ = tokio::task::spawn_blocking(move || drop(store)).await;
    tracing::info!("stopped");
    served
}

/// Starts the plugin runtime with its compiled-code cache. An unusable
/// default cache folder only costs compile time, so it is a warning; an
/// unusable folder the operator chose is an error.
fn plugin_runtime(config: &ServerConfig) -> Result<PluginRuntime> {
    let (cache_dir, explicit) = &config.plugin_cache_dir;
    let limits = Limits {
        max_concurrent_invocations: config.max_concurrent_invocations,
        ..Limits::default()
    };
    match PluginRuntime::with_cache_dir(limits.clone(), Some(cache_dir)) {
        Ok(runtime) => Ok(runtime),
        Err(error) if !explicit => {
            tracing::warn!(cache = %cache_dir.display(), error = %error_chain(&error), "plugin cache unusable; plugins compile at every load");
            PluginRuntime::new(limits).map_err(Error::Plugin)
        }
        Err(error) => Err(Error::Plugin(error)),
    }
}

async fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>> {
    let path = config.db_path.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await
        .map_err(Error::panicked("opening the database"))??;
    Ok(Arc::new(store))
}

async fn prune_tombstones_periodically(store: Arc<dyn Store>, retention: Duration) {
    let mut interval = tokio::time::interval(TOMBSTONE_PRUNE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        interval.tick().await;

        let retention_nanos = i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX);
        let cutoff = Timestamp::from_unix_nanos(
            Timestamp::now()
                .unix_nanos()
                .saturating_sub(retention_nanos),
        );
        match store.prune_tombstones(cutoff).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "pruned expired user tombstones"),
            Err(error) => {
                tracing::error!(error = %error_chain(&error), "pruning user tombstones failed")
            }
        }
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };

    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
