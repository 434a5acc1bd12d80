//! Plugins added, replaced, broken and removed while the server runs, and
//! the `/plugins` status and `plugins` command.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::{
    Options, TestResult, TestServer, command, counter_count, post_users, test_plugins_dir,
    user_event, wait_until,
};

const SETTLE: Duration = Duration::from_secs(30);

/// Copies a test plugin to `dir/<name>.wasm` through a temporary name and
/// a rename, the reliable way to deploy.
fn deploy(dir: &Path, component: &str, name: &str) -> TestResult {
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{name}.wasm.part"));
    std::fs::copy(
        test_plugins_dir()?.join(format!("{component}.wasm")),
        &temporary,
    )?;
    std::fs::rename(&temporary, dir.join(format!("{name}.wasm")))?;
    Ok(())
}

async fn plugins_report(server: &TestServer) -> TestResult<Value> {
    let (status, report) = server.get_with_token("/plugins").await?;
    assert_eq!(status, 200, "{report}");
    Ok(report)
}

/// Polls `/plugins` every 20 ms until `settled` holds for the report, or
/// until [`SETTLE`] has passed, and returns the last report, so the caller's
/// assertions show what the server reported.
async fn poll_report(server: &TestServer, settled: impl Fn(&Value) -> bool) -> TestResult<Value> {
    let started = std::time::Instant::now();
    loop {
        let report = plugins_report(server).await?;
        if settled(&report) || started.elapsed() > SETTLE {
            return Ok(report);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Returns the names of the loaded plugins in a report.
fn loaded_names(report: &Value) -> Vec<String> {
    report["plugins"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|plugin| plugin["name"].as_str().map(str::to_owned))
        .collect()
}

/// Polls until the loaded plugins are exactly `expected` and returns them.
async fn wait_for_names(server: &TestServer, expected: &[&str]) -> TestResult<Vec<String>> {
    let report = poll_report(server, |report| loaded_names(report) == expected).await?;
    Ok(loaded_names(&report))
}

/// Returns whether a report lists a file that failed to load.
fn has_load_errors(report: &Value) -> bool {
    report["load_errors"]
        .as_array()
        .is_some_and(|errors| !errors.is_empty())
}

/// Returns the file that serves `name` in a report.
fn served_from(report: &Value, name: &str) -> Option<String> {
    report["plugins"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|plugin| plugin["name"] == name)
        .and_then(|plugin| plugin["file"].as_str())
        .map(str::to_owned)
}

#[tokio::test]
async fn new_file_loaded_without_restart() -> TestResult {
    let server = TestServer::start().await?;
    assert!(loaded_names(&plugins_report(&server).await?).is_empty());

    deploy(&server.plugins_dir(), "counter", "counter")?;

    let names = wait_for_names(&server, &["counter"]).await?;
    assert_eq!(names, vec!["counter"]);
    post_users(&server, "new", 5).await?;
    wait_until(SETTLE, "the new plugin handles the events", || {
        Ok(counter_count(&server)? == 5)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn replacement_handles_each_event_once() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("counter", Some("[settings]\nspin_ms = \"1\"\n".to_owned()))],
        ..Options::default()
    })
    .await?;
    let first_load = plugins_report(&server).await?["plugins"][0]["loaded_at"].clone();
    let settings = server.plugins_dir().join("counter.toml");

    // Each settings change is a new version of the plugin, and it records
    // its version beside each event it handles. Events keep streaming in
    // while the versions swap.
    for round in 0..4 {
        std::fs::write(
            &settings,
            format!(
                "[settings]\nspin_ms = \"{}\"\nversion = \"{round}\"\n",
                round % 2
            ),
        )?;
        post_users(&server, &format!("swap{round}"), 40).await?;
        deploy(&server.plugins_dir(), "counter", "counter")?;
    }

    wait_until(SETTLE, "every event is handled", || {
        let db = server.db()?;
        Ok(db.undispatched()? == 0 && db.deliveries()?.is_empty())
    })
    .await?;
    assert_eq!(counter_count(&server)?, 160);
    let seen = server
        .db()?
        .plugin_keys("counter")?
        .iter()
        .filter(|key| key.starts_with("seen/"))
        .count();
    assert_eq!(seen, 160);

    // More than one version handled the events, so versions were swapped
    // while events were being handled.
    let db = server.db()?;
    let mut versions = std::collections::BTreeSet::new();
    for round in 0..4 {
        for index in 0..40 {
            let event_id = format!("event_swap{round}_{index}");
            if let Some(version) = db.plugin_value("counter", &format!("version/{event_id}"))? {
                versions.insert(version);
            }
        }
    }
    assert!(
        versions.len() >= 2,
        "one version handled everything: {versions:?}"
    );

    // The last settings file differs from the first, so a reload happens.
    let report = poll_report(&server, |report| {
        report["plugins"][0]["loaded_at"] != first_load
    })
    .await?;
    assert_ne!(report["plugins"][0]["loaded_at"], first_load, "{report}");
    Ok(())
}

#[tokio::test]
async fn broken_replacement_keeps_previous_version() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("counter", None)],
        ..Options::default()
    })
    .await?;
    let dir = server.plugins_dir();
    let temporary = dir.join(".broken.part");
    std::fs::write(&temporary, b"\0asm\x0d\0\x01\0 truncated component")?;
    std::fs::rename(&temporary, dir.join("counter.wasm"))?;

    let report = poll_report(&server, has_load_errors).await?;
    let error = &report["load_errors"][0];
    assert!(
        error["file"]
            .as_str()
            .unwrap_or_default()
            .ends_with("counter.wasm"),
        "{report}"
    );
    assert!(
        !error["error"].as_str().unwrap_or_default().is_empty(),
        "{report}"
    );
    assert_eq!(report["plugins"][0]["name"], "counter", "{report}");

    post_users(&server, "broken", 3).await?;
    wait_until(SETTLE, "the previous version still handles events", || {
        Ok(counter_count(&server)? == 3)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn slow_copy_not_reported_broken() -> TestResult {
    let server = TestServer::start().await?;
    let bytes = std::fs::read(test_plugins_dir()?.join("counter.wasm"))?;
    let target = server.plugins_dir().join("counter.wasm");
    std::fs::create_dir_all(server.plugins_dir())?;

    // Write the component straight into place in pieces, pausing for less
    // than the debounce time between them.
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&target)?;
        for chunk in bytes.chunks(bytes.len() / 8 + 1) {
            file.write_all(chunk)?;
            file.flush()?;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    let report = poll_report(&server, |report| !loaded_names(report).is_empty()).await?;
    assert_eq!(report["plugins"][0]["name"], "counter", "{report}");
    assert_eq!(report["load_errors"], serde_json::json!([]), "{report}");
    Ok(())
}

#[tokio::test]
async fn removed_plugin_resumes_when_restored() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("counter", Some("[settings]\nspin_ms = \"20\"\n".to_owned()))],
        ..Options::default()
    })
    .await?;
    post_users(&server, "removed", 60).await?;
    wait_until(SETTLE, "some events are handled", || {
        Ok(counter_count(&server)? > 0)
    })
    .await?;

    std::fs::remove_file(server.plugins_dir().join("counter.wasm"))?;
    let names = wait_for_names(&server, &[]).await?;
    assert!(names.is_empty(), "{names:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let while_removed = counter_count(&server)?;
    let pending = server.db()?.deliveries()?.len();
    assert!(pending > 0, "every event was handled before the removal");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        counter_count(&server)?,
        while_removed,
        "a removed plugin kept handling events"
    );

    deploy(&server.plugins_dir(), "counter", "counter")?;
    wait_until(SETTLE, "the restored plugin handles the rest", || {
        Ok(server.db()?.deliveries()?.is_empty())
    })
    .await?;
    assert_eq!(counter_count(&server)?, 60);
    Ok(())
}

