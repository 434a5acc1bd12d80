//! The optional `<name>.toml` beside a plugin's `.wasm` file, with the
//! plugin's `[settings]` and `[limits]` tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::file::read_regular_file;
use super::{PluginError, PluginLimits};

/// The settings and limit overrides of a plugin's `<name>.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginConfig {
    /// String settings the handler reads through the `settings` import.
    pub settings: BTreeMap<String, String>,
    /// Overrides of the runtime's limits for this plugin.
    pub limits: PluginLimits,
    /// The file this was read from, which errors about the limits name;
    /// `None` when there is no file.
    pub path: Option<PathBuf>,
}

/// The layout of `<name>.toml`. Both tables are optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginFile {
    #[serde(default)]
    settings: BTreeMap<String, String>,
    #[serde(default)]
    limits: PluginLimits,
}

/// Returns the path of the config file that belongs to a plugin: the
/// `.wasm` path with the extension `.toml`.
pub fn plugin_config_path(wasm_path: &Path) -> PathBuf {
    wasm_path.with_extension("toml")
}

/// Reads a plugin's `<name>.toml`, or returns an empty config when the file
/// does not exist.
///
/// Unknown tables or keys, settings that are not strings and limits that
/// are not non-negative integers are errors that name the file and line.
/// Whether the limits fit the runtime is checked by
/// [`PluginRuntime::load_with`](super::PluginRuntime::load_with).
pub fn read_plugin_config(wasm_path: &Path) -> Result<PluginConfig, PluginError> {
    let path = plugin_config_path(wasm_path);
    let bytes = match read_regular_file(&path) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(PluginConfig::default()),
        Err(source) => return Err(PluginError::ReadConfig { path, source }),
    };
    let text = String::from_utf8(bytes).map_err(|_| PluginError::InvalidConfig {
        path: path.clone(),
        reason: "the file is not UTF-8 text".to_owned(),
    })?;
    let file: PluginFile = match toml::from_str(&text) {
        Ok(file) => file,
        Err(error) => {
            let reason = describe_toml_error(&text, &error);
            return Err(PluginError::InvalidConfig { path, reason });
        }
    };
    Ok(PluginConfig {
        settings: file.settings,
        limits: file.limits,
        path: Some(path),
    })
}

/// Describes a TOML error on one line, with its line number, because the
/// error's own `Display` spans several lines to draw the position.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("plugin.wasm");
        std::fs::write(dir.path().join("plugin.toml"), text).unwrap();
        (dir, wasm)
    }

    #[test]
    fn missing_file_gives_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = read_plugin_config(&dir.path().join("plugin.wasm")).unwrap();
        assert_eq!(config, PluginConfig::default());
    }

    #[test]
    fn settings_and_limits_read() {
        let (_dir, wasm) = write_config(
            r#"
[settings]
allowed_domains = "example.com"

[limits]
memory_mb = 16
table_elements = 1000
deadline_ms = 1500
cpu_ms = 300
max_output_kb = 8
"#,
        );
        let config = read_plugin_config(&wasm).unwrap();
        assert_eq!(
            config.settings.get("allowed_domains").map(String::as_str),
            Some("example.com")
        );
        assert_eq!(
            config.limits,
            PluginLimits {
                memory_mb: Some(16),
                table_elements: Some(1000),
                deadline_ms: Some(1500),
                cpu_ms: Some(300),
                max_output_kb: Some(8),
            }
        );
        assert_eq!(config.path, Some(plugin_config_path(&wasm)));
    }

    #[test]
    fn unknown_limit_rejected() {
        let (_dir, wasm) = write_config("[limits]\nmemory_mb = 16\nfuel = 5\n");
        let error = read_plugin_config(&wasm).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, PluginError::InvalidConfig { .. }),
            "{error:?}"
        );
        assert!(message.contains("plugin.toml"), "{message}");
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("fuel"), "{message}");
    }

    #[test]
    fn unknown_table_rejected() {
        let (_dir, wasm) = write_config("[setting]\nkey = \"value\"\n");
        let message = read_plugin_config(&wasm).unwrap_err().to_string();
        assert!(message.contains("setting"), "{message}");
    }

    #[test]
    fn negative_limit_rejected() {
        let (_dir, wasm) = write_config("[limits]\ndeadline_ms = -5\n");
        let message = read_plugin_config(&wasm).unwrap_err().to_string();
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn non_string_setting_rejected() {
        let (_dir, wasm) = write_config("[settings]\nspin_ms = 5\n");
        let message = read_plugin_config(&wasm).unwrap_err().to_string();
        assert!(message.contains("string"), "{message}");
    }
}
