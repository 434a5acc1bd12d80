//! Webhook ingest benchmark: signed webhooks over loopback HTTP into a real
//! server with a SQLite file, measuring acknowledged events per second and
//! latency. Every acknowledged event is durable (WAL with synchronous=FULL),
//! and the run checks at the end that the database holds every one.
//!
//! Run: `cargo bench -p authkit-host --bench webhook_ingest`
//!
//! Environment variables tune it: `BENCH_SECONDS` (per phase, default 10),
//! `BENCH_CONCURRENCY` (saturation phase, default 64), `BENCH_RATE` (events
//! per second in the fixed-rate phase, default 1000). The server and the load
//! generator share the machine, as they would on a small host.

#![allow(
    clippy::print_stdout,
    reason = "the report on stdout is this benchmark's output"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use authkit_host::config::ServeArgs;
use authkit_host::signature;
use common::{BenchResult, WEBHOOK_SECRET, env_number, start_server, unix_millis, user_created};
use hdrhistogram::Histogram;
use tokio::sync::Mutex;

fn main() -> BenchResult {
    // `cargo bench` passes `--bench`; any other argument is a filter this
    // benchmark has no use for.
    let seconds = env_number("BENCH_SECONDS", 10);
    let concurrency = env_number("BENCH_CONCURRENCY", 64);
    let rate = env_number("BENCH_RATE", 1000);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(
        Duration::from_secs(seconds),
        concurrency as usize,
        rate,
    ))
}

async fn run(phase: Duration, concurrency: usize, rate: u64) -> BenchResult {
    let dir = tempfile::tempdir()?;
    let db_path = dir.path().join("bench.db");
    let address = start_server(dir.path(), &[], ServeArgs::default()).await?;
    let url = format!("http://{address}/workos/webhook");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let counter = Arc::new(AtomicU64::new(0));

    println!("webhook ingest over loopback HTTP, SQLite WAL synchronous=FULL");
    println!(
        "machine: {} cores",
        std::thread::available_parallelism()?.get()
    );

    let saturated = saturate(&client, &url, &counter, concurrency, phase).await?;
    println!(
        "saturation ({concurrency} concurrent clients, {}s): {:.0} events/s acknowledged, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        phase.as_secs(),
        saturated.acknowledged as f64 / saturated.elapsed.as_secs_f64(),
        millis(saturated.latency.value_at_quantile(0.50)),
        millis(saturated.latency.value_at_quantile(0.99)),
        millis(saturated.latency.max()),
    );

    let paced = fixed_rate(&client, &url, &counter, rate, phase).await?;
    println!(
        "fixed rate ({rate} events/s, {}s): {} acknowledged, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        phase.as_secs(),
        paced.acknowledged,
        millis(paced.latency.value_at_quantile(0.50)),
        millis(paced.latency.value_at_quantile(0.99)),
        millis(paced.latency.max()),
    );

    let acknowledged = saturated.acknowledged + paced.acknowledged;
    let stored = count_events(&db_path)?;
    println!("durability check: {acknowledged} acknowledged, {stored} in the database");
    if stored < acknowledged {
        return Err(
            format!("{acknowledged} events were acknowledged but only {stored} stored").into(),
        );
    }
    Ok(())
}

struct PhaseResult {
    acknowledged: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

/// Sends from `concurrency` clients back to back for `phase`.
async fn saturate(
    client: &reqwest::Client,
    url: &str,
    counter: &Arc<AtomicU64>,
    concurrency: usize,
    phase: Duration,
) -> BenchResult<PhaseResult> {
    let latency = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + phase;

    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, counter) = (client.clone(), url.to_owned(), Arc::clone(counter));
            let (latency, acknowledged) = (Arc::clone(&latency), Arc::clone(&acknowledged));
            tokio::spawn(async move {
                let mut local = Histogram::<u64>::new(3).expect("valid histogram bounds");
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if send_one(&client, &url, &counter).await {
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                        let _ = local.record(sent.elapsed().as_micros() as u64);
                    }
                }
                let _ = latency.lock().await.add(&local);
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }

    let elapsed = started.elapsed();
    let latency = Arc::try_unwrap(latency)
        .map_err(|_| "workers still running")?
        .into_inner();
    Ok(PhaseResult {
        acknowledged: acknowledged.load(Ordering::Relaxed),
        elapsed,
        latency,
    })
}

/// Starts one request every `1/rate` seconds, whatever the responses do, and
/// measures latency from each request's scheduled start, so a stall counts
/// against every request it delays.
async fn fixed_rate(
    client: &reqwest::Client,
    url: &str,
    counter: &Arc<AtomicU64>,
    rate: u64,
    phase: Duration,
) -> BenchResult<PhaseResult> {
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let total = rate * phase.as_secs();
    let started = Instant::now();
    let mut requests = Vec::with_capacity(total as usize);

    for index in 0..total {
        let scheduled = started + interval.mul_f64(index as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url, counter) = (client.clone(), url.to_owned(), Arc::clone(counter));
        requests.push(tokio::spawn(async move {
            let ok = send_one(&client, &url, &counter).await;
            (ok, scheduled.elapsed())
        }));
    }

    let mut latency = Histogram::<u64>::new(3)?;
    let mut acknowledged = 0;
    for request in requests {
        let (ok, elapsed) = request.await?;
        if ok {
            acknowledged += 1;
            latency.record(elapsed.as_micros() as u64)?;
        }
    }
    Ok(PhaseResult {
        acknowledged,
        elapsed: started.elapsed(),
        latency,
    })
}

/// Sends one signed event with a fresh id; returns whether it was stored.
async fn send_one(client: &reqwest::Client, url: &str, counter: &AtomicU64) -> bool {
    let number = counter.fetch_add(1, Ordering::Relaxed);
    let body = user_created(number);
    let header = signature::header_value(WEBHOOK_SECRET, unix_millis(), body.as_bytes());

    let response = client
        .post(url)
        .header(signature::SIGNATURE_HEADER, header)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    matches!(response, Ok(response) if response.status().is_success())
}

fn count_events(db_path: &std::path::Path) -> BenchResult<u64> {
    let connection = rusqlite::Connection::open(db_path)?;
    let count: i64 = connection.query_row("SELECT count(*) FROM events", [], |row| row.get(0))?;
    Ok(count as u64)
}

fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}