// Multi-threaded, because the `plugins` command below blocks this thread
// while the in-process server answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_failures() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("failing-handler", None)],
        max_attempts: Some(1),
        ..Options::default()
    })
    .await?;
    post_users(&server, "ok", 2).await?;
    let failing = user_event(
        "event_status_fail",
        "user.created",
        "user_status_fail",
        "fail@example.com",
        "2026-11-02T09:00:00Z",
    );
    server.post_webhook(&failing).await?;

    wait_until(SETTLE, "every delivery is done or dead", || {
        let db = server.db()?;
        Ok(db.undispatched()? == 0 && db.deliveries()?.iter().all(|delivery| delivery.2 == "dead"))
    })
    .await?;
    let report = plugins_report(&server).await?;
    let plugin = &report["plugins"][0];
    assert_eq!(plugin["handled"], 2, "{report}");
    assert_eq!(plugin["failed"], 1, "{report}");
    assert!(
        plugin["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("event_status_fail"),
        "{report}"
    );
    assert_eq!(plugin["sha256"].as_str().map(str::len), Some(64));

    let listed = command()
        .args(["plugins", "--url", &server.url("")])
        .env("AUTHKIT_API_TOKEN", crate::support::API_TOKEN)
        .output()?;
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(stdout.contains("failing-handler"), "{stdout}");
    assert!(stdout.contains("handled 2, failed 1"), "{stdout}");
    Ok(())
}

