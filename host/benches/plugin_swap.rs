//! Plugin swap benchmark: the time from renaming a plugin file into the
//! plugins folder of a running server until the new version has handled an
//! event and its store writes are committed.
//!
//! A real server runs with the `counter` test guest loaded, and a task
//! posts one signed `user.created` webhook every `BENCH_EVENT_INTERVAL_MS`
//! milliseconds (default 10).
//! The guest writes one store key per handled event, `seen/<event id>`.
//! For each swap the benchmark makes a new version of `counter` by replacing
//! the bytes `seen/` in the component's data segment with a tag of the same
//! length, such as `0007/`. Each version therefore has new bytes (so the
//! compiled-component cache has never seen it) and writes keys that name it.
//! The benchmark writes the version to a staging folder on the same file
//! system and waits 300 ms, plus a random pause of up to a common multiple
//! of the watcher's and the webhooks' periods. Then it renames the version
//! to `plugins/counter.wasm` and polls the database (read-only, every
//! millisecond) until a key with the version's tag is committed.
//!
//! Four cases, `BENCH_SWAPS` swaps each (default 20):
//!
//! - reload: the file replaces the loaded version of `counter`;
//! - load: `counter.wasm` was removed and unloaded first, so the rename
//!   loads a plugin that is not loaded (the name was loaded before, so its
//!   delivery worker already exists);
//!
//! each either compiled on load, or with its compiled code already in the
//! server's cache folder, put there by a separate runtime with the same
//! engine settings before the rename.
//!
//! Events fanned out before a plugin is loaded are not queued for it, and in
//! the reload case the old version handles the events that arrive while the
//! new one loads. So the first event the new version handles is the first
//! that arrives after it is installed, and waiting for it adds up to one
//! event interval to each figure.
//!
//! The breakdown comes from the server's own tracing: the span of
//! `PluginRuntime::load_with` gives when the load started and ended, and the
//! registry's "plugin loaded" or "plugin reloaded" log event gives when the
//! new version was installed.
//!
//! Run: `cargo bench -p authkit-host --bench plugin_swap`

#![allow(
    clippy::print_stdout,
    reason = "the report on stdout is this benchmark's output"
)]

mod common;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authkit_host::config::ServeArgs;
use authkit_host::plugin::{Limits, PluginRuntime};
use authkit_host::registry::DEBOUNCE;
use authkit_host::signature;
use common::{BenchResult, WEBHOOK_SECRET, env_number, start_server, unix_millis, user_created};
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The store key prefix that the `counter` guest writes once per handled
/// event, as `seen/<event id>`.
const KEY_PREFIX: &[u8] = b"seen/";
/// The maximum time one swap, or one unload, may take before the benchmark
/// fails.
const SWAP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the database and the captured log are polled.
const POLL_INTERVAL: Duration = Duration::from_millis(1);
/// The shortest pause before each rename, so that the previous swap's work
/// and any compiling done for the cached case are over.
const SETTLE: Duration = Duration::from_millis(300);
/// How often the watcher checks changed files against its debounce time,
/// in milliseconds (`TICK` in host/src/registry/watch.rs, which is private).
const WATCH_TICK_MS: u64 = 25;
/// The tracing target of the registry's log events.
const REGISTRY_TARGET: &str = "authkit_host::registry";
/// The tracing target and span name of a plugin load.
const LOAD_TARGET: &str = "authkit_host::plugin::runtime";
const LOAD_SPAN: &str = "load_with";

/// One measured case.
#[derive(Clone, Copy)]
struct Case {
    label: &'static str,
    /// Whether the rename replaces a loaded version, or loads the plugin
    /// after its file was removed.
    replaces: bool,
    /// Whether the compiled code is in the server's cache before the rename.
    cached: bool,
}

const CASES: [Case; 4] = [
    Case {
        label: "reload, compiled on load",
        replaces: true,
        cached: false,
    },
    Case {
        label: "reload, compiled code cached",
        replaces: true,
        cached: true,
    },
    Case {
        label: "load, compiled on load",
        replaces: false,
        cached: false,
    },
    Case {
        label: "load, compiled code cached",
        replaces: false,
        cached: true,
    },
];

