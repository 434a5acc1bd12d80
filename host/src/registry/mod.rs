//! The set of loaded plugins, keyed by the name each one describes itself
//! by, kept in step with the plugins folder while the server runs.
//!
//! [`PluginRegistry::sync_file`] makes the registry match one file: a new
//! file is loaded, a changed one replaces its plugin, a removed one unloads
//! it. A replacement is compiled before the swap, and callers hold an
//! `Arc<Plugin>`, so invocations already running finish on the old version
//! while the next ones get the new one. A file that fails to load is
//! reported by name with the reason, and whatever that file loaded before
//! keeps serving. [`watch`](crate::registry::watch) calls `sync_file` when
//! the folder changes.
//!
//! One file serves each plugin name. A second file that describes a served
//! name fails to load, but its plugin is kept and takes the name over in
//! the same step the first file is removed. A rename inside the folder or
//! a versioned deploy (new file in, old file out) therefore leaves no
//! moment with the plugin unloaded.

mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::Notify;

pub use watch::{DEBOUNCE, RESCAN_INTERVAL, watch};

use crate::http::error_chain;
use crate::metrics::{LoadOutcome, Metrics};
use crate::plugin::{
    InvocationError, Plugin, PluginInfo, PluginRuntime, read_plugin_config, read_regular_file,
};
use crate::timestamp::Timestamp;

/// Invocation counters of one plugin name, kept across reloads.
#[derive(Debug, Default)]
pub struct PluginStats {
    /// Invocations that succeeded.
    pub handled: AtomicU64,
    /// Invocations where the handler returned an error.
    pub failed: AtomicU64,
    /// Invocations stopped at their deadline.
    pub timed_out: AtomicU64,
    /// Invocations that trapped or could not start.
    pub trapped: AtomicU64,
    /// The most recent failure.
    pub last_error: Mutex<Option<String>>,
}

impl PluginStats {
    /// Counts the outcome of one invocation.
    pub fn record<T>(&self, result: &Result<T, InvocationError>) {
        let counter = match result {
            Ok(_) => &self.handled,
            Err(InvocationError::Failed(_)) => &self.failed,
            Err(InvocationError::TimedOut { .. } | InvocationError::NoSlot { .. }) => {
                &self.timed_out
            }
            Err(InvocationError::Trapped(_) | InvocationError::Instantiate(_)) => &self.trapped,
        };
        counter.fetch_add(1, Ordering::Relaxed);

        if let Err(error) = result
            && let Ok(mut last_error) = self.last_error.lock()
        {
            *last_error = Some(error.to_string());
        }
    }
}

/// A loaded plugin with what the status page shows about it.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    /// The plugin.
    pub plugin: Arc<Plugin>,
    /// When this version was loaded.
    pub loaded_at: Timestamp,
    /// Counters of the plugin's name.
    pub stats: Arc<PluginStats>,
}

/// A file that failed to load, for the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The `.wasm` file.
    pub file: PathBuf,
    /// The SHA-256 of the bytes that failed.
    pub sha256: String,
    /// The failure, for operators.
    pub reason: String,
}

/// The registry's record of one `.wasm` file.
#[derive(Debug, Clone, Default)]
struct FileState {
    /// The fingerprint of the bytes and settings last tried.
    fingerprint: String,
    /// The plugin name the file serves, if it loaded.
    name: Option<String>,
    /// The last attempt's failure, if it failed.
    error: Option<LoadError>,
    /// A plugin that loaded from this file but whose name another file
    /// serves. It takes the name over, with no gap, once that file is gone.
    waiting: Option<Arc<Plugin>>,
    /// When a failed load is tried again even if the file is unchanged, so
    /// a passing cause (the instance pool full during `describe`, a read
    /// error) does not keep the file unloaded.
    retry: Option<Retry>,
}

/// The schedule of a failed file's next attempt.
#[derive(Debug, Clone, Copy)]
struct Retry {
    at: Instant,
    /// Failed attempts in a row with these bytes and settings.
    failures: u32,
}

/// The wait before the first retry of a failed load. It doubles with each
/// failure in a row up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(2);
/// The maximum wait between retries of a failed load.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

