//! The Python and JavaScript example handlers in the real server and in the
//! plugin runtime: `examples/python-audit` (componentize-py) and
//! `examples/js-domain-allow` (componentize-js).
//!
//! `examples/build-polyglot-plugins.sh` builds them into
//! `target/test-plugins`, which needs Python 3.10+ and Node.js 20+ with npm;
//! the script installs its pinned tools under `target/` on first use. Each
//! load compiles a 12-19 MB component, which kept both cores of a 2-core
//! machine busy for 10-30 s. So every test loads each component at most
//! once, and loads take turns (`COMPILING`) to slow the tests running
//! beside them less.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use authkit_host::event::Event;
use authkit_host::plugin::{
    ActionInput, EventInput, InvocationError, Limits, MemoryData, Plugin, PluginRuntime, Verdict,
};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::support::{
    Options, TestResult, TestServer, sample_events, test_plugins_dir, wait_until,
};

const MARTA: &str = "user_01JD4M7Q2S8X5K9B3N6P0R1T2V";
const SESSION_CREATED: &str = "event_01JD4MA3B6C9D2E5F8G1H4J7K0";
const MEMBERSHIP_CREATED: &str = "event_01JD4MC6A2B4C6D8E0F2G4H6J8";
const SESSION_REVOKED: &str = "event_01JD4MG2C3D4E5F6G7H8J9K0M1";

const GMAIL: &str = include_str!("../../examples/actions/user_registration-gmail.json");
const COMPANY: &str = include_str!("../../examples/actions/user_registration-company.json");
const AUTHENTICATION: &str = include_str!("../../examples/actions/authentication.json");

/// Generous for a debug build, and far above the tens of milliseconds an
/// action takes once the component is compiled.
const ACTION_DEADLINE: Duration = Duration::from_secs(10);
const SETTLE: Duration = Duration::from_secs(60);

/// Held while a test compiles a polyglot component, in `load` or while a
/// server starts with one. wasmtime compiles on every core, so running two
/// compilations at once gains nothing and starves the other tests.
static COMPILING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Builds the polyglot examples into the test plugins folder once per test
/// process, after the Rust ones, and returns the folder.
fn polyglot_plugins_dir() -> TestResult<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let out = test_plugins_dir().map_err(|error| error.to_string())?;
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/build-polyglot-plugins.sh");
        let output = std::process::Command::new("bash")
            .arg(&script)
            .arg(&out)
            .output()
            .map_err(|error| format!("cannot run {}: {error}", script.display()))?;
        if !output.status.success() {
            return Err(format!(
                "{} failed; it needs python3 (3.10+) and node (20+) with npm:\n{}",
                script.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(out)
    });
    built.clone().map_err(Into::into)
}

fn load(name: &str, settings: &[(&str, &str)]) -> TestResult<Plugin> {
    let path = polyglot_plugins_dir()?.join(format!("{name}.wasm"));
    let settings: BTreeMap<String, String> = settings
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    let _compiling = COMPILING.blocking_lock();
    Ok(PluginRuntime::new(Limits::default())?.load(&path, settings)?)
}

fn sample_event(file: &str) -> TestResult<EventInput> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/events")
        .join(file);
    let event = Event::parse(Bytes::from(std::fs::read(path)?))?;
    Ok(EventInput::from(&event))
}

fn stored_json(data: &MemoryData, key: &str) -> TestResult<Value> {
    let bytes = data.get(key).ok_or_else(|| format!("no value at {key}"))?;
    Ok(serde_json::from_slice(bytes)?)
}

fn decide(plugin: &Plugin, raw: &str, data: MemoryData) -> TestResult<(Verdict, MemoryData)> {
    let action = ActionInput::parse(raw)?;
    let (result, data) = plugin.handle_action(&action, data, ACTION_DEADLINE);
    Ok((result?, data))
}

/// Returns the keys python-audit writes for the sample events, sorted.
fn expected_audit_keys() -> Vec<String> {
    vec![
        format!("audit/{SESSION_CREATED}"),
        format!("audit/{MEMBERSHIP_CREATED}"),
        format!("audit/{SESSION_REVOKED}"),
        format!("counts/{MARTA}"),
    ]
}

