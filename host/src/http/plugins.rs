//! `GET /plugins`: the loaded plugins and the files that failed to load.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AppState;
use crate::registry::{LoadError, LoadedPlugin};

/// The body of `GET /plugins`.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct PluginsReport {
    /// The loaded plugins, in name order.
    pub plugins: Vec<PluginReport>,
    /// The files whose last load failed.
    pub load_errors: Vec<LoadErrorReport>,
}

/// One loaded plugin.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct PluginReport {
    /// The name the plugin describes itself by.
    pub name: String,
    /// The version it reports.
    pub version: String,
    /// The file it was loaded from.
    pub file: String,
    /// The SHA-256 of that file.
    pub sha256: String,
    /// When this version was loaded, RFC 3339.
    pub loaded_at: String,
    /// Its event subscriptions.
    pub events: Vec<String>,
    /// The Action kinds it decides.
    pub actions: Vec<String>,
    /// Invocations that succeeded.
    pub handled: u64,
    /// Invocations where the plugin returned an error.
    pub failed: u64,
    /// Invocations stopped at their deadline.
    pub timed_out: u64,
    /// Invocations that trapped.
    pub trapped: u64,
    /// The most recent failure.
    pub last_error: Option<String>,
}

/// One file that failed to load.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct LoadErrorReport {
    /// The file.
    pub file: String,
    /// The SHA-256 of the bytes that failed.
    pub sha256: String,
    /// Why.
    pub error: String,
}

/// Lists the plugins.
pub(super) async fn list(State(state): State<AppState>) -> Json<PluginsReport> {
    let plugins = state.registry.status().iter().map(report).collect();
    let load_errors = state
        .registry
        .load_errors()
        .into_iter()
        .map(
            |LoadError {
                 file,
                 sha256,
                 reason,
             }| LoadErrorReport {
                file: file.display().to_string(),
                sha256,
                error: reason,
            },
        )
        .collect();
    Json(PluginsReport {
        plugins,
        load_errors,
    })
}

fn report(loaded: &LoadedPlugin) -> PluginReport {
    let info = &loaded.plugin.info;
    let stats = &loaded.stats;
    PluginReport {
        name: info.name.clone(),
        version: info.version.clone(),
        file: loaded.plugin.path.display().to_string(),
        sha256: loaded.plugin.sha256.clone(),
        loaded_at: loaded.loaded_at.to_rfc3339(),
        events: info.events.clone(),
        actions: info
            .actions
            .iter()
            .map(|kind| kind.as_str().to_owned())
            .collect(),
        handled: stats.handled.load(Ordering::Relaxed),
        failed: stats.failed.load(Ordering::Relaxed),
        timed_out: stats.timed_out.load(Ordering::Relaxed),
        trapped: stats.trapped.load(Ordering::Relaxed),
        last_error: stats.last_error.lock().ok().and_then(|error| error.clone()),
    }
}