/// Waits until `/plugins` lists exactly `name`, served from `file`, with no
/// load errors, and returns the report.
async fn wait_until_served_from(server: &TestServer, name: &str, file: &str) -> TestResult<Value> {
    let report = poll_report(server, |report| {
        served_from(report, name).is_some_and(|served| served.ends_with(file))
            && !has_load_errors(report)
    })
    .await?;
    assert_eq!(
        report["plugins"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_eq!(report["plugins"][0]["name"], name, "{report}");
    assert!(
        report["plugins"][0]["file"]
            .as_str()
            .is_some_and(|served| served.ends_with(file)),
        "{report}"
    );
    assert_eq!(report["load_errors"], serde_json::json!([]), "{report}");
    Ok(report)
}

#[tokio::test]
async fn rename_inside_folder_keeps_serving() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("counter", None)],
        ..Options::default()
    })
    .await?;
    let plugins = server.plugins_dir();

    // Events stream in while the file is renamed. An event fanned out while
    // no plugin serves the name is never queued for it, so any gap would
    // show as a missing count.
    let rename = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        std::fs::rename(
            plugins.join("counter.wasm"),
            plugins.join("counter-v2.wasm"),
        )?;
        TestResult::Ok(())
    };
    let (posted, renamed) = tokio::join!(post_users(&server, "moved", 40), rename);
    posted?;
    renamed?;

    wait_until_served_from(&server, "counter", "counter-v2.wasm").await?;
    post_users(&server, "after", 5).await?;
    wait_until(SETTLE, "every event is handled", || {
        Ok(counter_count(&server)? == 45)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn versioned_deploy_takes_over_name() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("counter", None)],
        ..Options::default()
    })
    .await?;
    let plugins = server.plugins_dir();

    // The new version arrives under a new file name while the old file
    // still serves the name, so it waits, reported as a load error.
    deploy(&plugins, "counter", "counter-2")?;
    let report = poll_report(&server, has_load_errors).await?;
    let error = report["load_errors"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("already loaded from"), "{report}");
    assert!(error.contains("takes the name over"), "{report}");
    assert!(
        report["plugins"][0]["file"]
            .as_str()
            .is_some_and(|file| file.ends_with("/counter.wasm")),
        "{report}"
    );

    // Removing the old file hands the name to the waiting version while
    // events stream in.
    let remove = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        std::fs::remove_file(plugins.join("counter.wasm"))?;
        TestResult::Ok(())
    };
    let (posted, removed) = tokio::join!(post_users(&server, "handover", 40), remove);
    posted?;
    removed?;

    wait_until_served_from(&server, "counter", "counter-2.wasm").await?;
    wait_until(SETTLE, "every event is handled", || {
        Ok(counter_count(&server)? == 40)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn events_kept_while_redeploying() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("counter", None)],
        ..Options::default()
    })
    .await?;
    let plugins = server.plugins_dir();

    // The old file goes before the new one arrives, and events arrive in
    // between. They are queued for the unloaded plugin during the grace
    // period and handled by the new version.
    std::fs::remove_file(plugins.join("counter.wasm"))?;
    let names = wait_for_names(&server, &[]).await?;
    assert!(names.is_empty(), "{names:?}");
    post_users(&server, "between", 10).await?;
    deploy(&plugins, "counter", "counter-v2")?;

    wait_until(SETTLE, "the events posted in between are handled", || {
        Ok(counter_count(&server)? == 10)
    })
    .await?;
    Ok(())
}