fn main() -> BenchResult {
    let swaps = env_number("BENCH_SWAPS", 20).max(1);
    let interval = Duration::from_millis(env_number("BENCH_EVENT_INTERVAL_MS", 10).max(1));
    // Each version's tag is 4 decimal digits and a slash.
    if swaps * CASES.len() as u64 > 9999 {
        return Err(
            format!("BENCH_SWAPS is {swaps}; at most 2499 swaps per case are supported").into(),
        );
    }

    let log = LogCapture::default();
    let subscriber = tracing_subscriber::registry().with(
        log.clone().with_filter(
            Targets::new()
                .with_target(REGISTRY_TARGET, Level::INFO)
                .with_target(LOAD_TARGET, Level::INFO),
        ),
    );
    tracing::subscriber::set_global_default(subscriber)?;

    println!(
        "plugin swap, {} cores, {swaps} swaps per case, one webhook every {} ms, watcher debounce {} ms",
        std::thread::available_parallelism()?.get(),
        interval.as_millis(),
        DEBOUNCE.as_millis(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(swaps, interval, log))
}

/// Paths and handles shared by every swap.
struct Bench {
    log: LogCapture,
    /// The `counter` component as built, with the `seen/` prefix.
    original: Vec<u8>,
    /// The live plugin file, as the registry names it.
    target: PathBuf,
    /// The staging file each version is written to before the rename.
    staged: PathBuf,
    /// A runtime of its own that fills the server's cache folder.
    precompiler: PluginRuntime,
    db: Connection,
}

async fn run(swaps: u64, interval: Duration, log: LogCapture) -> BenchResult {
    let dir = tempfile::tempdir()?;
    let cache_dir = dir.path().join("plugin-cache");
    let serve = ServeArgs {
        plugin_cache_dir: Some(cache_dir.clone()),
        ..ServeArgs::default()
    };
    let address = start_server(dir.path(), &[("counter", None)], serve).await?;

    let target = std::path::absolute(dir.path().join("plugins/counter.wasm"))?;
    let staging = dir.path().join("staging");
    std::fs::create_dir(&staging)?;
    let bench = Bench {
        log,
        original: std::fs::read(&target)?,
        target,
        staged: staging.join("counter.wasm"),
        precompiler: PluginRuntime::with_cache_dir(Limits::default(), Some(&cache_dir))?,
        db: Connection::open_with_flags(
            dir.path().join("bench.db"),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?,
    };

    // The watcher's checks and the webhooks come at fixed periods, and each
    // swap begins when the previous one ended, at a check and just after a
    // webhook. Without a random extra pause over a common multiple of both
    // periods, every rename would fall at the same phase of each.
    let jitter_micros = lcm(WATCH_TICK_MS, interval.as_millis() as u64) * 1000;
    let stream = tokio::spawn(stream_events(address, interval));
    let mut version = 0;
    for case in CASES {
        let mut timings = Vec::new();
        for _ in 0..swaps {
            version += 1;
            let pause = SETTLE + Duration::from_micros(rand::random_range(0..jitter_micros));
            timings.push(swap(&bench, case, &format!("{version:04}/"), pause).await?);
            if stream.is_finished() {
                stream.await??;
                return Err("the webhook stream stopped".into());
            }
        }
        report(case, &timings);
    }
    stream.abort();
    Ok(())
}

/// Returns the least common multiple of `a` and `b`.
fn lcm(a: u64, b: u64) -> u64 {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x * b
}

/// Posts a signed `user.created` webhook every `interval` until aborted.
async fn stream_events(address: SocketAddr, interval: Duration) -> BenchResult {
    let client = reqwest::Client::new();
    let url = format!("http://{address}/workos/webhook");
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut number = 0;
    loop {
        ticker.tick().await;
        let body = user_created(number);
        let header = signature::header_value(WEBHOOK_SECRET, unix_millis(), body.as_bytes());
        client
            .post(&url)
            .header(signature::SIGNATURE_HEADER, header)
            .body(body)
            .send()
            .await?
            .error_for_status()?;
        number += 1;
    }
}

/// The timings of one swap, all measured from the rename.
struct SwapTiming {
    /// Time until the new version's first store write was committed.
    handled: Duration,
    /// Time until the registry logged that it installed the new version.
    installed: Duration,
    /// Start and end of the server's load of the file, if its span was
    /// recorded.
    load: Option<(Duration, Duration)>,
}

/// Renames a new version of `counter`, tagged `tag`, into the plugins
/// folder after `pause`, and times it until its first event is handled.
async fn swap(bench: &Bench, case: Case, tag: &str, pause: Duration) -> BenchResult<SwapTiming> {
    let bytes = with_key_prefix(&bench.original, tag.as_bytes())?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    std::fs::write(&bench.staged, &bytes)?;
    if case.cached {
        precompile(&bench.precompiler, &bench.staged)?;
    }
    if !case.replaces {
        let mark = bench.log.len();
        std::fs::remove_file(&bench.target)?;
        wait_for_log(&bench.log, mark, "plugin unloaded").await?;
    }
    tokio::time::sleep(pause).await;

    let mark = bench.log.len();
    let renamed = Instant::now();
    std::fs::rename(&bench.staged, &bench.target)?;
    let handled = wait_for_first_write(&bench.db, tag, renamed)
        .await
        .map_err(|error| {
            format!(
                "{error}; registry log since the rename: {:?}",
                bench.log.messages_since(mark)
            )
        })?;

    let records = bench.log.since(mark);
    let expected = if case.replaces {
        "plugin reloaded"
    } else {
        "plugin loaded"
    };
    let installed = records
        .iter()
        .find_map(|record| match record {
            Record::Registry {
                at,
                message,
                sha256: Some(logged),
            } if *logged == sha256 => Some((*at, message.clone())),
            _ => None,
        })
        .ok_or("the registry logged no install of the new version")?;
    if installed.1 != expected {
        return Err(format!(
            "expected the registry to log {expected:?}, it logged {:?}",
            installed.1
        )
        .into());
    }
    let target = bench.target.display().to_string();
    let load = records.iter().find_map(|record| match record {
        Record::Load {
            path,
            started,
            ended,
        } if *path == target => Some((*started - renamed, *ended - renamed)),
        _ => None,
    });

    Ok(SwapTiming {
        handled: handled - renamed,
        installed: installed.0 - renamed,
        load,
    })
}

/// Returns a copy of the `counter` component whose store key prefix
/// `seen/` is replaced by `prefix`, which must have the same length.
fn with_key_prefix(component: &[u8], prefix: &[u8]) -> BenchResult<Vec<u8>> {
    if prefix.len() != KEY_PREFIX.len() {
        return Err(format!(
            "the key prefix {prefix:?} is not {} bytes",
            KEY_PREFIX.len()
        )
        .into());
    }
    let positions: Vec<usize> = component
        .windows(KEY_PREFIX.len())
        .enumerate()
        .filter(|(_, window)| *window == KEY_PREFIX)
        .map(|(position, _)| position)
        .collect();
    let [position] = positions[..] else {
        return Err(format!(
            "counter.wasm contains the bytes \"seen/\" {} times, expected once; \
             the guest's store keys changed, so this benchmark cannot tag versions",
            positions.len()
        )
        .into());
    };
    let mut patched = component.to_vec();
    patched[position..position + prefix.len()].copy_from_slice(prefix);
    Ok(patched)
}

/// Compiles `path` into the cache folder and checks that it was compiled,
/// not found there already.
fn precompile(runtime: &PluginRuntime, path: &Path) -> BenchResult {
    let misses = |runtime: &PluginRuntime| runtime.cache_stats().map(|stats| stats.misses);
    let before = misses(runtime);
    drop(runtime.load(path, BTreeMap::new())?);
    if misses(runtime) != before.map(|count| count + 1) {
        return Err("the version was already in the compiled-component cache".into());
    }
    Ok(())
}

/// Polls the database until the plugin store contains a key starting with
/// `tag`, and returns when it was seen.
async fn wait_for_first_write(db: &Connection, tag: &str, since: Instant) -> BenchResult<Instant> {
    // Keys starting with `tag` sort from `tag` up to, not including, `tag`
    // with its last byte incremented. The tag ends in '/', so that is '0'.
    let end = format!("{}0", &tag[..tag.len() - 1]);
    let mut query = db.prepare(
        "SELECT count(*) FROM plugin_store
         WHERE plugin = 'counter' AND key >= ?1 AND key < ?2",
    )?;
    while since.elapsed() < SWAP_TIMEOUT {
        let found: i64 = query.query_row([tag, end.as_str()], |row| row.get(0))?;
        if found > 0 {
            return Ok(Instant::now());
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Err(format!("no event was handled by version {tag} within {SWAP_TIMEOUT:?}").into())
}

/// Waits until the registry logs a message starting with `prefix`, after
/// the first `mark` records.
async fn wait_for_log(log: &LogCapture, mark: usize, prefix: &str) -> BenchResult {
    let started = Instant::now();
    while started.elapsed() < SWAP_TIMEOUT {
        if log
            .messages_since(mark)
            .iter()
            .any(|message| message.starts_with(prefix))
        {
            return Ok(());
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Err(format!(
        "the registry did not log {prefix:?} within {SWAP_TIMEOUT:?}; it logged {:?}",
        log.messages_since(mark)
    )
    .into())
}

fn report(case: Case, timings: &[SwapTiming]) {
    let times = |part: &dyn Fn(&SwapTiming) -> Duration| -> Vec<Duration> {
        timings.iter().map(part).collect()
    };
    println!("{}:", case.label);
    print_line(
        "rename to first event handled",
        &times(&|timing| timing.handled),
    );
    print_line("rename to installed", &times(&|timing| timing.installed));
    let loads: Option<Vec<(Duration, Duration)>> =
        timings.iter().map(|timing| timing.load).collect();
    match loads {
        Some(loads) => {
            let started = loads
                .iter()
                .map(|(started, _)| *started)
                .collect::<Vec<_>>();
            let took = loads
                .iter()
                .map(|(started, ended)| *ended - *started)
                .collect::<Vec<_>>();
            print_line("  rename to load start", &started);
            print_line("  load", &took);
        }
        None => {
            println!("    no load span recorded for some swaps, so no split of the time to install")
        }
    }
    print_line(
        "installed to first event handled",
        &times(&|timing| timing.handled - timing.installed),
    );
}

/// Prints the median, 95th percentile and maximum of `durations`, nearest
/// rank, in milliseconds.
fn print_line(label: &str, durations: &[Duration]) {
    let mut sorted = durations.to_vec();
    sorted.sort();
    let at = |quantile: f64| {
        let rank = (quantile * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
    };
    println!(
        "  {label:<34} p50 {:6.1} ms, p95 {:6.1} ms, max {:6.1} ms",
        at(0.50),
        at(0.95),
        at(1.0)
    );
}

/// A captured tracing record, timestamped when the server emitted it.
#[derive(Debug, Clone)]
enum Record {
    /// A log event of the plugin registry.
    Registry {
        at: Instant,
        message: String,
        sha256: Option<String>,
    },
    /// One `PluginRuntime::load_with` call.
    Load {
        path: String,
        started: Instant,
        ended: Instant,
    },
}

/// A tracing layer that keeps the registry's log events and the spans of
/// plugin loads.
#[derive(Clone, Default)]
struct LogCapture {
    records: Arc<Mutex<Vec<Record>>>,
}

impl LogCapture {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Record>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn since(&self, mark: usize) -> Vec<Record> {
        self.lock()[mark..].to_vec()
    }

    fn messages_since(&self, mark: usize) -> Vec<String> {
        self.since(mark)
            .into_iter()
            .filter_map(|record| match record {
                Record::Registry { message, .. } => Some(message),
                Record::Load { .. } => None,
            })
            .collect()
    }
}

/// The file and start time of a load span, kept in the span's extensions.
struct LoadStart {
    path: String,
    started: Instant,
}

impl<S> Layer<S> for LogCapture
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let metadata = attributes.metadata();
        if metadata.target() != LOAD_TARGET || metadata.name() != LOAD_SPAN {
            return;
        }
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(LoadStart {
                path: fields.path.unwrap_or_default(),
                started: Instant::now(),
            });
        }
    }

    fn on_close(&self, id: Id, context: Context<'_, S>) {
        let Some(span) = context.span(&id) else {
            return;
        };
        let Some(start) = span.extensions_mut().remove::<LoadStart>() else {
            return;
        };
        self.lock().push(Record::Load {
            path: start.path,
            started: start.started,
            ended: Instant::now(),
        });
    }

    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let at = Instant::now();
        if !event.metadata().target().starts_with(REGISTRY_TARGET) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.lock().push(Record::Registry {
            at,
            message: fields.message,
            sha256: fields.sha256,
        });
    }
}

/// The fields of a log event or span that the benchmark reads.
#[derive(Default)]
struct Fields {
    message: String,
    sha256: Option<String>,
    path: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field, format!("{value:?}"));
    }
}

impl Fields {
    fn set(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = value,
            "sha256" => self.sha256 = Some(value),
            "path" => self.path = Some(value),
            _ => {}
        }
    }
}
