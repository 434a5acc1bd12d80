//! Action round-trip benchmark: signed Action requests over loopback HTTP to
//! a real server that decides them with one Rust plugin (deny-gmail),
//! records the decision durably and answers signed.
//!
//! Run: `cargo bench -p authkit-host --bench action_roundtrip`
//!
//! `BENCH_RATE` (requests per second, default 200) and `BENCH_SECONDS`
//! (default 10) set the load. Latency is measured from each request's
//! scheduled start, so a stall counts against every request it delays.

#![allow(
    clippy::print_stdout,
    reason = "the report on stdout is this benchmark's output"
)]

mod common;

use std::time::{Duration, Instant};

use authkit_host::config::ServeArgs;
use authkit_host::signature;
use common::{ACTION_SECRET, BenchResult, env_number, start_server, summary, unix_millis};
use hdrhistogram::Histogram;

const REGISTRATION: &str = include_str!("../../examples/actions/user_registration-company.json");

fn main() -> BenchResult {
    let rate = env_number("BENCH_RATE", 200);
    let seconds = env_number("BENCH_SECONDS", 10);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(rate, Duration::from_secs(seconds)))
}

async fn run(rate: u64, phase: Duration) -> BenchResult {
    let dir = tempfile::tempdir()?;
    let address = start_server(dir.path(), &[("deny-gmail", None)], ServeArgs::default()).await?;
    let url = format!("http://{address}/workos/action");
    let client = reqwest::Client::new();

    // Warm the connection pool and the plugin.
    for _ in 0..50 {
        send(&client, &url).await?;
    }

    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let total = rate * phase.as_secs();
    let started = Instant::now();
    let mut requests = Vec::with_capacity(total as usize);
    for index in 0..total {
        let scheduled = started + interval.mul_f64(index as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url) = (client.clone(), url.clone());
        requests.push(tokio::spawn(async move {
            send(&client, &url).await.map(|()| scheduled.elapsed())
        }));
    }

    let mut histogram = Histogram::<u64>::new(3)?;
    for request in requests {
        histogram.record(request.await??.as_micros() as u64)?;
    }
    println!(
        "action round trip with one Rust plugin, {} cores, {rate} requests/s for {}s: {}",
        std::thread::available_parallelism()?.get(),
        phase.as_secs(),
        summary(&histogram)
    );
    Ok(())
}

async fn send(client: &reqwest::Client, url: &str) -> BenchResult {
    let header = signature::header_value(ACTION_SECRET, unix_millis(), REGISTRATION.as_bytes());
    let response = client
        .post(url)
        .header(signature::SIGNATURE_HEADER, header)
        .body(REGISTRATION)
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    if status != 200 || !body.contains(r#""verdict":"Allow""#) {
        return Err(format!("unexpected answer {status}: {body}").into());
    }
    Ok(())
}