#[tokio::test]
async fn python_audit_records_sample_events() -> TestResult {
    polyglot_plugins_dir()?;
    let compiling = COMPILING.lock().await;
    let server = TestServer::start_with(Options {
        plugins: vec![("python-audit", None)],
        ..Options::default()
    })
    .await?;
    drop(compiling);

    let drained = || {
        let db = server.db()?;
        Ok(db.undispatched()? == 0 && db.deliveries()?.is_empty())
    };
    for (name, body) in sample_events()? {
        let (status, reply) = server.post_webhook(&body).await?;
        assert_eq!(status, 200, "{name}: {reply}");
    }
    wait_until(SETTLE, "every delivery is done", drained).await?;

    let db = server.db()?;
    assert_eq!(db.plugin_keys("python-audit")?, expected_audit_keys());
    let counts: Value = serde_json::from_str(
        &db.plugin_value("python-audit", &format!("counts/{MARTA}"))?
            .ok_or("no counts")?,
    )?;
    assert_eq!(counts, json!({"sessions": 2, "memberships": 1}));

    let membership: Value = serde_json::from_str(
        &db.plugin_value("python-audit", &format!("audit/{MEMBERSHIP_CREATED}"))?
            .ok_or("membership not audited")?,
    )?;
    assert_eq!(membership["event_type"], "organization_membership.created");
    assert_eq!(membership["user_id"], MARTA);
    assert_eq!(
        membership["organization_id"],
        "org_01JD4MC5D7E9F1G3H5J7K9M1N3"
    );
    assert_eq!(membership["role"], "admin");
    let revoked: Value = serde_json::from_str(
        &db.plugin_value("python-audit", &format!("audit/{SESSION_REVOKED}"))?
            .ok_or("revocation not audited")?,
    )?;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["session_id"], "session_01JD4MA3A1B2C3D4E5F6G7H8J9");

    // WorkOS redelivering the same events changes nothing.
    for (name, body) in sample_events()? {
        let (status, reply) = server.post_webhook(&body).await?;
        assert_eq!(status, 200, "{name}: {reply}");
        assert_eq!(reply["status"], "duplicate", "{name}: {reply}");
    }
    wait_until(SETTLE, "every delivery is done", drained).await?;
    let db = server.db()?;
    assert_eq!(db.plugin_keys("python-audit")?, expected_audit_keys());
    assert_eq!(
        db.plugin_value("python-audit", &format!("counts/{MARTA}"))?
            .as_deref(),
        Some(r#"{"sessions":2,"memberships":1}"#)
    );
    Ok(())
}

/// The host delivers an event to a handler again after a failed attempt,
/// so the handler itself must not count an event it has audited.
#[test]
fn python_audit_skips_audited_event() -> TestResult {
    let plugin = load("python-audit", &[])?;
    assert_eq!(plugin.info.name, "python-audit");
    assert_eq!(
        plugin.info.events,
        ["session.*", "organization_membership.*"]
    );

    let created = sample_event("02-session.created.json")?;
    let revoked = sample_event("07-session.revoked.json")?;
    let mut data = MemoryData::new();
    for event in [&created, &created, &revoked, &created] {
        let (result, returned) = plugin.handle_event(event, data);
        data = returned;
        result?;
    }
    assert_eq!(
        stored_json(&data, &format!("counts/{MARTA}"))?,
        json!({"sessions": 2, "memberships": 0})
    );
    let summary = stored_json(&data, &format!("audit/{SESSION_CREATED}"))?;
    assert_eq!(summary["auth_method"], "password");
    assert_eq!(summary["created_at"], "2026-11-02T09:15:40.560Z");

    // Data that does not parse fails the call with a message naming the
    // field, so the host rolls back and retries.
    let malformed = EventInput {
        id: "event_malformed".to_owned(),
        event_type: "session.created".to_owned(),
        created_at: "2026-11-02T09:15:40.560Z".to_owned(),
        data: r#"{"object":"session","id":"session_1"}"#.to_owned(),
        context: None,
    };
    let (result, _) = plugin.handle_event(&malformed, MemoryData::new());
    match result {
        Err(InvocationError::Failed(message)) => {
            assert!(message.contains("`user_id`"), "{message}");
            assert!(message.contains("Session"), "{message}");
        }
        other => panic!("expected a failed invocation, got {other:?}"),
    }
    Ok(())
}

