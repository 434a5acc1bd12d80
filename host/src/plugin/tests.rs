//! Tests that build and run the real example and test guest components.
//!
//! The first test to need a component runs `examples/build-plugins.sh` and
//! `tests/guests/build.sh` into `target/test-plugins`, which needs the
//! `wasm32-wasip2` target (the scripts add it with rustup).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

mod cache;
mod guest_log;
mod hostile;

use super::bindings::authkit::plugin::store as wit_store;
use super::bindings::authkit::plugin::store::Host as _;
use super::state::InvocationState;
use super::*;
use crate::event::Event;

/// The deadline actions get in these tests, generous for debug builds.
const ACTION_DEADLINE: Duration = Duration::from_secs(10);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds every guest component once per test process and returns the
/// folder that contains them.
fn plugins_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let out = root.join("target/test-plugins");
        for script in ["examples/build-plugins.sh", "tests/guests/build.sh"] {
            let output = Command::new("bash")
                .arg(root.join(script))
                .arg(&out)
                .output()
                .unwrap_or_else(|error| panic!("cannot run {script}: {error}"));
            assert!(
                output.status.success(),
                "{script} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        out
    })
}

fn component(name: &str) -> PathBuf {
    plugins_dir().join(format!("{name}.wasm"))
}

/// Returns the runtime shared by the tests that need no special limits.
fn runtime() -> &'static PluginRuntime {
    static RUNTIME: OnceLock<PluginRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| PluginRuntime::new(Limits::default()).unwrap())
}

/// Loads a component with no settings, once per test process.
fn plugin(name: &str) -> Arc<Plugin> {
    static LOADED: OnceLock<Mutex<HashMap<String, Arc<Plugin>>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(Default::default);

    let path = component(name);
    let mut loaded = loaded.lock().unwrap();
    let plugin = loaded
        .entry(name.to_owned())
        .or_insert_with(|| Arc::new(runtime().load(&path, BTreeMap::new()).unwrap()));
    Arc::clone(plugin)
}

fn example_event(file: &str) -> EventInput {
    let raw = std::fs::read(repo_root().join("examples/events").join(file)).unwrap();
    let event = Event::parse(Bytes::from(raw)).unwrap();
    EventInput::from(&event)
}

fn example_action(file: &str) -> ActionInput {
    let raw = std::fs::read_to_string(repo_root().join("examples/actions").join(file)).unwrap();
    ActionInput::parse(&raw).unwrap()
}

fn event(id: &str, event_type: &str, data: &str) -> EventInput {
    EventInput {
        id: id.into(),
        event_type: event_type.into(),
        created_at: "2026-11-02T12:00:00.000Z".into(),
        data: data.into(),
        context: None,
    }
}

/// Writes `bytes` to a fresh file under the system temp folder.
fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn load_error(name: &str, bytes: &[u8]) -> (PluginError, PathBuf) {
    let (_dir, path) = temp_file(name, bytes);
    let error = runtime().load(&path, BTreeMap::new()).unwrap_err();
    (error, path)
}

#[test]
fn plugin_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PluginRuntime>();
    assert_send_sync::<Plugin>();
}

#[test]
fn examples_describe_themselves() {
    let todo_lists = plugin("todo-lists");
    assert_eq!(todo_lists.info.name, "todo-lists");
    assert_eq!(todo_lists.info.version, "0.1.0");
    assert_eq!(todo_lists.info.events, ["user.created", "user.deleted"]);
    assert!(todo_lists.info.actions.is_empty());
    assert!(todo_lists.info.subscribes_to("user.created"));
    assert!(!todo_lists.info.subscribes_to("user.updated"));
    assert_eq!(todo_lists.sha256.len(), 64);
    assert_eq!(todo_lists.path, component("todo-lists"));

    let user_mirror = plugin("user-mirror");
    assert_eq!(user_mirror.info.name, "user-mirror");
    assert_eq!(
        user_mirror.info.events,
        ["user.created", "user.updated", "user.deleted"]
    );
    assert!(user_mirror.info.actions.is_empty());

    let deny_gmail = plugin("deny-gmail");
    assert_eq!(deny_gmail.info.name, "deny-gmail");
    assert!(deny_gmail.info.events.is_empty());
    assert_eq!(deny_gmail.info.actions, [ActionKind::UserRegistration]);
    assert!(deny_gmail.info.handles(ActionKind::UserRegistration));
    assert!(!deny_gmail.info.handles(ActionKind::Authentication));
}

