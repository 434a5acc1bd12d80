//! Tests that run the `hostile` test guest against every limit and sandbox
//! boundary, and check that the runtime keeps working for other plugins
//! afterwards.

use super::super::bindings::authkit::plugin::types as wit;
use super::*;

/// Creates a runtime of its own for one test, with the default limits and
/// the test process's compiled-component cache.
fn own_runtime() -> PluginRuntime {
    PluginRuntime::with_cache_dir(Limits::default(), Some(shared_cache_dir())).unwrap()
}

/// Returns a cache folder shared by the tests of this process, so each
/// component compiles once however many runtimes load it.
fn shared_cache_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn load_hostile(runtime: &PluginRuntime, limits: PluginLimits) -> Plugin {
    let config = PluginConfig {
        limits,
        ..PluginConfig::default()
    };
    runtime.load_with(&component("hostile"), &config).unwrap()
}

fn behavior_event(id: &str, data: &str) -> EventInput {
    event(id, "user.created", data)
}

/// Checks that `runtime` still runs a well-behaved plugin, and that
/// `hostile` still handles an ordinary event.
fn assert_runtime_still_works(runtime: &PluginRuntime, hostile: &Plugin) {
    let todo_lists = runtime
        .load(&component("todo-lists"), BTreeMap::new())
        .unwrap();
    let (result, data) =
        todo_lists.handle_event(&example_event("01-user.created.json"), MemoryData::new());
    assert_eq!(result, Ok(()));
    assert!(data.get("todos/user_01JD4M7Q2S8X5K9B3N6P0R1T2V").is_some());

    let (result, data) = hostile.handle_event(&behavior_event("event_ok", "{}"), MemoryData::new());
    assert_eq!(result, Ok(()));
    assert_eq!(data.get("seen/event_ok"), Some(&b"user.created"[..]));
}