#[test]
fn js_domain_allow_decides_by_setting() -> TestResult {
    let plugin = load(
        "js-domain-allow",
        &[("allowed_domains", "kowal.example, Example.com")],
    )?;
    assert_eq!(plugin.info.name, "js-domain-allow");
    assert_eq!(plugin.info.events, ["user.deleted"]);
    assert_eq!(plugin.info.actions.len(), 2);

    let (verdict, data) = decide(&plugin, COMPANY, MemoryData::new())?;
    assert_eq!(verdict, Verdict::Allow);
    assert!(data.entries.is_empty());

    let (verdict, _) = decide(&plugin, GMAIL, MemoryData::new())?;
    match verdict {
        Verdict::Deny(message) => assert!(message.contains("gmail.com"), "{message}"),
        Verdict::Allow => panic!("gmail.com registration allowed"),
    }

    // Each allowed sign-in adds one to the user's count.
    let (verdict, data) = decide(&plugin, AUTHENTICATION, MemoryData::new())?;
    assert_eq!(verdict, Verdict::Allow);
    let (verdict, data) = decide(&plugin, AUTHENTICATION, data)?;
    assert_eq!(verdict, Verdict::Allow);
    assert_eq!(
        stored_json(&data, &format!("signins/{MARTA}"))?,
        json!({"count": 2})
    );
    assert_eq!(data.entries.len(), 1);

    // Deleting the user removes the count, and a redelivery changes nothing.
    let deleted = EventInput {
        id: "event_marta_deleted".to_owned(),
        event_type: "user.deleted".to_owned(),
        created_at: "2026-11-02T12:00:00.000Z".to_owned(),
        data: json!({"object": "user", "id": MARTA, "email": "marta.k@example.com"}).to_string(),
        context: None,
    };
    let (result, data) = plugin.handle_event(&deleted, data);
    result?;
    assert!(data.entries.is_empty(), "{:?}", data.entries);
    let (result, data) = plugin.handle_event(&deleted, data);
    result?;
    assert!(data.entries.is_empty(), "{:?}", data.entries);

    // A stored count that is not JSON is a reported failure naming the key.
    // A count of the wrong shape is a bug in the handler, reported by the
    // exception's type. Both make the host fall back.
    let key = format!("signins/{MARTA}");
    for (stored, expected) in [(&b"{"[..], key.as_str()), (b"null", "TypeError")] {
        let mut data = MemoryData::new();
        data.entries.insert(key.clone(), stored.to_vec());
        let action = ActionInput::parse(AUTHENTICATION)?;
        let (result, data) = plugin.handle_action(&action, data, ACTION_DEADLINE);
        match result {
            Err(InvocationError::Failed(message)) => {
                assert!(message.contains(expected), "{message}");
            }
            other => panic!("expected a failed invocation, got {other:?}"),
        }
        assert_eq!(data.get(&key), Some(stored));
    }
    Ok(())
}

#[test]
fn js_domain_allow_without_setting_denies() -> TestResult {
    let plugin = load("js-domain-allow", &[])?;
    for (name, raw) in [
        ("company registration", COMPANY),
        ("gmail registration", GMAIL),
        ("authentication", AUTHENTICATION),
    ] {
        let (verdict, data) = decide(&plugin, raw, MemoryData::new())?;
        match verdict {
            Verdict::Deny(message) => {
                assert!(
                    message.contains("no email domains are allowed"),
                    "{name}: {message}"
                );
            }
            Verdict::Allow => panic!("{name} allowed without allowed_domains"),
        }
        assert!(data.entries.is_empty(), "{name} wrote {:?}", data.entries);
    }
    Ok(())
}

/// One measured invocation: a description and the call to time.
type Measured<'a> = (&'a str, Box<dyn Fn() -> TestResult + 'a>);