impl Retry {
    /// Schedules the attempt after `failures` failures in a row.
    fn after(failures: u32) -> Self {
        let doublings = failures.saturating_sub(1).min(16);
        let delay = FIRST_RETRY_DELAY
            .saturating_mul(1 << doublings)
            .min(MAX_RETRY_DELAY);
        Self {
            at: Instant::now() + delay,
            failures,
        }
    }
}

#[derive(Default)]
struct State {
    by_name: BTreeMap<String, LoadedPlugin>,
    by_file: BTreeMap<PathBuf, FileState>,
    stats: BTreeMap<String, Arc<PluginStats>>,
    /// Plugins unloaded within [`REDEPLOY_GRACE`], with when the grace ends.
    /// Events are still queued for them, so a redeploy that removes the old
    /// file before the new one is in place loses no delivery.
    /// Only the description is kept, not the compiled code.
    retired: BTreeMap<String, (Arc<PluginInfo>, Instant)>,
}

/// How long events are still queued for an unloaded plugin, in case a new
/// version of it is on its way.
pub const REDEPLOY_GRACE: Duration = Duration::from_secs(60);

/// The change that syncing one file makes to the loaded plugins, found
/// before any of them is touched.
enum SyncStep {
    /// The file is as last synced.
    Unchanged,
    /// The file is gone.
    Unload,
    /// The file failed to read or load: its fingerprint and the reason.
    Fail(String, String),
    /// The file loaded: its fingerprint and the plugin.
    Install(String, Box<Plugin>),
}

/// The result of [`PluginRegistry::sync_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The file and its settings are as last loaded or tried.
    Unchanged,
    /// A plugin was loaded from a new file.
    Loaded(String),
    /// A plugin was replaced by a new version, from the same file or from
    /// a file that waited for the name of a removed one.
    Reloaded(String),
    /// The file is gone and its plugin was unloaded.
    Unloaded(String),
    /// The file failed to load; any previous version keeps serving.
    Failed(LoadError),
    /// The file is gone and had loaded nothing.
    Removed,
}

/// The loaded plugins and the plugins folder they come from.
pub struct PluginRegistry {
    runtime: Arc<PluginRuntime>,
    dir: PathBuf,
    metrics: Arc<Metrics>,
    state: RwLock<State>,
    /// Woken on every change to the set of loaded plugins.
    changed: Notify,
}

impl PluginRegistry {
    /// Creates an empty registry for the plugins in `dir`.
    ///
    /// The folder is made absolute once, so the paths the watcher reports
    /// and the paths a listing returns name each file the same way.
    pub fn new(runtime: Arc<PluginRuntime>, dir: PathBuf, metrics: Arc<Metrics>) -> Self {
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        Self {
            runtime,
            dir,
            metrics,
            state: RwLock::default(),
            changed: Notify::new(),
        }
    }

    /// Returns the plugins folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads every `.wasm` file in the folder, logging each one that fails.
    /// A missing folder is created, so it can be watched.
    ///
    /// The files compile and describe themselves in parallel, so a slow or
    /// hanging plugin delays the start by its own deadline only. Then they
    /// are installed in name order, so when two files describe the same
    /// name, the first by name serves it.
    pub async fn load_all(&self) {
        if !self.dir.exists() {
            match std::fs::create_dir_all(&self.dir) {
                Ok(()) => {
                    tracing::info!(plugins = %self.dir.display(), "created the empty plugins folder")
                }
                Err(error) => {
                    tracing::warn!(plugins = %self.dir.display(), %error, "cannot create the plugins folder")
                }
            }
        }

        let files = match wasm_files(&self.dir) {
            Ok((files, ignored)) => {
                // Debug formatting escapes the control characters.
                for file in ignored {
                    tracing::warn!(file = ?file, "ignoring a plugin file whose name contains control characters; rename it");
                }
                files
            }
            Err(error) => {
                tracing::warn!(plugins = %self.dir.display(), %error, "cannot list the plugins folder; no plugins loaded");
                return;
            }
        };

        let steps =
            futures_util::future::join_all(files.iter().map(|file| self.prepare_sync(file, false)))
                .await;
        for (file, step) in files.iter().zip(steps) {
            self.apply_sync(file, step);
        }
    }

    /// Makes the registry match one `.wasm` file and its settings file.
    pub async fn sync_file(&self, wasm: &Path) -> SyncOutcome {
        self.sync(wasm, false).await
    }

