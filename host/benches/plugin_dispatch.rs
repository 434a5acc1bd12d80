//! Plugin dispatch benchmark.
//!
//! Part one measures one invocation of a Rust plugin in isolation: a fresh
//! instance from the pre-linked component, the `handle-event` call and the
//! host imports it makes, with an in-memory store, so no disk sync is
//! included. Part two measures delivered events per second for one plugin
//! through the real server: signed webhooks in over loopback HTTP, the
//! durable queue, the plugin, and the SQLite commit of its writes.
//!
//! Run: `cargo bench -p authkit-host --bench plugin_dispatch`
//!
//! `BENCH_INVOCATIONS` (default 5000) and `BENCH_EVENTS` (default 20000)
//! set the sizes.

#![allow(
    clippy::print_stdout,
    reason = "the report on stdout is this benchmark's output"
)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use authkit_host::config::ServeArgs;
use authkit_host::plugin::{EventInput, Limits, MemoryData, PluginRuntime};
use authkit_host::signature;
use common::{
    BenchResult, WEBHOOK_SECRET, build_plugins, env_number, start_server, summary, unix_millis,
    user_created,
};
use hdrhistogram::Histogram;

fn main() -> BenchResult {
    let invocations = env_number("BENCH_INVOCATIONS", 5000);
    let events = env_number("BENCH_EVENTS", 20_000);

    println!(
        "plugin dispatch, {} cores",
        std::thread::available_parallelism()?.get()
    );
    let plugins = build_plugins()?;
    for plugin in ["counter", "todo-lists"] {
        measure_invocations(&plugins.join(format!("{plugin}.wasm")), plugin, invocations)?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(measure_delivery_rate(events))
}

/// Times `handle-event` calls, each in a fresh instance, with an in-memory store.
fn measure_invocations(path: &std::path::Path, name: &str, count: u64) -> BenchResult {
    let runtime = PluginRuntime::new(Limits::default())?;
    let plugin = runtime.load(path, BTreeMap::new())?;
    let mut histogram = Histogram::<u64>::new(3)?;

    for number in 0..count + 100 {
        let data = format!(
            r#"{{"object":"user","id":"user_{number}","email":"u{number}@example.com","email_verified":true,"first_name":"A","last_name":"B","metadata":{{}},"created_at":"2026-11-02T09:14:03.118Z","updated_at":"2026-11-02T09:14:03.118Z"}}"#
        );
        let event = EventInput {
            id: format!("event_{number}"),
            event_type: "user.created".to_owned(),
            created_at: "2026-11-02T09:14:03.201Z".to_owned(),
            data,
            context: None,
        };

        let started = Instant::now();
        let (result, _) = plugin.handle_event(&event, MemoryData::new());
        let elapsed = started.elapsed();

        result?;
        // The first calls warm caches; they are not measured.
        if number >= 100 {
            histogram.record(elapsed.as_nanos() as u64 / 1000)?;
        }
    }
    println!(
        "one invocation of {name} (instantiate + handle-event, in-memory store): {}",
        summary(&histogram)
    );
    Ok(())
}

/// Sends `count` signed events to a server with one plugin and reports how
/// fast the plugin's deliveries complete.
async fn measure_delivery_rate(count: u64) -> BenchResult {
    let dir = tempfile::tempdir()?;
    let address = start_server(dir.path(), &[("counter", None)], ServeArgs::default()).await?;
    let url = format!("http://{address}/workos/webhook");
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    let senders: Vec<_> = (0..32)
        .map(|_| {
            let (client, url, next) = (client.clone(), url.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let number = next.fetch_add(1, Ordering::Relaxed);
                    if number >= count {
                        return Ok::<_, reqwest::Error>(());
                    }
                    let body = user_created(number);
                    let header =
                        signature::header_value(WEBHOOK_SECRET, unix_millis(), body.as_bytes());
                    client
                        .post(&url)
                        .header(signature::SIGNATURE_HEADER, header)
                        .body(body)
                        .send()
                        .await?
                        .error_for_status()?;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await??;
    }
    let ingested = started.elapsed();

    let db = rusqlite::Connection::open(dir.path().join("bench.db"))?;
    loop {
        let remaining: i64 = db.query_row(
            "SELECT (SELECT count(*) FROM deliveries)
                  + (SELECT count(*) FROM events WHERE sequence > (SELECT last_sequence FROM dispatch_cursor))",
            [],
            |row| row.get(0),
        )?;
        if remaining == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered = started.elapsed();

    let handled: String = db.query_row(
        "SELECT CAST(value AS TEXT) FROM plugin_store WHERE plugin = 'counter' AND key = 'count'",
        [],
        |row| row.get(0),
    )?;
    if handled.parse::<u64>()? != count {
        return Err(format!("the plugin counted {handled} events, expected {count}").into());
    }
    println!(
        "one plugin through the server: {count} events ingested in {:.2} s, all delivered after {:.2} s: {:.0} delivered events/s",
        ingested.as_secs_f64(),
        delivered.as_secs_f64(),
        count as f64 / delivered.as_secs_f64(),
    );
    Ok(())
}
