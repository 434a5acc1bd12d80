//! Watching the plugins folder and syncing the registry with it.
//!
//! File system notifications mark files dirty; a file is synced once no
//! notification has arrived for it for [`DEBOUNCE`], so a copy in progress
//! is not loaded half-written as long as it keeps writing. A file renamed
//! into the folder is complete, so it is synced at once where the platform
//! reports the rename's target (Linux does). A full rescan every
//! [`RESCAN_INTERVAL`] catches anything a notification missed, and a file
//! that failed to load is tried again whenever its bytes change, and on a
//! growing delay in case the cause has passed. Renaming a
//! complete file into the folder is the reliable way to deploy.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use notify::event::{ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{PluginRegistry, SyncOutcome, is_wasm, wasm_files};

/// How long a file must be quiet before it is synced.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// How often the whole folder is compared with the registry.
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(2);
/// The maximum time a removal waits for other files' syncs to finish, so a
/// long compile or a large failing file cannot hold it back for good.
const MAX_REMOVAL_WAIT: Duration = Duration::from_secs(5);
/// How often dirty files are checked against the debounce time.
const TICK: Duration = Duration::from_millis(25);

/// Watches the registry's folder until the returned task is aborted.
///
/// When notifications are unavailable (the folder is missing, or the
/// platform refuses a watch) it falls back to the periodic rescan alone.
pub fn watch(registry: Arc<PluginRegistry>) -> tokio::task::JoinHandle<()> {
    let (events, mut received) = mpsc::unbounded_channel::<Change>();
    let dir = registry.dir().to_owned();

    let watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        // Reading a file raises access events, and the registry reads every
        // file it syncs, so only changes count.
        let Ok(event) = result else {
            return;
        };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }

        let renamed_to = renamed_into_place(&event).map(Path::to_owned);
        for path in event.paths {
            let complete = renamed_to.as_ref() == Some(&path);
            let _ = events.send(Change { path, complete });
        }
    })
    .and_then(|mut watcher| {
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        Ok(watcher)
    });
    let watcher = match watcher {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(plugins = %dir.display(), %error, "cannot watch the plugins folder; checking it every {RESCAN_INTERVAL:?} instead");
            None
        }
    };

    tokio::spawn(async move {
        // The watcher stops when dropped, so the task keeps it.
        let _watcher = watcher;
        let mut dirty: HashMap<PathBuf, Instant> = HashMap::new();
        let mut stamps: HashMap<PathBuf, Stamp> = HashMap::new();
        let mut syncs = Syncs::new(Arc::clone(&registry));
        let mut tick = tokio::time::interval(TICK);
        let mut rescan = tokio::time::interval(RESCAN_INTERVAL);

        loop {
            tokio::select! {
                Some(change) = received.recv() => {
                    let Some(wasm) = wasm_path_for(&change.path) else {
                        continue;
                    };
                    if change.complete {
                        dirty.remove(&wasm);
                        syncs.start(wasm, false);
                    } else {
                        dirty.insert(wasm, Instant::now());
                    }
                }
                Some(finished) = syncs.tasks.join_next_with_id(), if !syncs.tasks.is_empty() => {
                    // A file that changed during its sync is synced again;
                    // one that is gone by then waits like any removal.
                    if let Some((path, retrying)) = syncs.finished(finished) {
                        if path.exists() {
                            syncs.start(path, retrying);
                        } else {
                            dirty.insert(path, Instant::now());
                        }
                    }
                }
                _ = tick.tick() => {
                    let mut quiet: Vec<(PathBuf, bool, bool)> = dirty
                        .iter()
                        .filter(|(_, changed)| changed.elapsed() >= DEBOUNCE)
                        .map(|(path, changed)| {
                            let waited_enough = changed.elapsed() >= DEBOUNCE + MAX_REMOVAL_WAIT;
                            (path.clone(), !path.exists(), waited_enough)
                        })
                        .collect();
                    // Files that exist start first, and a removal waits,
                    // for at most MAX_REMOVAL_WAIT, while other files sync:
                    // a new version copied or renamed in as the old file
                    // goes then takes the name over, and the plugin is never
                    // unloaded.
                    quiet.sort_by_key(|(_, removed, _)| *removed);
                    for (path, removed, waited_enough) in quiet {
                        if removed && !waited_enough && syncs.any_running_besides(&path) {
                            continue;
                        }
                        dirty.remove(&path);
                        syncs.start(path, false);
                    }
                }
                _ = rescan.tick() => {
                    // A slow or hung mount blocks a blocking thread, not
                    // an async one.
                    let scanning = Arc::clone(&registry);
                    let scanned = tokio::task::spawn_blocking(move || {
                        let changed = changed_files(&scanning, &mut stamps);
                        (changed, stamps)
                    })
                    .await;
                    let Ok((changed, scanned_stamps)) = scanned else {
                        tracing::error!(plugins = %registry.dir().display(), "rescanning the plugins folder panicked");
                        stamps = HashMap::new();
                        continue;
                    };
                    stamps = scanned_stamps;
                    for path in changed {
                        dirty.entry(path).or_insert_with(Instant::now);
                    }
                    // A file already syncing is not retried on top: its sync
                    // settles the retry time.
                    for path in registry.due_retries() {
                        if !syncs.is_running(&path) {
                            syncs.start(path, true);
                        }
                    }
                }
            }
        }
    })
}

