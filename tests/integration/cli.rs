//! The `authkit-host` binary: start-up errors, `serve` and `send` together,
//! the errors of `plugins` and the help text.

use std::path::Path;

use crate::support::{
    API_TOKEN, Options, SECRET, ServerProcess, StoredState, TestResult, TestServer, command,
    test_plugins_dir,
};

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

/// Runs `plugins check` on `file` and returns its stderr, after checking
/// that the command failed.
fn failed_check(file: &Path) -> TestResult<String> {
    let output = command().args(["plugins", "check"]).arg(file).output()?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{stderr}");
    Ok(stderr)
}

#[test]
fn plugins_check_reports_reason_first() -> TestResult {
    let dir = tempfile::tempdir()?;
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"not a component")?;
    let plugin = dir.path().join("plugin.wasm");
    std::fs::copy(test_plugins_dir()?.join("deny-gmail.wasm"), &plugin)?;
    let config = dir.path().join("plugin.toml");

    // Each case: the file to check, the text of plugin.toml (None removes
    // it), the file the message must name and the reason it must give.
    let cases = [
        (
            dir.path().join("missing.wasm"),
            None,
            "missing.wasm",
            "cannot read handler file",
        ),
        (garbage, None, "garbage.wasm", "is not a WebAssembly file"),
        (
            plugin.clone(),
            Some("[limits\n"),
            "plugin.toml",
            "line 1: unclosed table",
        ),
        (
            plugin.clone(),
            Some("[limits]\nmemory_mb = 100000\n"),
            "plugin.toml",
            "memory_mb = 100000 is outside 1..=64",
        ),
    ];
    for (file, config_text, named_file, reason) in cases {
        match config_text {
            Some(text) => std::fs::write(&config, text)?,
            None => {
                let _ = std::fs::remove_file(&config);
            }
        }

        let stderr = failed_check(&file)?;
        let first_line = stderr.lines().next().unwrap_or_default();
        assert!(first_line.starts_with("error: "), "{stderr}");
        assert!(first_line.contains(named_file), "{stderr}");
        assert!(first_line.contains(reason), "{stderr}");
        assert!(!stderr.contains("plugin runtime"), "{stderr}");
        assert_eq!(stderr.matches(reason).count(), 1, "{stderr}");
    }
    Ok(())
}

#[test]
fn plugins_check_prints_os_error_once() -> TestResult {
    let dir = tempfile::tempdir()?;

    let stderr = failed_check(&dir.path().join("missing.wasm"))?;

    assert_eq!(stderr.matches("(os error 2)").count(), 1, "{stderr}");
    assert!(!stderr.contains("command failed"), "{stderr}");
    Ok(())
}

#[test]
fn json_log_format_reports_one_record() -> TestResult {
    let dir = tempfile::tempdir()?;

    let output = command()
        .args(["--log-format", "json", "plugins", "check"])
        .arg(dir.path().join("missing.wasm"))
        .output()?;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let record: serde_json::Value = serde_json::from_str(lines[0])?;
    assert_eq!(record["level"], "ERROR", "{record}");
    let error = record["error"].as_str().ok_or("no error field")?;
    assert!(error.starts_with("cannot read handler file"), "{error}");
    assert!(error.contains("missing.wasm"), "{error}");
    assert_eq!(error.matches("(os error 2)").count(), 1, "{error}");
    Ok(())
}

#[test]
fn plugins_check_blames_low_limits() -> TestResult {
    let dir = tempfile::tempdir()?;
    let plugin = dir.path().join("plugin.wasm");
    std::fs::copy(test_plugins_dir()?.join("deny-gmail.wasm"), &plugin)?;
    let config = dir.path().join("plugin.toml");

    for (limit, text) in [
        ("memory_mb", "[limits]\nmemory_mb = 1\n"),
        ("table_elements", "[limits]\ntable_elements = 1\n"),
    ] {
        std::fs::write(&config, text)?;

        let stderr = failed_check(&plugin)?;
        let first_line = stderr.lines().next().unwrap_or_default();
        assert!(first_line.contains(&format!("raise {limit}")), "{stderr}");
        assert!(
            first_line.contains(&config.display().to_string()),
            "{stderr}"
        );
        assert!(!stderr.contains("fix the handler"), "{stderr}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_list_shows_server_message() -> TestResult {
    let without_token = TestServer::start_with(Options {
        api_token: None,
        ..Options::default()
    })
    .await?;
    let with_token = TestServer::start().await?;

    // Each case: the server, the token the command sends, and the status
    // and message the command must print.
    let cases = [
        (
            &without_token,
            API_TOKEN,
            "403 Forbidden",
            "no API token is configured",
        ),
        (
            &with_token,
            "not-the-token",
            "401 Unauthorized",
            "invalid bearer token",
        ),
    ];
    for (server, token, status, message) in cases {
        let output = command()
            .env("AUTHKIT_API_TOKEN", token)
            .args(["plugins", "--url", &server.url("")])
            .output()?;

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        let first_line = stderr.lines().next().unwrap_or_default();
        assert!(first_line.contains("/plugins"), "{stderr}");
        assert!(first_line.contains(status), "{stderr}");
        assert!(first_line.contains(message), "{stderr}");
    }
    Ok(())
}

#[test]
fn log_format_help_has_one_default() -> TestResult {
    let output = command().arg("--help").output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");

    let help: String = stdout
        .split("--log-format")
        .nth(1)
        .and_then(|rest| rest.split("\n\n  -").next())
        .ok_or("no --log-format option in the help")?
        .to_owned();
    assert_eq!(help.matches("[default:").count(), 1, "{help}");
    assert!(help.contains("[default: text]"), "{help}");
    assert!(help.contains("RUST_LOG"), "{help}");
    Ok(())
}