/// Prints size, load time and per-call cost of the Rust, Python and
/// JavaScript examples, for `guest-sdk/LANGUAGES.md`:
///
/// ```sh
/// cargo test --release -p authkit-host --test integration -- \
///     --ignored --nocapture --test-threads 1 polyglot_cost_report
/// ```
///
/// Each load compiles the component from scratch, and each call runs in a
/// fresh instance, as the server does.
#[test]
#[ignore = "a measurement, not a check; run it by name"]
fn polyglot_cost_report() -> TestResult {
    const CALLS: usize = 200;
    let dir = polyglot_plugins_dir()?;
    let runtime = PluginRuntime::new(Limits::default())?;
    let load = |name: &str, settings: &[(&str, &str)]| -> TestResult<Plugin> {
        let path = dir.join(format!("{name}.wasm"));
        let size = std::fs::metadata(&path)?.len();
        let settings = settings
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        let started = std::time::Instant::now();
        let plugin = runtime.load(&path, settings)?;
        eprintln!(
            "{name}: {:.1} MB, loaded in {:.2} s",
            size as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        Ok(plugin)
    };
    let report = |measured: Vec<Measured<'_>>| -> TestResult {
        for (what, call) in measured {
            for _ in 0..5 {
                call()?;
            }
            let mut samples = Vec::with_capacity(CALLS);
            for _ in 0..CALLS {
                let started = std::time::Instant::now();
                call()?;
                samples.push(started.elapsed());
            }
            samples.sort();
            let mean = samples.iter().sum::<Duration>() / CALLS as u32;
            eprintln!(
                "  {what}: mean {:.2} ms, median {:.2} ms, p99 {:.2} ms over {CALLS} calls",
                mean.as_secs_f64() * 1e3,
                samples[CALLS / 2].as_secs_f64() * 1e3,
                samples[CALLS * 99 / 100].as_secs_f64() * 1e3,
            );
        }
        Ok(())
    };
    let event = |plugin: &Plugin, input: &EventInput, data: &MemoryData| -> TestResult {
        plugin.handle_event(input, data.clone()).0?;
        Ok(())
    };
    let action = |plugin: &Plugin, raw: &str, data: &MemoryData| -> TestResult {
        decide(plugin, raw, data.clone())?;
        Ok(())
    };

    let user_created = sample_event("01-user.created.json")?;
    let session_created = sample_event("02-session.created.json")?;
    let empty = MemoryData::new();

    let todo_lists = load("todo-lists", &[])?;
    report(vec![(
        "user.created, new list (2 store reads, 1 write)",
        Box::new(|| event(&todo_lists, &user_created, &empty)),
    )])?;
    let deny_gmail = load("deny-gmail", &[])?;
    report(vec![(
        "registration denied (no host calls but a log line)",
        Box::new(|| action(&deny_gmail, GMAIL, &empty)),
    )])?;

    let audit = load("python-audit", &[])?;
    let (result, audited) = audit.handle_event(&session_created, MemoryData::new());
    result?;
    report(vec![
        (
            "session.created, first delivery (2 store reads, 2 writes)",
            Box::new(|| event(&audit, &session_created, &empty)),
        ),
        (
            "session.created, already audited (1 store read)",
            Box::new(|| event(&audit, &session_created, &audited)),
        ),
    ])?;

    let domains = load("js-domain-allow", &[("allowed_domains", "example.com")])?;
    report(vec![
        (
            "registration denied (1 settings read, 1 log line)",
            Box::new(|| action(&domains, GMAIL, &empty)),
        ),
        (
            "authentication allowed (1 settings read, 1 store read, 1 write)",
            Box::new(|| action(&domains, AUTHENTICATION, &empty)),
        ),
    ])?;
    Ok(())
}

#[tokio::test]
async fn python_plugin_hot_loaded() -> TestResult {
    let source = polyglot_plugins_dir()?.join("python-audit.wasm");
    let server = TestServer::start().await?;
    let compiling = COMPILING.lock().await;

    // Deploy into the running server the reliable way: copy, then rename.
    let plugins = server.plugins_dir();
    let temporary = plugins.join(".python-audit.wasm.part");
    std::fs::copy(&source, &temporary)?;
    std::fs::rename(&temporary, plugins.join("python-audit.wasm"))?;

    let started = std::time::Instant::now();
    loop {
        let (status, report) = server.get_with_token("/plugins").await?;
        assert_eq!(status, 200, "{report}");
        if report["plugins"][0]["name"] == "python-audit" {
            break;
        }
        if started.elapsed() > SETTLE {
            return Err(format!("python-audit did not load within {SETTLE:?}: {report}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(compiling);

    for (name, body) in sample_events()? {
        let (status, reply) = server.post_webhook(&body).await?;
        assert_eq!(status, 200, "{name}: {reply}");
    }
    wait_until(SETTLE, "every delivery is done", || {
        let db = server.db()?;
        Ok(db.undispatched()? == 0 && db.deliveries()?.is_empty())
    })
    .await?;
    assert_eq!(
        server.db()?.plugin_keys("python-audit")?,
        expected_audit_keys()
    );
    Ok(())
}