/// The syncs in progress, at most one per file, each in its own task, so
/// a slow compile holds up only its own file.
struct Syncs {
    registry: Arc<PluginRegistry>,
    tasks: JoinSet<()>,
    running: HashMap<tokio::task::Id, PathBuf>,
    /// Files that changed again while their sync ran, each with whether the
    /// next sync is a retry; each is synced once more when it finishes.
    again: HashMap<PathBuf, bool>,
}

impl Syncs {
    fn new(registry: Arc<PluginRegistry>) -> Self {
        Self {
            registry,
            tasks: JoinSet::new(),
            running: HashMap::new(),
            again: HashMap::new(),
        }
    }

    /// Starts syncing `path`, or marks it to sync again when a sync of it
    /// is running. `retrying` loads a failed file even if unchanged.
    fn start(&mut self, path: PathBuf, retrying: bool) {
        if self.is_running(&path) {
            *self.again.entry(path).or_default() |= retrying;
            return;
        }

        let registry = Arc::clone(&self.registry);
        let task_path = path.clone();
        let handle = self.tasks.spawn(async move {
            let outcome = if retrying {
                registry.retry_file(&task_path).await
            } else {
                registry.sync_file(&task_path).await
            };
            if !matches!(outcome, SyncOutcome::Unchanged) {
                tracing::debug!(file = %task_path.display(), ?outcome, "synced plugin file");
            }
        });
        self.running.insert(handle.id(), path);
    }

    /// Returns whether a sync of `path` is running.
    fn is_running(&self, path: &Path) -> bool {
        self.running.values().any(|running| running == path)
    }

    /// Returns whether a sync of any file other than `path` is running.
    fn any_running_besides(&self, path: &Path) -> bool {
        self.running.values().any(|running| running != path)
    }

    /// Records that a sync ended. Returns the file and whether it is a retry
    /// when it changed meanwhile and must be synced again.
    fn finished(
        &mut self,
        result: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    ) -> Option<(PathBuf, bool)> {
        let id = match result {
            Ok((id, ())) => id,
            Err(error) => {
                tracing::error!(%error, "syncing a plugin file panicked");
                error.id()
            }
        };
        let path = self.running.remove(&id)?;
        let retrying = self.again.remove(&path)?;
        Some((path, retrying))
    }
}

/// One changed path reported by the file system.
struct Change {
    path: PathBuf,
    /// Whether the path is the target of a rename, which is atomic, so the
    /// file is complete and is synced without waiting for [`DEBOUNCE`].
    complete: bool,
}

/// Returns the path a rename event moved a file to, when the platform
/// reports it: Linux's inotify does, as `To` or as the second of `Both`.
fn renamed_into_place(event: &notify::Event) -> Option<&Path> {
    match event.kind {
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => event.paths.first(),
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => event.paths.get(1),
        _ => None,
    }
    .map(PathBuf::as_path)
}

/// Maps a changed path to the `.wasm` file it concerns: the file itself, or
/// the plugin whose settings file changed.
fn wasm_path_for(path: &Path) -> Option<PathBuf> {
    if is_wasm(path) {
        return Some(path.to_owned());
    }
    if path.extension().is_some_and(|ext| ext == "toml") {
        return Some(path.with_extension("wasm")).filter(|wasm| is_wasm(wasm));
    }
    None
}

/// The size and modification time of a `.wasm` file and its settings file.
type Stamp = (Option<(u64, SystemTime)>, Option<(u64, SystemTime)>);

fn stamp(wasm: &Path) -> Stamp {
    let of = |path: &Path| {
        let metadata = std::fs::metadata(path).ok()?;
        Some((metadata.len(), metadata.modified().ok()?))
    };
    (of(wasm), of(&wasm.with_extension("toml")))
}

/// Returns the files whose size or modification time changed since the
/// last rescan, including files the registry knows that have gone.
fn changed_files(registry: &PluginRegistry, stamps: &mut HashMap<PathBuf, Stamp>) -> Vec<PathBuf> {
    let (mut files, _ignored) = wasm_files(registry.dir()).unwrap_or_default();
    for known in registry.known_files() {
        if !files.contains(&known) {
            files.push(known);
        }
    }

    files
        .into_iter()
        .filter(|path| {
            let current = stamp(path);
            stamps.insert(path.clone(), current) != Some(current)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_change_maps_to_printable_wasm() {
        assert_eq!(
            wasm_path_for(Path::new("/plugins/todo-lists.toml")),
            Some(PathBuf::from("/plugins/todo-lists.wasm"))
        );
        assert_eq!(
            wasm_path_for(Path::new("/plugins/todo-lists.wasm")),
            Some(PathBuf::from("/plugins/todo-lists.wasm"))
        );
        assert_eq!(wasm_path_for(Path::new("/plugins/notes.txt")), None);
        assert_eq!(wasm_path_for(Path::new("/plugins/evil\nforged.toml")), None);
        assert_eq!(wasm_path_for(Path::new("/plugins/evil\nforged.wasm")), None);
    }
}
