//! The `authkit-host` binary: start-up errors, `serve` and `send` together.

use std::path::Path;

use crate::support::{SECRET, ServerProcess, StoredState, TestResult, command};

#[test]
fn serve_requires_webhook_secret() -> TestResult {
    let dir = tempfile::tempdir()?;

    let output = command()
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("a.db"))
        .output()?;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("WORKOS_WEBHOOK_SECRET"), "{stderr}");
    assert!(!dir.path().join("a.db").exists());
    Ok(())
}

#[test]
fn serve_rejects_unknown_config_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("authkit.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nwebhook_secret = \"x\"\n",
    )?;

    let output = command()
        .env("WORKOS_WEBHOOK_SECRET", SECRET)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .output()?;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("webhook_secret"), "{stderr}");
    Ok(())
}

#[test]
fn send_delivers_sample_events() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::start(dir.path(), &[])?;
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events");
    let url = format!("http://{}/workos/webhook", server.address);

    let output = command()
        .env("WORKOS_WEBHOOK_SECRET", SECRET)
        .args(["send", "--url", &url])
        .arg(&events)
        .output()?;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().count(), 9, "{stdout}");
    assert!(
        stdout.lines().all(|line| line.contains(" 200 ")),
        "{stdout}"
    );

    let wrong_secret = command()
        .env("WORKOS_WEBHOOK_SECRET", "not-the-secret")
        .args(["send", "--url", &url])
        .arg(events.join("01-user.created.json"))
        .output()?;
    assert!(!wrong_secret.status.success());
    assert!(String::from_utf8_lossy(&wrong_secret.stdout).contains(" 401 "));

    let status = server.terminate()?;
    assert!(status.success(), "server exited with {status}");
    let db = StoredState::open(&dir.path().join("authkit.db"))?;
    assert_eq!(db.count("events")?, 9);
    assert_eq!(db.count("users")?, 1);
    Ok(())
}

#[test]
fn send_requires_secret() -> TestResult {
    let output = command()
        .args([
            "send",
            "--url",
            "http://127.0.0.1:9/workos/webhook",
            "missing.json",
        ])
        .output()?;

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("WORKOS_WEBHOOK_SECRET"));
    Ok(())
}
