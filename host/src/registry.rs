//! The set of loaded plugins, keyed by the name each one describes itself by.
//!
//! Plugins are loaded from the plugins folder at start. A file that fails to
//! load is reported by name with the reason and skipped, so one broken file
//! never stops the server or the other plugins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Deserialize;

use crate::plugin::{Plugin, PluginRuntime};

/// The optional `<plugin>.toml` beside a `.wasm` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginFile {
    /// String settings the handler reads through the `settings` import.
    #[serde(default)]
    settings: BTreeMap<String, String>,
}

/// The loaded plugins.
#[derive(Default)]
pub struct PluginRegistry {
    plugins: RwLock<BTreeMap<String, Arc<Plugin>>>,
}

impl PluginRegistry {
    /// Loads every `.wasm` file in `dir`, in name order, logging each file
    /// that fails. A missing folder gives an empty registry.
    pub async fn load_dir(runtime: Arc<PluginRuntime>, dir: &Path) -> Self {
        let registry = Self::default();

        let files = match wasm_files(dir) {
            Ok(files) => files,
            Err(error) => {
                tracing::warn!(plugins = %dir.display(), %error, "cannot list the plugins folder; no handlers will run");
                return registry;
            }
        };

        for file in files {
            let runtime = Arc::clone(&runtime);
            let path = file.clone();
            let loaded = tokio::task::spawn_blocking(move || load_file(&runtime, &path)).await;
            match loaded {
                Ok(Ok(plugin)) => registry.insert(plugin),
                Ok(Err(reason)) => {
                    tracing::error!(file = %file.display(), %reason, "plugin failed to load");
                }
                Err(error) => {
                    tracing::error!(file = %file.display(), %error, "plugin load panicked");
                }
            }
        }
        registry
    }

    fn insert(&self, plugin: Plugin) {
        let Ok(mut plugins) = self.plugins.write() else {
            return;
        };
        let name = plugin.info.name.clone();
        if let Some(existing) = plugins.get(&name) {
            tracing::error!(
                plugin = %name,
                file = %plugin.path.display(),
                loaded_from = %existing.path.display(),
                "plugin name already loaded from another file; rename one of them"
            );
            return;
        }
        tracing::info!(
            plugin = %name,
            version = %plugin.info.version,
            file = %plugin.path.display(),
            sha256 = %plugin.sha256,
            events = ?plugin.info.events,
            actions = ?plugin.info.actions.iter().map(|kind| kind.as_str()).collect::<Vec<_>>(),
            "plugin loaded"
        );
        plugins.insert(name, Arc::new(plugin));
    }

    /// Returns the plugin with this name, if loaded.
    pub fn get(&self, name: &str) -> Option<Arc<Plugin>> {
        self.plugins.read().ok()?.get(name).cloned()
    }

    /// Returns every loaded plugin, in name order.
    pub fn snapshot(&self) -> Vec<Arc<Plugin>> {
        self.plugins
            .read()
            .map(|plugins| plugins.values().cloned().collect())
            .unwrap_or_default()
    }
}

fn wasm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

fn load_file(runtime: &PluginRuntime, path: &Path) -> Result<Plugin, String> {
    let settings = read_settings(path)?;
    runtime
        .load(path, settings)
        .map_err(|error| crate::http::error_chain(&error))
}

/// Reads `[settings]` from the `.toml` file beside a plugin, if there is one.
fn read_settings(wasm: &Path) -> Result<BTreeMap<String, String>, String> {
    let path = wasm.with_extension("toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(BTreeMap::new());
        }
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    let file: PluginFile = toml::from_str(&text)
        .map_err(|error| format!("invalid plugin config {}: {error}", path.display()))?;
    Ok(file.settings)
}
