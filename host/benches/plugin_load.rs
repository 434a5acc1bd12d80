//! Plugin load benchmark: how long `PluginRuntime::load` takes with and
//! without the compiled-component cache.
//!
//! For each component it measures three cases, each in a new runtime as
//! after a server restart:
//!
//! - uncached: a runtime without a cache, so the component is compiled;
//! - cold: a runtime with an empty cache folder, so the component is
//!   compiled and the artifact written;
//! - cached: a runtime whose cache folder already contains the artifact.
//!
//! A load includes reading the file, hashing it, compiling or reading the
//! cache, pre-linking and the `describe` call; creating the runtime is not
//! timed. The Rust examples and test guests are built first. The Python
//! and JavaScript examples are measured when `target/test-plugins` holds
//! `python-audit.wasm` or `js-domain-allow.wasm`, which
//! `examples/build-polyglot-plugins.sh target/test-plugins` builds.
//!
//! Run: `cargo bench -p authkit-host --bench plugin_load`
//!
//! `BENCH_LOAD_ROUNDS` (default 5) sets the loads per case; the report
//! gives the median, minimum and maximum.

#![allow(
    clippy::print_stdout,
    reason = "the report on stdout is this benchmark's output"
)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use authkit_host::plugin::{Limits, PluginRuntime};
use common::{BenchResult, build_plugins, env_number};

/// The components measured when present, Rust ones first.
const COMPONENTS: [&str; 5] = [
    "todo-lists",
    "user-mirror",
    "deny-gmail",
    "python-audit",
    "js-domain-allow",
];

fn main() -> BenchResult {
    let rounds = env_number("BENCH_LOAD_ROUNDS", 5).max(1);
    println!(
        "plugin load, {} cores, {rounds} loads per case",
        std::thread::available_parallelism()?.get()
    );
    let plugins = build_plugins()?;

    for name in COMPONENTS {
        let path = plugins.join(format!("{name}.wasm"));
        if !path.exists() {
            println!("{name}: skipped, {} not found", path.display());
            continue;
        }
        let size_mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
        println!("{name} ({size_mb:.1} MB):");

        let uncached = time_loads(rounds, || load_without_cache(&path))?;
        println!("  uncached {}", summary(&uncached));

        let cold = time_loads(rounds, || load_into_empty_cache(&path))?;
        println!("  cold     {}", summary(&cold));

        let cache = tempfile::tempdir()?;
        load_cached(&path, cache.path(), false)?;
        let cached = time_loads(rounds, || load_cached(&path, cache.path(), true))?;
        println!("  cached   {}", summary(&cached));
    }
    Ok(())
}

/// Runs `load` `rounds` times and returns the durations it reported.
fn time_loads(
    rounds: u64,
    mut load: impl FnMut() -> BenchResult<Duration>,
) -> BenchResult<Vec<Duration>> {
    (0..rounds).map(|_| load()).collect()
}

fn load_without_cache(path: &Path) -> BenchResult<Duration> {
    let runtime = PluginRuntime::new(Limits::default())?;
    timed_load(&runtime, path)
}

fn load_into_empty_cache(path: &Path) -> BenchResult<Duration> {
    let cache = tempfile::tempdir()?;
    let runtime = PluginRuntime::with_cache_dir(Limits::default(), Some(cache.path()))?;
    let elapsed = timed_load(&runtime, path)?;
    check_stats(&runtime, 0, 1)?;
    Ok(elapsed)
}

/// Loads `path` in a new runtime that uses `cache`, and checks that the
/// load hit the cache when `expect_hit` is set.
fn load_cached(path: &Path, cache: &Path, expect_hit: bool) -> BenchResult<Duration> {
    let runtime = PluginRuntime::with_cache_dir(Limits::default(), Some(cache))?;
    let elapsed = timed_load(&runtime, path)?;
    if expect_hit {
        check_stats(&runtime, 1, 0)?;
    }
    Ok(elapsed)
}

fn timed_load(runtime: &PluginRuntime, path: &Path) -> BenchResult<Duration> {
    let started = Instant::now();
    let plugin = runtime.load(path, BTreeMap::new())?;
    let elapsed = started.elapsed();
    drop(plugin);
    Ok(elapsed)
}

fn check_stats(runtime: &PluginRuntime, hits: usize, misses: usize) -> BenchResult {
    let stats = runtime
        .cache_stats()
        .ok_or("the runtime has no compiled-component cache")?;
    if stats.hits != hits || stats.misses != misses {
        return Err(format!(
            "expected {hits} cache hits and {misses} misses, got {} and {}",
            stats.hits, stats.misses
        )
        .into());
    }
    Ok(())
}

/// Formats the median, minimum and maximum of `durations` in milliseconds.
fn summary(durations: &[Duration]) -> String {
    let mut sorted = durations.to_vec();
    sorted.sort();
    let millis = |duration: Duration| duration.as_secs_f64() * 1000.0;
    format!(
        "median {:8.1} ms, min {:8.1} ms, max {:8.1} ms",
        millis(sorted[sorted.len() / 2]),
        millis(sorted[0]),
        millis(sorted[sorted.len() - 1]),
    )
}