#[test]
fn test_guests_describe_themselves() {
    let both = [ActionKind::Authentication, ActionKind::UserRegistration];
    for name in ["failing-handler", "trapping-handler"] {
        let plugin = plugin(name);
        assert_eq!(plugin.info.name, name);
        assert_eq!(plugin.info.events, ["*"]);
        assert_eq!(plugin.info.actions, both);
    }
    assert_eq!(plugin("write-then-fail").info.events, ["*"]);
    assert_eq!(plugin("slow-action").info.actions, both);
}

#[test]
fn todo_lists_creates_and_removes_list() {
    let plugin = plugin("todo-lists");
    let created = example_event("01-user.created.json");
    let user_id = "user_01JD4M7Q2S8X5K9B3N6P0R1T2V";
    let list_key = format!("todos/{user_id}");

    let (result, data) = plugin.handle_event(&created, MemoryData::new());
    assert_eq!(result, Ok(()));
    let list: serde_json::Value = serde_json::from_slice(data.get(&list_key).unwrap()).unwrap();
    assert_eq!(list["user_id"], user_id);
    assert_eq!(list["items"].as_array().unwrap().len(), 4);
    assert_eq!(list["items"][0]["done"], true);

    let deleted = event(
        "event_deleted",
        "user.deleted",
        &format!(r#"{{"object":"user","id":"{user_id}","email":"marta.k@example.com"}}"#),
    );
    let (result, data) = plugin.handle_event(&deleted, data);
    assert_eq!(result, Ok(()));
    assert_eq!(data.get(&list_key), None);
    assert_eq!(
        data.get(&format!("deleted/{user_id}")),
        Some(deleted.created_at.as_bytes())
    );

    // The tombstone stops a redelivered `user.created` from recreating the list.
    let (result, data) = plugin.handle_event(&created, data);
    assert_eq!(result, Ok(()));
    assert_eq!(data.get(&list_key), None);
}

#[test]
fn user_mirror_stores_user() {
    let plugin = plugin("user-mirror");
    let (result, data) =
        plugin.handle_event(&example_event("01-user.created.json"), MemoryData::new());
    assert_eq!(result, Ok(()));

    let record = data.get("users/user_01JD4M7Q2S8X5K9B3N6P0R1T2V").unwrap();
    let record: serde_json::Value = serde_json::from_slice(record).unwrap();
    assert_eq!(record["email"], "marta.k@example.com");
}

#[test]
fn deny_gmail_decides_registrations() {
    let plugin = plugin("deny-gmail");

    let gmail = example_action("user_registration-gmail.json");
    let (result, _) = plugin.handle_action(&gmail, MemoryData::new(), ACTION_DEADLINE);
    assert_eq!(
        result,
        Ok(Verdict::Deny("Gmail accounts are not allowed".into()))
    );

    let company = example_action("user_registration-company.json");
    let (result, _) = plugin.handle_action(&company, MemoryData::new(), ACTION_DEADLINE);
    assert_eq!(result, Ok(Verdict::Allow));
}

#[test]
fn authentication_action_reaches_guest() {
    // The SDK's default authentication callback returns `Allow`, so a
    // handler that declares only registrations still decides an
    // authentication action.
    let plugin = plugin("deny-gmail");
    let action = example_action("authentication.json");
    let (result, _) = plugin.handle_action(&action, MemoryData::new(), ACTION_DEADLINE);
    assert_eq!(result, Ok(Verdict::Allow));
}

#[test]
fn failing_handler_returns_failed() {
    let plugin = plugin("failing-handler");

    let (result, data) = plugin.handle_event(
        &event("event_f1", "user.created", r#"{"x":"fail"}"#),
        MemoryData::new(),
    );
    let Err(InvocationError::Failed(message)) = result else {
        panic!("expected Failed, got {result:?}");
    };
    assert!(message.contains("rejects event event_f1"), "{message}");
    assert!(data.entries.is_empty());

    let (result, data) = plugin.handle_event(&event("event_ok", "session.created", "{}"), data);
    assert_eq!(result, Ok(()));
    assert_eq!(data.get("seen/event_ok"), Some(&b"session.created"[..]));

    let action = example_action("authentication.json");
    let (result, _) = plugin.handle_action(&action, MemoryData::new(), ACTION_DEADLINE);
    let Err(InvocationError::Failed(message)) = result else {
        panic!("expected Failed, got {result:?}");
    };
    assert!(message.contains("01JD4MK7F8G9H0J1K2M3N4P5Q6"), "{message}");
}

#[test]
fn trap_does_not_poison_plugin() {
    let plugin = plugin("trapping-handler");

    let (result, data) = plugin.handle_event(
        &event("event_t1", "user.created", r#"{"x":"trap"}"#),
        MemoryData::new(),
    );
    let Err(InvocationError::Trapped(message)) = result else {
        panic!("expected Trapped, got {result:?}");
    };
    assert!(message.contains("unreachable"), "{message}");
    assert!(message.contains("traps on event event_t1"), "{message}");
    assert!(data.entries.is_empty());

    let (result, data) = plugin.handle_event(&event("event_t2", "user.created", "{}"), data);
    assert_eq!(result, Ok(()));
    assert_eq!(data.get("seen/event_t2"), Some(&b"user.created"[..]));

    let action = example_action("user_registration-company.json");
    let (result, _) = plugin.handle_action(&action, MemoryData::new(), ACTION_DEADLINE);
    assert!(
        matches!(result, Err(InvocationError::Trapped(_))),
        "{result:?}"
    );

    let (result, _) =
        plugin.handle_event(&event("event_t3", "user.created", "{}"), MemoryData::new());
    assert_eq!(result, Ok(()));
}

#[test]
fn failed_handler_hands_back_writes() {
    // The caller, not the runtime, discards a failed invocation's writes.
    let plugin = plugin("write-then-fail");
    let (result, data) = plugin.handle_event(
        &event("event_w1", "user.created", r#"{"x":"fail"}"#),
        MemoryData::new(),
    );
    assert!(
        matches!(result, Err(InvocationError::Failed(_))),
        "{result:?}"
    );
    assert_eq!(data.get("writes/event_w1/1"), Some(&b"1"[..]));
    assert_eq!(data.get("last-event"), Some(&b"event_w1"[..]));
}

fn slow_action(spin_ms: &str) -> Plugin {
    let settings = BTreeMap::from([("spin_ms".to_owned(), spin_ms.to_owned())]);
    runtime().load(&component("slow-action"), settings).unwrap()
}

#[test]
fn slow_action_times_out() {
    let plugin = slow_action("5000");
    assert_eq!(
        plugin.settings().get("spin_ms").map(String::as_str),
        Some("5000")
    );
    let action = example_action("authentication.json");
    let deadline = Duration::from_millis(200);

    let started = Instant::now();
    let (result, _) = plugin.handle_action(&action, MemoryData::new(), deadline);
    let elapsed = started.elapsed();

    assert_eq!(result, Err(InvocationError::TimedOut { deadline }));
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
}

#[test]
fn settings_reach_guest() {
    let action = example_action("authentication.json");

    let (result, _) = slow_action("1").handle_action(&action, MemoryData::new(), ACTION_DEADLINE);
    assert_eq!(result, Ok(Verdict::Allow));

    let (result, _) =
        slow_action("soon").handle_action(&action, MemoryData::new(), ACTION_DEADLINE);
    let Err(InvocationError::Failed(message)) = result else {
        panic!("expected Failed, got {result:?}");
    };
    assert!(message.contains("spin_ms"), "{message}");
}

#[test]
fn concurrent_invocations_share_plugin() {
    let plugin = plugin("todo-lists");
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let plugin = Arc::clone(&plugin);
            std::thread::spawn(move || {
                let mut data = MemoryData::new();
                for index in 0..10 {
                    let user_id = format!("user_{thread}_{index}");
                    let data_json = format!(
                        r#"{{"id":"{user_id}","email":"a@example.com","updated_at":"2026-01-01T00:00:00Z"}}"#
                    );
                    let created = event(&format!("event_{thread}_{index}"), "user.created", &data_json);
                    let result;
                    (result, data) = plugin.handle_event(&created, data);
                    assert_eq!(result, Ok(()));
                }
                data.entries.len()
            })
        })
        .collect();

    for thread in threads {
        assert_eq!(thread.join().unwrap(), 10);
    }
}

#[test]
fn memory_limit_traps_only_invocation() {
    let limits = Limits {
        max_memory_bytes: 4 << 20,
        ..Limits::default()
    };
    let runtime = PluginRuntime::new(limits).unwrap();
    let plugin = runtime
        .load(&component("todo-lists"), BTreeMap::new())
        .unwrap();

    // Lowering 8 MiB of event data into a 4 MiB memory must fail.
    let huge = event("event_huge", "user.created", &"x".repeat(8 << 20));
    let (result, data) = plugin.handle_event(&huge, MemoryData::new());
    let Err(InvocationError::Trapped(message)) = result else {
        panic!("expected Trapped, got {result:?}");
    };
    assert!(message.contains("memory limit exceeded"), "{message}");
    assert!(message.contains("4194304"), "{message}");

    let (result, _) = plugin.handle_event(&example_event("01-user.created.json"), data);
    assert_eq!(result, Ok(()));
}

#[test]
fn exhausted_pool_fails_at_deadline() {
    let limits = Limits {
        max_concurrent_invocations: 1,
        ..Limits::default()
    };
    let runtime = PluginRuntime::new(limits).unwrap();
    let settings = BTreeMap::from([("spin_ms".to_owned(), "1500".to_owned())]);
    let plugin = Arc::new(runtime.load(&component("slow-action"), settings).unwrap());
    let action = example_action("authentication.json");

    let busy = {
        let plugin = Arc::clone(&plugin);
        let action = action.clone();
        std::thread::spawn(move || {
            plugin
                .handle_action(&action, MemoryData::new(), ACTION_DEADLINE)
                .0
        })
    };
    std::thread::sleep(Duration::from_millis(500));

    // The only slot stays taken for longer than this call may wait.
    let (result, _) = plugin.handle_action(&action, MemoryData::new(), Duration::from_millis(200));
    let Err(error @ InvocationError::NoSlot { slots: 1, .. }) = result else {
        panic!("expected NoSlot, got {result:?}");
    };
    assert!(error.to_string().contains("did not start"), "{error}");
    assert_eq!(busy.join().unwrap(), Ok(Verdict::Allow));
}

#[test]
fn low_limits_blamed_at_load() {
    let deny_gmail = component("deny-gmail");
    let chosen_config = PathBuf::from("/etc/authkit/plugins/deny-gmail.toml");
    // Each case: the limits, the config file they came from, and the file
    // and fix the error must name.
    let cases = [
        (
            PluginLimits {
                memory_mb: Some(1),
                ..PluginLimits::default()
            },
            None,
            plugin_config_path(&deny_gmail),
            "raise memory_mb",
        ),
        (
            PluginLimits {
                table_elements: Some(1),
                ..PluginLimits::default()
            },
            Some(chosen_config.clone()),
            chosen_config.clone(),
            "raise table_elements",
        ),
    ];
    for (limits, path, named_config, fix) in cases {
        let config = PluginConfig {
            limits,
            path,
            ..PluginConfig::default()
        };

        let error = runtime().load_with(&deny_gmail, &config).unwrap_err();

        assert!(
            matches!(error, PluginError::DescribeLimit { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(fix), "{message}");
        assert!(
            message.contains(&named_config.display().to_string()),
            "{message}"
        );
        assert!(!message.contains("fix the handler"), "{message}");
    }
}

#[test]
fn busy_pool_queues_invocations() {
    let limits = Limits {
        max_concurrent_invocations: 1,
        ..Limits::default()
    };
    let runtime = PluginRuntime::new(limits).unwrap();
    let settings = BTreeMap::from([("spin_ms".to_owned(), "500".to_owned())]);
    let slow = Arc::new(runtime.load(&component("slow-action"), settings).unwrap());
    let quick = runtime
        .load(&component("deny-gmail"), BTreeMap::new())
        .unwrap();
    let (started, started_received) = std::sync::mpsc::channel();

    let busy = {
        let slow = Arc::clone(&slow);
        let action = example_action("authentication.json");
        std::thread::spawn(move || {
            started.send(()).unwrap();
            slow.handle_action(&action, MemoryData::new(), ACTION_DEADLINE)
                .0
        })
    };
    started_received.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));

    // The only slot is taken, so this call waits for it instead of failing.
    let (verdict, _) = quick.handle_action(
        &example_action("user_registration-company.json"),
        MemoryData::new(),
        ACTION_DEADLINE,
    );
    assert_eq!(verdict, Ok(Verdict::Allow));
    assert_eq!(busy.join().unwrap(), Ok(Verdict::Allow));
}

#[test]
fn exhausted_pool_fails_load_as_temporary() {
    let cache = tempfile::tempdir().unwrap();
    // Loading waits for a free slot at most the describe deadline.
    let limits = Limits {
        max_concurrent_invocations: 1,
        event_deadline: Duration::from_millis(300),
        ..Limits::default()
    };
    let runtime = PluginRuntime::with_cache_dir(limits, Some(cache.path())).unwrap();
    // Compile deny-gmail into the cache first, so that loading it while the
    // pool is busy takes milliseconds.
    drop(
        runtime
            .load(&component("deny-gmail"), BTreeMap::new())
            .unwrap(),
    );
    let settings = BTreeMap::from([("spin_ms".to_owned(), "3000".to_owned())]);
    let slow = Arc::new(runtime.load(&component("slow-action"), settings).unwrap());
    let action = example_action("authentication.json");

    let busy = {
        let slow = Arc::clone(&slow);
        std::thread::spawn(move || {
            slow.handle_action(&action, MemoryData::new(), ACTION_DEADLINE)
                .0
        })
    };
    std::thread::sleep(Duration::from_millis(500));

    let error = runtime
        .load(&component("deny-gmail"), BTreeMap::new())
        .unwrap_err();
    assert!(
        matches!(error, PluginError::DescribeBusy { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("instance slots"), "{message}");
    assert!(message.contains("temporary"), "{message}");
    assert!(!message.contains("fix the handler"), "{message}");
    assert_eq!(busy.join().unwrap(), Ok(Verdict::Allow));
}

#[test]
fn missing_file_rejected() {
    let path = repo_root().join("target/test-plugins/does-not-exist.wasm");
    let error = runtime().load(&path, BTreeMap::new()).unwrap_err();
    assert!(matches!(error, PluginError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("does-not-exist.wasm"), "{error}");
}

#[test]
fn garbage_file_rejected() {
    let (error, path) = load_error("garbage.wasm", b"this is not wasm at all");
    assert!(matches!(error, PluginError::NotWasm { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("wasm32-wasip2"), "{message}");

    let (error, _) = load_error("empty.wasm", b"");
    assert!(matches!(error, PluginError::NotWasm { .. }), "{error:?}");
}

#[test]
fn core_module_rejected() {
    let (error, path) = load_error("core.wasm", b"\0asm\x01\0\0\0");
    assert!(matches!(error, PluginError::CoreModule { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("not a component"), "{message}");
}

#[test]
fn truncated_component_rejected() {
    let todo_lists = std::fs::read(component("todo-lists")).unwrap();
    let (error, _) = load_error("truncated.wasm", &todo_lists[..todo_lists.len() / 2]);
    assert!(matches!(error, PluginError::Compile { .. }), "{error:?}");
    assert!(error.to_string().contains("rebuild"), "{error}");
}

#[test]
fn empty_component_rejected() {
    let (error, _) = load_error("empty-component.wasm", b"\0asm\x0d\0\x01\0");
    let PluginError::MissingExport { exports, .. } = &error else {
        panic!("expected MissingExport, got {error:?}");
    };
    assert_eq!(exports, "none");
    assert!(
        error.to_string().contains("authkit:plugin/handler@0.1.0"),
        "{error}"
    );
}

/// A component that exports one instance named `export` holding a
/// function `describe` that takes and returns nothing.
fn component_exporting(export: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $api (export "describe" (func $f)))
            (export "{export}" (instance $api))
        )"#
    ))
    .unwrap()
}

#[test]
fn other_world_rejected() {
    let (error, _) = load_error("command.wasm", &component_exporting("wasi:cli/run@0.2.0"));
    assert!(
        matches!(error, PluginError::MissingExport { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("its exports: wasi:cli/run@0.2.0"),
        "{error}"
    );
}

#[test]
fn newer_handler_version_rejected() {
    let (error, _) = load_error(
        "v2.wasm",
        &component_exporting("authkit:plugin/handler@0.2.0"),
    );
    assert!(
        matches!(error, PluginError::UnsupportedVersion { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("0.1.x"), "{error}");
}

#[test]
fn mistyped_handler_rejected() {
    let (error, _) = load_error(
        "mistyped.wasm",
        &component_exporting("authkit:plugin/handler@0.1.0"),
    );
    assert!(matches!(error, PluginError::WrongWorld { .. }), "{error:?}");
}

#[test]
fn unknown_import_rejected() {
    // The export check runs first, so the component also exports a handler
    // instance.
    let bytes = wat::parse_str(
        r#"(component
            (import "example:missing/api@1.0.0" (instance $missing (export "f" (func))))
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $api (export "describe" (func $f)))
            (export "authkit:plugin/handler@0.1.0" (instance $api))
        )"#,
    )
    .unwrap();
    let (error, _) = load_error("imports.wasm", &bytes);
    assert!(matches!(error, PluginError::WrongWorld { .. }), "{error:?}");
    assert!(
        error.to_string().contains("example:missing/api@1.0.0"),
        "{error}"
    );
}

#[test]
fn store_errors_map_to_wit() {
    let mut state = InvocationState::new(
        Arc::from("test"),
        Arc::new(BTreeMap::new()),
        Box::new(MemoryData::new()),
        &Limits::default(),
        Duration::from_secs(1),
    );

    let empty_key = state.set(String::new(), b"v".to_vec());
    assert!(
        matches!(empty_key, Err(wit_store::StoreError::InvalidKey(_))),
        "{empty_key:?}"
    );

    let long_key = state.get("k".repeat(MAX_KEY_BYTES + 1));
    assert!(
        matches!(long_key, Err(wit_store::StoreError::InvalidKey(_))),
        "{long_key:?}"
    );

    let big_value = state.set("k".into(), vec![0; MAX_VALUE_BYTES + 1]);
    assert!(
        matches!(big_value, Err(wit_store::StoreError::ValueTooLarge(_))),
        "{big_value:?}"
    );

    let long_prefix = state.list("p".repeat(MAX_KEY_BYTES + 1));
    assert!(
        matches!(long_prefix, Err(wit_store::StoreError::InvalidKey(_))),
        "{long_prefix:?}"
    );

    assert!(state.set("b".into(), b"2".to_vec()).is_ok());
    assert!(state.set("a".into(), b"1".to_vec()).is_ok());
    let listed = state.list(String::new()).unwrap();
    let keys: Vec<&str> = listed.iter().map(|entry| entry.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
}

#[test]
fn invalid_limits_rejected() {
    let cases = [
        Limits {
            max_memory_bytes: 1024,
            ..Limits::default()
        },
        Limits {
            max_concurrent_invocations: 0,
            ..Limits::default()
        },
        Limits {
            event_deadline: Duration::ZERO,
            ..Limits::default()
        },
        Limits {
            max_table_elements: 0,
            ..Limits::default()
        },
        Limits {
            max_cpu_time: Some(Duration::ZERO),
            ..Limits::default()
        },
    ];
    for limits in cases {
        let result = PluginRuntime::new(limits.clone());
        assert!(
            matches!(result, Err(PluginError::InvalidLimits(_))),
            "{limits:?}"
        );
    }
}