#[test]
fn infinite_loop_times_out_at_deadline() {
    let runtime = own_runtime();
    let plugin = load_hostile(
        &runtime,
        PluginLimits {
            deadline_ms: Some(300),
            ..PluginLimits::default()
        },
    );
    let deadline = Duration::from_millis(300);

    let started = Instant::now();
    let (result, _) = plugin.handle_event(
        &behavior_event("event_loop", r#"{"behavior":"loop"}"#),
        MemoryData::new(),
    );
    let elapsed = started.elapsed();

    assert_eq!(result, Err(InvocationError::TimedOut { deadline }));
    assert!(elapsed >= deadline, "stopped early, after {elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
    assert_runtime_still_works(&runtime, &plugin);
}

#[test]
fn action_deadline_capped_by_plugin() {
    let runtime = own_runtime();
    let config = PluginConfig {
        settings: BTreeMap::from([("behavior".to_owned(), "loop".to_owned())]),
        limits: PluginLimits {
            deadline_ms: Some(200),
            ..PluginLimits::default()
        },
        path: None,
    };
    let plugin = runtime.load_with(&component("hostile"), &config).unwrap();
    let action = example_action("authentication.json");

    let started = Instant::now();
    let (result, _) = plugin.handle_action(&action, MemoryData::new(), ACTION_DEADLINE);
    let elapsed = started.elapsed();

    let deadline = Duration::from_millis(200);
    assert_eq!(result, Err(InvocationError::TimedOut { deadline }));
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");

    // A caller's deadline shorter than the plugin's wins.
    let short = Duration::from_millis(100);
    let (result, _) = plugin.handle_action(&action, MemoryData::new(), short);
    assert_eq!(result, Err(InvocationError::TimedOut { deadline: short }));
}

#[test]
fn busy_loop_traps_at_cpu_limit() {
    let runtime = own_runtime();
    let plugin = load_hostile(
        &runtime,
        PluginLimits {
            deadline_ms: Some(8_000),
            cpu_ms: Some(200),
            ..PluginLimits::default()
        },
    );

    let started = Instant::now();
    let (result, _) = plugin.handle_event(
        &behavior_event("event_cpu", r#"{"behavior":"loop"}"#),
        MemoryData::new(),
    );
    let elapsed = started.elapsed();

    let Err(InvocationError::Trapped(message)) = result else {
        panic!("expected Trapped, got {result:?}");
    };
    assert!(message.contains("CPU time limit exceeded"), "{message}");
    assert!(message.contains("limit of 200 ms"), "{message}");
    assert!(message.contains("cpu_ms"), "{message}");
    // CPU time never runs ahead of wall-clock time, so the trap cannot come
    // before 200 ms. A trap well before the 8 s deadline shows that the CPU
    // limit fired, even on a loaded machine.
    assert!(
        elapsed >= Duration::from_millis(200),
        "stopped early, after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
    assert_runtime_still_works(&runtime, &plugin);
}

#[test]
fn sleep_uses_no_cpu_time() {
    let runtime = own_runtime();
    let plugin = load_hostile(
        &runtime,
        PluginLimits {
            deadline_ms: Some(5_000),
            cpu_ms: Some(100),
            ..PluginLimits::default()
        },
    );

    let started = Instant::now();
    let (result, _) = plugin.handle_event(
        &behavior_event("event_sleep", r#"{"behavior":"sleep","ms":400}"#),
        MemoryData::new(),
    );
    let elapsed = started.elapsed();

    assert_eq!(result, Ok(()));
    assert!(elapsed >= Duration::from_millis(400), "took {elapsed:?}");
}

#[test]
fn sleep_past_deadline_times_out() {
    let runtime = own_runtime();
    let plugin = load_hostile(
        &runtime,
        PluginLimits {
            deadline_ms: Some(200),
            cpu_ms: Some(100),
            ..PluginLimits::default()
        },
    );

    let started = Instant::now();
    let (result, _) = plugin.handle_event(
        &behavior_event("event_sleep", r#"{"behavior":"sleep","ms":5000}"#),
        MemoryData::new(),
    );
    let elapsed = started.elapsed();

    let deadline = Duration::from_millis(200);
    assert_eq!(result, Err(InvocationError::TimedOut { deadline }));
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
}

#[test]
fn memory_bomb_traps_at_plugin_limit() {
    let runtime = own_runtime();
    let plugin = load_hostile(
        &runtime,
        PluginLimits {
            memory_mb: Some(16),
            ..PluginLimits::default()
        },
    );
    assert_eq!(plugin.limits().max_memory_bytes, 16 << 20);
    assert_eq!(runtime.limits().max_memory_bytes, DEFAULT_MAX_MEMORY_BYTES);

    let (result, data) = plugin.handle_event(
        &behavior_event("event_allocate", r#"{"behavior":"allocate"}"#),
        MemoryData::new(),
    );

    let Err(InvocationError::Trapped(message)) = result else {
        panic!("expected Trapped, got {result:?}");
    };
    assert!(message.contains("memory limit exceeded"), "{message}");
    assert!(message.contains("limit of 16777216 bytes"), "{message}");
    assert!(message.contains("memory_mb"), "{message}");
    assert!(data.entries.is_empty());
    assert_runtime_still_works(&runtime, &plugin);
}

#[test]
fn memory_bomb_traps_at_runtime_limit() {
    let runtime = own_runtime();
    let plugin = load_hostile(&runtime, PluginLimits::default());

    let (result, _) = plugin.handle_event(
        &behavior_event("event_allocate", r#"{"behavior":"allocate"}"#),
        MemoryData::new(),
    );

    let Err(InvocationError::Trapped(message)) = result else {
        panic!("expected Trapped, got {result:?}");
    };
    assert!(message.contains("memory limit exceeded"), "{message}");
    assert!(
        message.contains(&format!("limit of {DEFAULT_MAX_MEMORY_BYTES} bytes")),
        "{message}"
    );
    assert_runtime_still_works(&runtime, &plugin);
}

#[test]
fn recursion_traps_with_stack_overflow() {
    let runtime = own_runtime();
    let plugin = load_hostile(&runtime, PluginLimits::default());

    let (result, _) = plugin.handle_event(
        &behavior_event("event_recurse", r#"{"behavior":"recurse"}"#),
        MemoryData::new(),
    );

    let Err(InvocationError::Trapped(message)) = result else {
        panic!("expected Trapped, got {result:?}");
    };
    assert!(message.contains("stack overflow"), "{message}");
    assert!(message.contains("call stack exhausted"), "{message}");
    assert_runtime_still_works(&runtime, &plugin);
}

#[test]
fn shadow_stack_overflow_traps() {
    // Rust keeps large locals on a shadow stack at the bottom of linear
    // memory, so overflowing it runs below address 0 and traps as an
    // out-of-bounds access instead of exhausting the call stack.
    let runtime = own_runtime();
    let plugin = load_hostile(&runtime, PluginLimits::default());

    let (result, _) = plugin.handle_event(
        &behavior_event("event_frames", r#"{"behavior":"recurse-frames"}"#),
        MemoryData::new(),
    );

    let Err(InvocationError::Trapped(message)) = result else {
        panic!("expected Trapped, got {result:?}");
    };
    assert!(message.contains("out of bounds memory access"), "{message}");
    assert_runtime_still_works(&runtime, &plugin);
}

#[test]
fn output_flood_capped_and_counted() {
    let runtime = own_runtime();
    let plugin = load_hostile(
        &runtime,
        PluginLimits {
            max_output_kb: Some(4),
            ..PluginLimits::default()
        },
    );
    let lines = 20_000;
    // Each line is a 9-digit number, a space, 90 bytes of padding and `\n`.
    let line_bytes = 101;
    let input = behavior_event(
        "event_flood",
        &format!(r#"{{"behavior":"flood","count":{lines}}}"#),
    );
    let wit_event = wit::Event::from(&input);

    let (result, state) = plugin.runner.run(
        Box::new(MemoryData::new()),
        plugin.limits().event_deadline,
        |handler, store| handler.call_handle_event(store, &wit_event),
    );

    assert_eq!(result, Ok(Ok(())));
    for (stream, output) in [("stdout", &state.stdout), ("stderr", &state.stderr)] {
        let (text, dropped) = output.contents();
        assert_eq!(text.len(), 4096, "{stream}");
        assert_eq!(dropped, lines * line_bytes - 4096, "{stream}");
        assert!(text.starts_with("        0 xxx"), "{stream}: {text:.40}");
    }
    assert_eq!(state.dropped_log_messages, lines - MAX_LOG_MESSAGES);

    let data: Box<dyn std::any::Any> = state.data;
    let data = data.downcast::<MemoryData>().unwrap();
    assert_eq!(data.get("flood/lines"), Some(lines.to_string().as_bytes()));
    assert_runtime_still_works(&runtime, &plugin);
}

#[test]
fn output_flood_through_public_api_finishes() {
    let runtime = own_runtime();
    let plugin = load_hostile(&runtime, PluginLimits::default());
    let (result, data) = plugin.handle_event(
        &behavior_event("event_flood", r#"{"behavior":"flood","count":5000}"#),
        MemoryData::new(),
    );
    assert_eq!(result, Ok(()));
    assert_eq!(data.get("flood/lines"), Some(&b"5000"[..]));
}

#[test]
fn sandbox_denies_files_env_and_network() {
    let runtime = own_runtime();
    let plugin = load_hostile(&runtime, PluginLimits::default());

    let (result, data) = plugin.handle_event(
        &behavior_event("event_probe", r#"{"behavior":"probe"}"#),
        MemoryData::new(),
    );
    assert_eq!(result, Ok(()));

    let outcome = |name: &str| -> String {
        let value = data
            .get(&format!("probe/{name}"))
            .unwrap_or_else(|| panic!("the guest stored no outcome for {name}"));
        String::from_utf8(value.to_vec()).unwrap()
    };
    // Without preopened folders no path resolves, and the socket calls are
    // refused by the WASI context rather than unsupported.
    for name in ["read-file", "list-root", "list-cwd"] {
        let outcome = outcome(name);
        assert!(outcome.starts_with("error: "), "{name}: {outcome}");
        assert!(
            outcome.contains("No such file or directory"),
            "{name}: {outcome}"
        );
    }
    for name in ["tcp-connect", "tcp-listen", "udp-bind"] {
        let outcome = outcome(name);
        assert!(outcome.starts_with("error: "), "{name}: {outcome}");
        assert!(outcome.contains("Permission denied"), "{name}: {outcome}");
    }
    assert_eq!(outcome("env-path"), "error: environment variable not found");
    assert_eq!(outcome("env-vars"), "ok: 0 variables");
    assert_eq!(outcome("args"), "ok: 0 arguments");
    assert_runtime_still_works(&runtime, &plugin);
}

#[test]
fn limits_read_from_plugin_file() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hostile.wasm");
    std::fs::copy(component("hostile"), &wasm).unwrap();
    std::fs::write(
        dir.path().join("hostile.toml"),
        "[settings]\nbehavior = \"loop\"\n\n[limits]\ndeadline_ms = 250\nmemory_mb = 8\n",
    )
    .unwrap();

    let runtime = own_runtime();
    let config = read_plugin_config(&wasm).unwrap();
    let plugin = runtime.load_with(&wasm, &config).unwrap();
    assert_eq!(plugin.limits().event_deadline, Duration::from_millis(250));
    assert_eq!(plugin.limits().max_memory_bytes, 8 << 20);

    // The `behavior` setting applies when the event data names none.
    let (result, _) = plugin.handle_event(&behavior_event("event_file", "{}"), MemoryData::new());
    assert_eq!(
        result,
        Err(InvocationError::TimedOut {
            deadline: Duration::from_millis(250)
        })
    );
}

#[test]
fn memory_above_reservation_rejected_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hostile.wasm");
    std::fs::copy(component("hostile"), &wasm).unwrap();
    let toml = dir.path().join("hostile.toml");
    std::fs::write(&toml, "[limits]\nmemory_mb = 128\n").unwrap();

    let config = read_plugin_config(&wasm).unwrap();
    let error = own_runtime().load_with(&wasm, &config).unwrap_err();

    let message = error.to_string();
    assert!(
        matches!(error, PluginError::InvalidConfig { .. }),
        "{error:?}"
    );
    assert!(message.contains(&toml.display().to_string()), "{message}");
    assert!(message.contains("memory_mb = 128"), "{message}");
    assert!(message.contains("from 1 to 64"), "{message}");
}