    /// Returns the failed files whose retry is due.
    pub fn due_retries(&self) -> Vec<PathBuf> {
        let now = Instant::now();
        self.read_state()
            .by_file
            .iter()
            .filter(|(_, file)| file.retry.is_some_and(|retry| retry.at <= now))
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// Loads a failed file again, even if it is unchanged.
    pub async fn retry_file(&self, wasm: &Path) -> SyncOutcome {
        self.sync(wasm, true).await
    }

    async fn sync(&self, wasm: &Path, retrying: bool) -> SyncOutcome {
        let step = self.prepare_sync(wasm, retrying).await;
        self.apply_sync(wasm, step)
    }

    /// Reads and, when it changed, loads one file, without touching the
    /// loaded plugins.
    async fn prepare_sync(&self, wasm: &Path, retrying: bool) -> SyncStep {
        // File system calls leave the async threads, so a slow mount holds
        // up only this sync.
        let path = wasm.to_owned();
        let fingerprint = tokio::task::spawn_blocking(move || fingerprint(&path))
            .await
            .unwrap_or_else(|error| Fingerprint::Unreadable(format!("reading panicked: {error}")));
        let fingerprint = match fingerprint {
            Fingerprint::Ready(fingerprint) => fingerprint,
            Fingerprint::Gone => return SyncStep::Unload,
            Fingerprint::Unreadable(reason) => {
                let key = format!("{UNREADABLE}{}", hex::encode(Sha256::digest(&reason)));
                return if self.is_unchanged(wasm, &key) && !retrying {
                    SyncStep::Unchanged
                } else {
                    SyncStep::Fail(key, reason)
                };
            }
        };
        if self.is_unchanged(wasm, &fingerprint) && !retrying {
            return SyncStep::Unchanged;
        }

        let runtime = Arc::clone(&self.runtime);
        let path = wasm.to_owned();
        let loaded = tokio::task::spawn_blocking(move || load_file(&runtime, &path))
            .await
            .unwrap_or_else(|error| Err(format!("loading panicked: {error}")));

        match loaded {
            Ok(plugin) => SyncStep::Install(fingerprint, Box::new(plugin)),
            Err(reason) => SyncStep::Fail(fingerprint, reason),
        }
    }

    /// Applies what [`Self::prepare_sync`] found to the loaded plugins.
    fn apply_sync(&self, wasm: &Path, step: SyncStep) -> SyncOutcome {
        match step {
            SyncStep::Unchanged => SyncOutcome::Unchanged,
            SyncStep::Unload => self.unload_file(wasm),
            SyncStep::Fail(fingerprint, reason) => {
                self.record_failure(wasm, fingerprint, reason, None)
            }
            SyncStep::Install(fingerprint, plugin) => self.install(wasm, fingerprint, *plugin),
        }
    }

    /// Returns whether the file's last sync saw this fingerprint.
    fn is_unchanged(&self, wasm: &Path, fingerprint: &str) -> bool {
        self.read_state()
            .by_file
            .get(wasm)
            .is_some_and(|state| state.fingerprint == fingerprint)
    }

    fn install(&self, wasm: &Path, fingerprint: String, plugin: Plugin) -> SyncOutcome {
        let name = plugin.info.name.clone();
        let mut state = self.write_state();

        // A plugin this file held while waiting for a name is older than the
        // version being installed.
        if let Some(file) = state.by_file.get_mut(wasm) {
            file.waiting = None;
        }

        if let Some(other) = state.by_name.get(&name)
            && other.plugin.path != wasm
        {
            let other_path = other.plugin.path.clone();
            if other_path.exists() {
                // This file waits for the name. When the files involved now
                // form a cycle, each waiting for the name the next one
                // serves (contents swapped or rotated), all switch at once.
                let plugin = Arc::new(plugin);
                state.by_file.entry(wasm.to_owned()).or_default().waiting =
                    Some(Arc::clone(&plugin));
                if self.switch_waiting_cycle(&mut state, wasm) {
                    if let Some(file) = state.by_file.get_mut(wasm) {
                        file.fingerprint = fingerprint;
                    }
                    drop(state);
                    self.changed.notify_waiters();
                    return SyncOutcome::Reloaded(name);
                }

                let reason = format!(
                    "plugin name {name:?} is already loaded from {}; this file takes the name over when that one is removed, or rename one of them",
                    other_path.display()
                );
                drop(state);
                return self.record_failure(wasm, fingerprint, reason, Some(plugin));
            } else {
                // The file serving the name is gone, renamed or deleted, and
                // its removal is not synced yet: this file takes the name
                // over now.
                state.by_file.remove(&other_path);
                tracing::info!(plugin = %name, from = %other_path.display(), file = %wasm.display(), "plugin file moved");
                warn_if_settings_stay_behind(&name, &other_path, wasm);
            }
        }

        // A new version may describe itself under another name; the old
        // name then stops being served from this file, unless a swap above
        // already handed it to the other file.
        let previous_name = state.by_file.get(wasm).and_then(|file| file.name.clone());
        if let Some(previous) = previous_name.as_ref().filter(|previous| **previous != name) {
            self.release_name(
                &mut state,
                previous,
                wasm,
                "its file now describes another name",
            );
        }

        let stats = Arc::clone(state.stats.entry(name.clone()).or_default());
        let replaced = state.by_name.contains_key(&name);
        let reason = change_reason(
            state
                .by_file
                .get(wasm)
                .map(|file| file.fingerprint.as_str()),
            &fingerprint,
        );
        tracing::info!(
            plugin = %name,
            version = %plugin.info.version,
            file = %wasm.display(),
            sha256 = %plugin.sha256,
            reason,
            events = ?plugin.info.events,
            actions = ?plugin.info.actions.iter().map(|kind| kind.as_str()).collect::<Vec<_>>(),
            "{}",
            if replaced { "plugin reloaded" } else { "plugin loaded" }
        );
        forget_retired(&mut state, &name);
        state.by_name.insert(
            name.clone(),
            LoadedPlugin {
                plugin: Arc::new(plugin),
                loaded_at: Timestamp::now(),
                stats,
            },
        );
        state.by_file.insert(
            wasm.to_owned(),
            FileState {
                fingerprint,
                name: Some(name.clone()),
                ..FileState::default()
            },
        );
        drop(state);

        self.changed.notify_waiters();
        self.metrics.register_plugin(&name);
        if replaced {
            self.metrics.record_plugin_load(LoadOutcome::Reloaded);
            SyncOutcome::Reloaded(name)
        } else {
            self.metrics.record_plugin_load(LoadOutcome::Loaded);
            SyncOutcome::Loaded(name)
        }
    }

    /// Records a failed load. `waiting` is the plugin of a file that loaded
    /// but whose name another file serves. Such a file is not retried on a
    /// timer, because it takes the name over when the other file goes.
    fn record_failure(
        &self,
        wasm: &Path,
        fingerprint: String,
        reason: String,
        waiting: Option<Arc<Plugin>>,
    ) -> SyncOutcome {
        // An unreadable file has no hash to show.
        let sha256 = match fingerprint.strip_prefix(UNREADABLE) {
            Some(_) => "-".to_owned(),
            None => wasm_hash(&fingerprint).to_owned(),
        };
        let error = LoadError {
            file: wasm.to_owned(),
            sha256: sha256.clone(),
            reason: reason.clone(),
        };

        let mut state = self.write_state();
        let file = state.by_file.entry(wasm.to_owned()).or_default();
        let failures = match (file.retry, file.fingerprint == fingerprint) {
            (Some(retry), true) => retry.failures + 1,
            _ => 1,
        };
        file.retry = waiting.is_none().then(|| Retry::after(failures));
        file.waiting = waiting;
        file.fingerprint = fingerprint;
        file.error = Some(error.clone());
        let serving = file.name.clone();
        drop(state);

        tracing::error!(
            file = %wasm.display(),
            %sha256,
            %reason,
            still_serving = serving.as_deref().unwrap_or("-"),
            "plugin failed to load"
        );
        self.metrics.record_plugin_load(LoadOutcome::Failed);
        SyncOutcome::Failed(error)
    }

    fn unload_file(&self, wasm: &Path) -> SyncOutcome {
        let mut state = self.write_state();
        let Some(file) = state.by_file.remove(wasm) else {
            return SyncOutcome::Unchanged;
        };
        let Some(name) = file.name else {
            return SyncOutcome::Removed;
        };
        let taken_over = self.release_name(&mut state, &name, wasm, "its file was removed");
        drop(state);

        self.changed.notify_waiters();
        if taken_over {
            SyncOutcome::Reloaded(name)
        } else {
            SyncOutcome::Unloaded(name)
        }
    }

    /// Stops serving `name` from `file`, for `reason`: a file waiting for
    /// the name takes it over in the same step, or else the plugin is
    /// unloaded. Returns whether a waiting file took it over.
    fn release_name(&self, state: &mut State, name: &str, file: &Path, reason: &str) -> bool {
        let served_from_file = state
            .by_name
            .get(name)
            .is_some_and(|loaded| loaded.plugin.path == file);
        if !served_from_file {
            return false;
        }

        let waiter = state.by_file.iter().find_map(|(path, file)| {
            file.waiting
                .as_ref()
                .filter(|plugin| plugin.info.name == name)
                .map(|plugin| (path.clone(), Arc::clone(plugin)))
        });

        let Some((path, plugin)) = waiter else {
            let unloaded = state.by_name.remove(name);
            tracing::info!(
                plugin = %name,
                file = %file.display(),
                sha256 = unloaded.as_ref().map_or("-", |loaded| loaded.plugin.sha256.as_str()),
                reason,
                grace_secs = REDEPLOY_GRACE.as_secs(),
                "plugin unloaded; its events are still queued during the grace period"
            );
            if let Some(unloaded) = unloaded {
                let grace_ends = Instant::now() + REDEPLOY_GRACE;
                let info = Arc::new(unloaded.plugin.info.clone());
                state.retired.insert(name.to_owned(), (info, grace_ends));
            }
            self.metrics.record_plugin_load(LoadOutcome::Unloaded);
            return false;
        };

        tracing::info!(
            plugin = %name,
            version = %plugin.info.version,
            file = %path.display(),
            sha256 = %plugin.sha256,
            from = %file.display(),
            reason = format_args!("took over the name because {reason}"),
            "plugin reloaded"
        );
        warn_if_settings_stay_behind(name, file, &path);
        let previous_name = state.by_file.get(&path).and_then(|file| file.name.clone());
        self.put(state, &path, plugin);

        // The waiting version may describe another name than the one its
        // file served until now; that name is then released in turn.
        if let Some(previous) = previous_name.filter(|previous| previous != name) {
            self.release_name(
                state,
                &previous,
                &path,
                "its file now describes another name",
            );
        }
        true
    }

    /// Follows the files waiting for a name from `start`: the file serving
    /// the name it waits for, the name that file waits for, and so on. If
    /// the chain comes back to `start`, every file in it switches to its
    /// waiting plugin in this one step. Returns whether it did.
    fn switch_waiting_cycle(&self, state: &mut State, start: &Path) -> bool {
        let mut chain = vec![start.to_owned()];
        loop {
            let current = chain.last().expect("the chain starts with one file");
            let Some(wanted) = state
                .by_file
                .get(current)
                .and_then(|file| file.waiting.as_ref())
                .map(|waiting| waiting.info.name.clone())
            else {
                return false;
            };
            let Some(holder) = state
                .by_name
                .get(&wanted)
                .map(|loaded| loaded.plugin.path.clone())
            else {
                return false;
            };
            if holder == start {
                break;
            }
            if chain.contains(&holder) {
                return false;
            }
            chain.push(holder);
        }

        for path in &chain {
            let Some(plugin) = state
                .by_file
                .get_mut(path)
                .and_then(|file| file.waiting.take())
            else {
                continue;
            };
            tracing::info!(plugin = %plugin.info.name, version = %plugin.info.version, file = %path.display(), sha256 = %plugin.sha256, reason = "files exchanged their plugins", "plugin reloaded");
            if let Some(previous) = state.by_name.get(&plugin.info.name) {
                warn_if_settings_stay_behind(&plugin.info.name, &previous.plugin.path, path);
            }
            self.put(state, path, plugin);
        }
        true
    }

    /// Serves `plugin` under its name from `path`, a file whose load had
    /// succeeded but waited, replacing whatever served that name.
    fn put(&self, state: &mut State, path: &Path, plugin: Arc<Plugin>) {
        let name = plugin.info.name.clone();
        let stats = Arc::clone(state.stats.entry(name.clone()).or_default());
        forget_retired(state, &name);
        state.by_name.insert(
            name.clone(),
            LoadedPlugin {
                plugin,
                loaded_at: Timestamp::now(),
                stats,
            },
        );

        let file = state.by_file.entry(path.to_owned()).or_default();
        file.name = Some(name.clone());
        file.error = None;
        file.waiting = None;
        file.retry = None;

        self.metrics.register_plugin(&name);
        self.metrics.record_plugin_load(LoadOutcome::Reloaded);
    }

    /// Returns the plugin with this name, if loaded.
    pub fn get(&self, name: &str) -> Option<Arc<Plugin>> {
        self.read_state()
            .by_name
            .get(name)
            .map(|loaded| Arc::clone(&loaded.plugin))
    }

    /// Returns the plugins events are queued for: every loaded plugin, and
    /// every plugin unloaded less than [`REDEPLOY_GRACE`] ago, by the
    /// subscriptions of its last version.
    pub fn subscribers(&self) -> Vec<Arc<PluginInfo>> {
        let now = Instant::now();
        let state = self.read_state();
        let retired = state
            .retired
            .values()
            .filter(|(_, grace_ends)| *grace_ends > now)
            .map(|(info, _)| Arc::clone(info));
        state
            .by_name
            .values()
            .map(|loaded| Arc::new(loaded.plugin.info.clone()))
            .chain(retired)
            .collect()
    }

    /// Returns every loaded plugin, in name order.
    pub fn snapshot(&self) -> Vec<Arc<Plugin>> {
        self.read_state()
            .by_name
            .values()
            .map(|loaded| Arc::clone(&loaded.plugin))
            .collect()
    }

    /// Returns every loaded plugin with its status, in name order.
    pub fn status(&self) -> Vec<LoadedPlugin> {
        self.read_state().by_name.values().cloned().collect()
    }

    /// Returns the files whose last load failed.
    pub fn load_errors(&self) -> Vec<LoadError> {
        self.read_state()
            .by_file
            .values()
            .filter_map(|file| file.error.clone())
            .collect()
    }

    /// Returns the counters of a plugin name, creating them on first use.
    pub fn stats(&self, name: &str) -> Arc<PluginStats> {
        if let Some(stats) = self.read_state().stats.get(name) {
            return Arc::clone(stats);
        }
        Arc::clone(self.write_state().stats.entry(name.to_owned()).or_default())
    }

    /// Returns the `.wasm` files the registry has a record of, loaded or failed.
    fn known_files(&self) -> Vec<PathBuf> {
        self.read_state().by_file.keys().cloned().collect()
    }

    /// Completes after the next change to the set of loaded plugins.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Warns when a plugin moves from file `from` to file `to` and leaves its
/// settings file behind: settings belong to a file name, not to a plugin
/// name, so the plugin now runs without them.
fn warn_if_settings_stay_behind(name: &str, from: &Path, to: &Path) {
    let (old_settings, new_settings) = (from.with_extension("toml"), to.with_extension("toml"));
    if old_settings.exists() && !new_settings.exists() {
        tracing::warn!(
            plugin = %name,
            file = %to.display(),
            settings = %old_settings.display(),
            "the plugin's new file has no settings file, so the settings and limits beside its old file no longer apply; copy them to {}",
            new_settings.display()
        );
    }
}

/// Drops `name` from the unloaded plugins, because it is loaded again, and
/// every unloaded plugin whose grace period has ended.
fn forget_retired(state: &mut State, name: &str) {
    let now = Instant::now();
    state
        .retired
        .retain(|retired, (_, grace_ends)| retired != name && *grace_ends > now);
}

/// Lists the paths ending in `.wasm` directly in `dir`, sorted, split into
/// plugin files and those [`is_wasm`] ignores for their names. Paths that
/// are not regular files are listed too, so that they are reported.
fn wasm_files(dir: &Path) -> std::io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| has_wasm_extension(path))
        .collect();
    paths.sort();
    Ok(paths.into_iter().partition(|path| is_wasm(path)))
}

