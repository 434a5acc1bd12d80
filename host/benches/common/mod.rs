//! Helpers shared by the benchmark binaries: an in-process server on a
//! loopback port, the test plugin components, signing and reporting.

#![allow(dead_code, reason = "each benchmark uses a different part")]
#![allow(
    unreachable_pub,
    reason = "shared with the benchmark binaries, exported nowhere"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authkit_host::config::{Secrets, ServeArgs, ServerConfig};
use hdrhistogram::Histogram;

/// The webhook secret of benchmark servers.
pub const WEBHOOK_SECRET: &str = "whsec_benchmark";
/// The Actions secret of benchmark servers.
pub const ACTION_SECRET: &str = "action_secret_benchmark";

/// The result type of benchmark code.
pub type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Reads a number from the environment, or returns the default.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Builds the example and test plugins and returns their folder.
pub fn build_plugins() -> BenchResult<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("target/test-plugins");
    for script in ["examples/build-plugins.sh", "tests/guests/build.sh"] {
        let status = std::process::Command::new("bash")
            .arg(root.join(script))
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            return Err(format!("{script} failed").into());
        }
    }
    Ok(out)
}

/// Starts a server in this process with its database and plugins folder in
/// `dir`, copying the named plugins there first. Returns its address.
pub async fn start_server(
    dir: &Path,
    plugins: &[(&str, Option<&str>)],
    serve: ServeArgs,
) -> BenchResult<SocketAddr> {
    let plugins_dir = dir.join("plugins");
    std::fs::create_dir_all(&plugins_dir)?;
    if !plugins.is_empty() {
        let source = build_plugins()?;
        for (name, settings) in plugins {
            std::fs::copy(
                source.join(format!("{name}.wasm")),
                plugins_dir.join(format!("{name}.wasm")),
            )?;
            if let Some(settings) = settings {
                std::fs::write(plugins_dir.join(format!("{name}.toml")), settings)?;
            }
        }
    }

    let args = ServeArgs {
        listen: Some("127.0.0.1:0".parse()?),
        db: Some(dir.join("bench.db")),
        plugins: Some(plugins_dir),
        ..serve
    };
    let secrets = Secrets::from_env(|name| match name {
        "WORKOS_WEBHOOK_SECRET" => Some(WEBHOOK_SECRET.to_owned()),
        "WORKOS_ACTION_SECRET" => Some(ACTION_SECRET.to_owned()),
        _ => None,
    })?;
    let config = ServerConfig::resolve(args, secrets)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    tokio::spawn(authkit_host::server::serve(
        listener,
        config,
        std::future::pending(),
    ));

    let client = reqwest::Client::new();
    for _ in 0..500 {
        if client
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .is_ok()
        {
            return Ok(address);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("the server did not start".into())
}

/// Returns the current Unix time in milliseconds.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// Returns a `user.created` event body with ids derived from `number`.
pub fn user_created(number: u64) -> String {
    format!(
        r#"{{"object":"event","id":"event_bench_{number}","event":"user.created","data":{{"object":"user","id":"user_bench_{number}","email":"bench{number}@example.com","email_verified":true,"first_name":"Bench","last_name":"Mark","profile_picture_url":null,"last_sign_in_at":null,"external_id":null,"metadata":{{}},"created_at":"2026-11-02T09:14:03.118Z","updated_at":"2026-11-02T09:14:03.118Z"}},"created_at":"2026-11-02T09:14:03.201Z"}}"#
    )
}

/// Formats the median, 99th percentile and maximum of a histogram of
/// microseconds.
pub fn summary(histogram: &Histogram<u64>) -> String {
    format!(
        "p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} samples)",
        histogram.value_at_quantile(0.50) as f64 / 1000.0,
        histogram.value_at_quantile(0.99) as f64 / 1000.0,
        histogram.max() as f64 / 1000.0,
        histogram.len(),
    )
}
