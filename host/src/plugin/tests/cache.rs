//! Tests of the compiled-component cache.

use super::*;

/// Returns the cache entry files under `dir`, without wasmtime's `.stats`
/// files and temporary files.
fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_none() {
                entries.push(path);
            }
        }
    }
    entries.sort();
    entries
}

fn stats(runtime: &PluginRuntime) -> CacheStats {
    runtime.cache_stats().unwrap()
}

#[test]
fn second_runtime_loads_from_cache() {
    let dir = tempfile::tempdir().unwrap();
    let first = PluginRuntime::with_cache_dir(Limits::default(), Some(dir.path())).unwrap();
    first
        .load(&component("todo-lists"), BTreeMap::new())
        .unwrap();
    assert_eq!(stats(&first), CacheStats { hits: 0, misses: 1 });

    let entries = cache_entries(dir.path());
    assert_eq!(entries.len(), 1, "{entries:?}");
    let version_folder = entries[0].parent().unwrap().file_name().unwrap();
    assert!(
        version_folder.to_string_lossy().starts_with("wasmtime-48."),
        "{version_folder:?}"
    );

    // A restart builds a new engine with the same configuration.
    let second = PluginRuntime::with_cache_dir(Limits::default(), Some(dir.path())).unwrap();
    let plugin = second
        .load(&component("todo-lists"), BTreeMap::new())
        .unwrap();
    assert_eq!(stats(&second), CacheStats { hits: 1, misses: 0 });
    assert_eq!(
        second.cache_dir(),
        Some(dir.path().canonicalize().unwrap().as_path())
    );

    let (result, data) =
        plugin.handle_event(&example_event("01-user.created.json"), MemoryData::new());
    assert_eq!(result, Ok(()));
    assert!(data.get("todos/user_01JD4M7Q2S8X5K9B3N6P0R1T2V").is_some());
}

#[test]
fn other_engine_config_misses_cache() {
    // The memory limit sets the memory reservation, which compiled bounds
    // checks depend on, so it is part of the key.
    let dir = tempfile::tempdir().unwrap();
    let default = PluginRuntime::with_cache_dir(Limits::default(), Some(dir.path())).unwrap();
    default
        .load(&component("deny-gmail"), BTreeMap::new())
        .unwrap();

    let smaller = Limits {
        max_memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let other = PluginRuntime::with_cache_dir(smaller, Some(dir.path())).unwrap();
    other
        .load(&component("deny-gmail"), BTreeMap::new())
        .unwrap();
    assert_eq!(stats(&other), CacheStats { hits: 0, misses: 1 });
    assert_eq!(cache_entries(dir.path()).len(), 2);
}

#[test]
fn changed_component_misses_cache() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = PluginRuntime::with_cache_dir(Limits::default(), Some(dir.path())).unwrap();
    runtime
        .load(&component("failing-handler"), BTreeMap::new())
        .unwrap();
    runtime
        .load(&component("trapping-handler"), BTreeMap::new())
        .unwrap();
    runtime
        .load(&component("failing-handler"), BTreeMap::new())
        .unwrap();
    assert_eq!(stats(&runtime), CacheStats { hits: 1, misses: 2 });
}

#[test]
fn corrupt_entry_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let first = PluginRuntime::with_cache_dir(Limits::default(), Some(dir.path())).unwrap();
    first
        .load(&component("user-mirror"), BTreeMap::new())
        .unwrap();
    let entries = cache_entries(dir.path());
    assert_eq!(entries.len(), 1, "{entries:?}");
    std::fs::write(&entries[0], b"not a compressed artifact").unwrap();

    let second = PluginRuntime::with_cache_dir(Limits::default(), Some(dir.path())).unwrap();
    let plugin = second
        .load(&component("user-mirror"), BTreeMap::new())
        .unwrap();
    assert_eq!(stats(&second), CacheStats { hits: 0, misses: 1 });
    let (result, _) =
        plugin.handle_event(&example_event("01-user.created.json"), MemoryData::new());
    assert_eq!(result, Ok(()));
}

#[test]
fn runtime_without_cache_has_no_stats() {
    assert_eq!(runtime().cache_stats(), None);
    assert_eq!(runtime().cache_dir(), None);
}