/// Returns whether `path` names a plugin file: a `.wasm` file whose name
/// has no control characters. A name with a line break would split or
/// forge the log lines that show it, so such a file is ignored.
fn is_wasm(path: &Path) -> bool {
    has_wasm_extension(path) && !has_control_chars(path)
}

fn has_wasm_extension(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "wasm")
}

fn has_control_chars(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().chars().any(char::is_control))
}

/// Names what changed between a file's previous fingerprint and its new
/// one, for the load log.
fn change_reason(previous: Option<&str>, current: &str) -> &'static str {
    match previous {
        None => "new file",
        Some(previous) if wasm_hash(previous) != wasm_hash(current) => "file changed",
        Some(_) => "settings changed",
    }
}

/// Returns the `.wasm` file's SHA-256 from a fingerprint.
fn wasm_hash(fingerprint: &str) -> &str {
    fingerprint
        .split_once(':')
        .map_or(fingerprint, |(wasm, _)| wasm)
}

/// The prefix of the fingerprint recorded for an unreadable file, followed
/// by the hash of the reason, so a new reason counts as a change.
const UNREADABLE: &str = "unreadable:";

/// The state of a plugin file and its settings file.
#[derive(Debug, PartialEq, Eq)]
enum Fingerprint {
    /// `<sha256 of the wasm>:<sha256 of its settings file>`.
    Ready(String),
    /// The `.wasm` file does not exist.
    Gone,
    /// One of the files exists but cannot be read, or is not a regular
    /// file: reading a FIFO or a device would block or never end.
    Unreadable(String),
}