/// Deliveries queued while a plugin was away go to the version that
/// returns only if it still subscribes to their type.
#[tokio::test]
async fn returning_version_gets_only_events_it_subscribes_to() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![(
            "counter",
            Some("[settings]\nevents = \"user.created\"\n".to_owned()),
        )],
        ..Options::default()
    })
    .await?;
    let plugins = server.plugins_dir();

    std::fs::remove_file(plugins.join("counter.wasm"))?;
    wait_for_names(&server, &[]).await?;
    post_users(&server, "while-away", 3).await?;
    wait_until(SETTLE, "the events are queued for counter", || {
        let db = server.db()?;
        Ok(db.undispatched()? == 0 && db.deliveries()?.len() == 3)
    })
    .await?;

    deploy_settings(
        &plugins,
        "counter",
        "[settings]\nevents = \"user.updated\"\n",
    )?;
    deploy(&plugins, "counter", "counter")?;
    wait_for_names(&server, &["counter"]).await?;
    wait_until(SETTLE, "the queued deliveries are done", || {
        Ok(server.db()?.deliveries()?.is_empty())
    })
    .await?;
    assert_eq!(counter_count(&server)?, 0);

    // The type it subscribes to now is delivered.
    let update = user_event(
        "event_after_return",
        "user.updated",
        "user_while-away_0",
        "plugins@example.com",
        "2026-11-02T10:00:00Z",
    );
    let (status, reply) = server.post_webhook(&update).await?;
    assert_eq!(status, 200, "{reply}");
    wait_until(SETTLE, "the update is handled", || {
        Ok(counter_count(&server)? == 1)
    })
    .await?;
    Ok(())
}

#[cfg(unix)]
#[tokio::test]
async fn fifo_in_folder_reported_not_read() -> TestResult {
    let server = TestServer::start().await?;
    let plugins = server.plugins_dir();
    std::fs::create_dir_all(&plugins)?;

    // Reading a FIFO without a writer blocks forever, so the server must
    // not read it.
    let made = std::process::Command::new("mkfifo")
        .arg(plugins.join("evil.wasm"))
        .status()?;
    assert!(made.success());
    let report = poll_report(&server, has_load_errors).await?;
    let error = report["load_errors"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("not a regular file"), "{report}");

    deploy(&plugins, "counter", "counter")?;
    let names = wait_for_names(&server, &["counter"]).await?;
    assert_eq!(names, vec!["counter"]);
    post_users(&server, "after_fifo", 3).await?;
    wait_until(
        SETTLE,
        "the plugin deployed after the FIFO handles events",
        || Ok(counter_count(&server)? == 3),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn removed_plugin_queue_listed_and_dropped() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("counter", None)],
        ..Options::default()
    })
    .await?;
    std::fs::remove_file(server.plugins_dir().join("counter.wasm"))?;
    let names = wait_for_names(&server, &[]).await?;
    assert!(names.is_empty(), "{names:?}");

    // Within the grace period these are queued for the removed plugin.
    post_users(&server, "orphaned", 4).await?;
    wait_until(SETTLE, "the events are queued", || {
        Ok(server.db()?.deliveries()?.len() == 4)
    })
    .await?;

    let listed = command()
        .args(["events", "list", "--db"])
        .arg(server.db_path())
        .output()?;
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(
        stdout.contains("4 deliveries pending for plugin counter"),
        "{stdout}"
    );

    let dropped = command()
        .args(["events", "drop", "--plugin", "counter", "--db"])
        .arg(server.db_path())
        .output()?;
    let stdout = String::from_utf8_lossy(&dropped.stdout);
    assert!(
        dropped.status.success(),
        "{}",
        String::from_utf8_lossy(&dropped.stderr)
    );
    assert!(stdout.contains("dropped 4 queued deliveries"), "{stdout}");
    assert!(server.db()?.deliveries()?.is_empty());
    assert_eq!(server.db()?.count("events")?, 4);
    Ok(())
}

