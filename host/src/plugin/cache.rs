//! The on-disk cache of compiled components.
//!
//! Wasmtime's own cache, from its `cache` cargo feature, does the work.
//! Compiling a component first looks up an entry keyed by one SHA-256 over
//! the component's bytes and everything in the engine configuration that
//! affects code generation: the target, Cranelift flags, tunables such as
//! the memory reservation, enabled WebAssembly features and the wasmtime
//! version. A hit loads the machine code from the entry and skips
//! Cranelift, and a miss compiles and writes the entry.
//!
//! Entries are zstd-compressed files under `<dir>/modules/wasmtime-<version>/`
//! (wasmtime 48). A background thread of wasmtime's recompresses an entry
//! harder once it has been used 256 times. After it writes a new entry, at
//! most once an hour, it deletes the least recently used entries if the
//! folder contains more than 512 MiB or 65,536 files.
//!
//! Wasmtime runs a cache entry's machine code without verifying it, so
//! anyone who can write to the folder can run code in the server. The
//! folder is therefore created private to the server's user, and a folder
//! that other users can write to is rejected.

use std::path::{Path, PathBuf};

use wasmtime::{Cache, CacheConfig};

use super::PluginError;

/// Hit and miss counts of a runtime's compiled-component cache since it
/// started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Components loaded from the cache without compiling.
    pub hits: usize,
    /// Components compiled and written to the cache.
    pub misses: usize,
}

/// Creates `dir` if it is missing, checks that only this user can write to
/// it, and opens wasmtime's cache in it.
pub(super) fn open_cache(dir: &Path) -> Result<Cache, PluginError> {
    let cache_error = |reason: String| PluginError::Cache {
        path: dir.to_owned(),
        reason,
    };
    // Wasmtime requires an absolute path.
    let dir = std::path::absolute(dir)
        .map_err(|error| cache_error(format!("cannot resolve the path: {error}")))?;
    create_private_dir(&dir).map_err(|error| {
        cache_error(format!(
            "cannot create the folder: {error}; create it, or choose a writable folder"
        ))
    })?;
    check_private(&dir).map_err(cache_error)?;

    let mut config = CacheConfig::new();
    config.with_directory(&dir);
    Cache::new(config).map_err(|error| cache_error(format!("{error:#}")))
}

/// Creates `dir` and its missing parents, the last one readable and
/// writable only by this user.
fn create_private_dir(dir: &PathBuf) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Checks that `dir` is a folder that no other user can write to.
#[cfg(unix)]
fn check_private(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;

    let metadata = std::fs::metadata(dir).map_err(|error| format!("cannot inspect it: {error}"))?;
    if !metadata.is_dir() {
        return Err("it is not a folder; choose a folder path".into());
    }
    let user = rustix::process::geteuid().as_raw();
    if metadata.uid() != user {
        return Err(format!(
            "it belongs to user id {}, not to this server's user id {user}, and its owner \
             could place code there that the server would run; use a folder this user owns",
            metadata.uid()
        ));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(format!(
            "other users can write to it (mode {:o}) and could place code there that the \
             server would run; run `chmod go-w {}`",
            metadata.mode() & 0o7777,
            dir.display()
        ));
    }
    Ok(())
}

/// Checks that `dir` is a folder. Other platforms' permissions are left to
/// the operator.
#[cfg(not(unix))]
fn check_private(dir: &Path) -> Result<(), String> {
    let metadata = std::fs::metadata(dir).map_err(|error| format!("cannot inspect it: {error}"))?;
    if !metadata.is_dir() {
        return Err("it is not a folder; choose a folder path".into());
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn missing_folder_created_private() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a/plugin-cache");
        open_cache(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn shared_folder_rejected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = open_cache(dir.path()).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, PluginError::Cache { .. }), "{error:?}");
        assert!(message.contains("chmod go-w"), "{message}");
    }

    #[test]
    fn file_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cache");
        std::fs::write(&file, b"").unwrap();
        let message = open_cache(&file).unwrap_err().to_string();
        assert!(message.contains("cannot create the folder"), "{message}");
    }
}