fn fingerprint(wasm: &Path) -> Fingerprint {
    let bytes = match read_file(wasm) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Fingerprint::Gone,
        Err(reason) => return Fingerprint::Unreadable(reason),
    };
    let settings = match read_file(&wasm.with_extension("toml")) {
        Ok(settings) => settings.unwrap_or_default(),
        Err(reason) => return Fingerprint::Unreadable(reason),
    };
    Fingerprint::Ready(format!(
        "{}:{}",
        hex::encode(Sha256::digest(&bytes)),
        hex::encode(Sha256::digest(&settings))
    ))
}

/// Reads a file if it exists and is a regular file. Returns `None` when it
/// does not exist, and the reason when it cannot be read.
fn read_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    read_regular_file(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

fn load_file(runtime: &PluginRuntime, path: &Path) -> Result<Plugin, String> {
    let config = read_plugin_config(path).map_err(|error| error_chain(&error))?;
    runtime
        .load_with(path, &config)
        .map_err(|error| error_chain(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_load_retries_back_off_to_a_cap() {
        let delay = |failures| Retry::after(failures).at - Instant::now();

        assert!(delay(1) <= FIRST_RETRY_DELAY);
        assert!(delay(1) > FIRST_RETRY_DELAY - Duration::from_secs(1));
        assert!(delay(3) > FIRST_RETRY_DELAY * 3);
        assert!(delay(3) <= FIRST_RETRY_DELAY * 4);
        assert!(delay(40) <= MAX_RETRY_DELAY);
        assert!(delay(40) > MAX_RETRY_DELAY - Duration::from_secs(1));
    }

    #[test]
    fn fingerprint_tells_gone_from_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("plugin.wasm");

        assert_eq!(fingerprint(&wasm), Fingerprint::Gone);

        std::fs::write(&wasm, b"bytes").unwrap();
        assert!(matches!(fingerprint(&wasm), Fingerprint::Ready(_)));

        std::fs::create_dir(dir.path().join("plugin.toml")).unwrap();
        let Fingerprint::Unreadable(reason) = fingerprint(&wasm) else {
            panic!("a folder as the settings file was read");
        };
        assert!(reason.contains("not a regular file"), "{reason}");
    }

    #[test]
    fn change_reason_names_what_changed() {
        assert_eq!(change_reason(None, "aa:bb"), "new file");
        assert_eq!(change_reason(Some("aa:bb"), "cc:bb"), "file changed");
        assert_eq!(change_reason(Some("aa:bb"), "cc:dd"), "file changed");
        assert_eq!(change_reason(Some("aa:bb"), "aa:dd"), "settings changed");
    }

    #[test]
    fn plugin_files_need_printable_names() {
        assert!(is_wasm(Path::new("/plugins/todo-lists.wasm")));
        assert!(is_wasm(Path::new("/plugins/é.wasm")));
        assert!(!is_wasm(Path::new("/plugins/todo-lists.wasm.part")));
        assert!(!is_wasm(Path::new("/plugins/todo-lists.toml")));
        assert!(!is_wasm(Path::new(
            "/plugins/evil\n2026-12-04 INFO forged.wasm"
        )));
        assert!(!is_wasm(Path::new("/plugins/evil\u{1b}[31m.wasm")));
    }
}