#[tokio::test]
async fn swapped_files_switch_names() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![("counter", None), ("slow-action", None)],
        ..Options::default()
    })
    .await?;
    let plugins = server.plugins_dir();

    // Each file now contains the plugin the other one served, so each waits
    // for the other's name until both switch in one step.
    deploy(&plugins, "slow-action", "counter")?;
    deploy(&plugins, "counter", "slow-action")?;

    let report = poll_report(&server, |report| {
        served_from(report, "counter").is_some_and(|file| file.ends_with("/slow-action.wasm"))
            && served_from(report, "slow-action")
                .is_some_and(|file| file.ends_with("/counter.wasm"))
            && !has_load_errors(report)
    })
    .await?;
    assert_eq!(
        report["plugins"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    assert_eq!(report["load_errors"], serde_json::json!([]), "{report}");
    for plugin in report["plugins"].as_array().into_iter().flatten() {
        let file = plugin["file"].as_str().unwrap_or_default();
        let expected = if plugin["name"] == "counter" {
            "/slow-action.wasm"
        } else {
            "/counter.wasm"
        };
        assert!(file.ends_with(expected), "{report}");
    }

    post_users(&server, "swapped", 3).await?;
    wait_until(SETTLE, "counter handles events from its new file", || {
        Ok(counter_count(&server)? == 3)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn rotated_files_switch_names() -> TestResult {
    let server = TestServer::start_with(Options {
        plugins: vec![
            ("counter", None),
            ("deny-gmail", None),
            ("slow-action", None),
        ],
        ..Options::default()
    })
    .await?;
    let plugins = server.plugins_dir();

    // Each file gets the next one's plugin; the last rename closes the
    // cycle of files waiting for each other's names.
    deploy(&plugins, "deny-gmail", "counter")?;
    deploy(&plugins, "slow-action", "deny-gmail")?;
    deploy(&plugins, "counter", "slow-action")?;

    let expected = [
        ("counter", "/slow-action.wasm"),
        ("deny-gmail", "/counter.wasm"),
        ("slow-action", "/deny-gmail.wasm"),
    ];
    let report = poll_report(&server, |report| {
        let rotated = expected.iter().all(|(name, file)| {
            served_from(report, name).is_some_and(|served| served.ends_with(file))
        });
        rotated && !has_load_errors(report)
    })
    .await?;
    assert_eq!(report["load_errors"], serde_json::json!([]), "{report}");
    for (name, file) in expected {
        let served = served_from(&report, name).unwrap_or_default();
        assert!(served.ends_with(file), "{name} from {served}: {report}");
    }
    Ok(())
}

#[tokio::test]
async fn reload_applies_within_a_batch() -> TestResult {
    let sleepy = "[settings]\nbehavior = \"sleep\"\nms = \"1000\"\n";
    let server = TestServer::start_with(Options {
        plugins: vec![("hostile", Some(sleepy.to_owned()))],
        ..Options::default()
    })
    .await?;
    post_users(&server, "batch", 6).await?;

    // After a restart all six pending deliveries are due at once, so the
    // worker takes them as one batch. The first sleeps for a second; the
    // new settings land meanwhile and drop the sleep, so the later ones
    // record `seen/<event id>` instead.
    let server = server.restart().await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    deploy_settings(&server.plugins_dir(), "hostile", "[settings]\n")?;

    wait_until(SETTLE, "every event is handled", || {
        let db = server.db()?;
        Ok(db.undispatched()? == 0 && db.deliveries()?.is_empty())
    })
    .await?;
    let seen = server
        .db()?
        .plugin_keys("hostile")?
        .iter()
        .filter(|key| key.starts_with("seen/"))
        .count();
    assert!(seen >= 4, "only {seen} of 6 events ran on the new settings");
    Ok(())
}

/// Writes a plugin's settings file through a temporary name and a rename.
fn deploy_settings(dir: &Path, name: &str, text: &str) -> TestResult {
    let temporary = dir.join(format!(".{name}.toml.part"));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, dir.join(format!("{name}.toml")))?;
    Ok(())
}

#[test]
fn check_command_validates_a_file() -> TestResult {
    let good = command()
        .args(["plugins", "check"])
        .arg(test_plugins_dir()?.join("deny-gmail.wasm"))
        .output()?;
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(stdout.contains("name: deny-gmail"), "{stdout}");
    assert!(stdout.contains("actions: user-registration"), "{stdout}");

    let dir = tempfile::tempdir()?;
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"not a component")?;
    let bad = command()
        .args(["plugins", "check"])
        .arg(&garbage)
        .output()?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("garbage.wasm"));
    Ok(())
}
