//! Test guest: misbehaves on request, so host tests can check that every
//! resource limit and sandbox boundary holds.
//!
//! Subscribes to `*` and decides both action kinds. The behavior comes from
//! the `behavior` field of the event's `data` object, or else from the
//! `behavior` setting; actions always use the setting. Numeric parameters
//! come from the `count` and `ms` fields of `data`, or else from the
//! settings of the same names. The behaviors:
//!
//! - `loop`: spins forever in plain WebAssembly, without calling the host.
//! - `allocate`: allocates 1 MiB blocks and keeps them until an allocation
//!   fails, which aborts the guest.
//! - `recurse`: recurses without end through an indirect call, using the
//!   WebAssembly call stack and almost no linear memory per frame.
//! - `recurse-frames`: recurses without end with a 4 KiB buffer per frame
//!   on the shadow stack, which Rust keeps in linear memory.
//! - `flood`: writes `count` lines (default 100,000) of 100 bytes each to
//!   stdout and to stderr and logs `count` messages, then stores
//!   `flood/lines` = `count` and succeeds.
//! - `probe`: tries to read `/etc/passwd`, list `/` and `.`, read
//!   environment variables and arguments, connect to `127.0.0.1:9` and bind
//!   TCP and UDP sockets on `127.0.0.1`. It stores each outcome under
//!   `probe/<name>` as `ok: …` or `error: …` and succeeds.
//! - `sleep`: sleeps `ms` milliseconds (default 1000) and succeeds.
//! - none: stores `seen/<event_id>` and succeeds.
//!
//! `describe` runs the behavior in the `describe_behavior` setting, if
//! there is one, before it returns, and reports the version in the
//! `describe_version` setting instead of the crate's version.

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use authkit_plugin::{Action, ActionKind, Error, Event, Handler, PluginInfo, Result, Verdict};
use authkit_plugin::{settings, store};

/// The size of each block `allocate` keeps.
const BLOCK_BYTES: usize = 1 << 20;

/// The bytes of shadow stack each `recurse-frames` frame takes.
const FRAME_BYTES: usize = 4 << 10;

/// The default number of lines and messages `flood` writes.
const DEFAULT_FLOOD_LINES: u64 = 100_000;

/// The default time `sleep` sleeps.
const DEFAULT_SLEEP_MS: u64 = 1000;

struct Hostile;

impl Handler for Hostile {
    fn describe() -> PluginInfo {
        if let Some(behavior) = settings::get("describe_behavior") {
            let number = |key: &str, default: u64| settings::get_or(key, default);
            // `describe` cannot return an error; a failing behavior traps.
            if let Err(error) = run(&behavior, &number) {
                panic!("describe_behavior {behavior:?} failed: {error}");
            }
        }

        let version = settings::get("describe_version")
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned());
        PluginInfo::new(env!("CARGO_PKG_NAME"), version)
            .with_events(["*"])
            .with_actions([ActionKind::Authentication, ActionKind::UserRegistration])
    }

    fn handle_event(event: &Event) -> Result<()> {
        let data: serde_json::Value = serde_json::from_str(&event.data)
            .map_err(|error| Error::new(format_args!("event data is not JSON: {error}")))?;
        let behavior = match data.get("behavior").and_then(|value| value.as_str()) {
            Some(behavior) => Some(behavior.to_owned()),
            None => settings::get("behavior"),
        };
        let Some(behavior) = behavior else {
            store::set(&format!("seen/{}", event.id), event.event_type.as_bytes())?;
            return Ok(());
        };
        let number = |key: &str, default: u64| -> Result<u64> {
            match data.get(key).and_then(|value| value.as_u64()) {
                Some(number) => Ok(number),
                None => settings::get_or(key, default),
            }
        };
        run(&behavior, &number)
    }

    fn handle_action(_action: Action) -> Result<Verdict> {
        let behavior = settings::get("behavior").unwrap_or_default();
        run(&behavior, &|key, default| settings::get_or(key, default))?;
        Ok(Verdict::Allow)
    }
}

/// Runs one behavior; `number` reads a numeric parameter with its default.
fn run(behavior: &str, number: &dyn Fn(&str, u64) -> Result<u64>) -> Result<()> {
    match behavior {
        "loop" => spin_forever(),
        "allocate" => allocate_forever(),
        "recurse" => {
            black_box(recurse(0));
            Ok(())
        }
        "recurse-frames" => {
            black_box(recurse_frames(0));
            Ok(())
        }
        "flood" => flood(number("count", DEFAULT_FLOOD_LINES)?),
        "probe" => probe(),
        "sleep" => {
            std::thread::sleep(Duration::from_millis(number("ms", DEFAULT_SLEEP_MS)?));
            Ok(())
        }
        "" => Ok(()),
        other => Err(Error::new(format_args!("unknown behavior `{other}`"))),
    }
}

fn spin_forever() -> ! {
    let mut state: u64 = 1;
    loop {
        state = black_box(
            state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1),
        );
    }
}

fn allocate_forever() -> ! {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0_u8; BLOCK_BYTES];
        // Writing every page makes the block real even on a host that
        // backed fresh memory lazily.
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        blocks.push(black_box(block));
    }
}

/// Recurses through a function pointer hidden from the optimizer, so the
/// recursion can be neither inlined nor turned into a loop.
fn recurse(depth: u64) -> u64 {
    let next: fn(u64) -> u64 = black_box(recurse);
    next(depth + 1).wrapping_add(depth)
}

fn recurse_frames(depth: u64) -> u64 {
    let mut frame = [0_u8; FRAME_BYTES];
    frame[depth as usize % FRAME_BYTES] = 1;
    let frame = black_box(&mut frame);
    let next: fn(u64) -> u64 = black_box(recurse_frames);
    next(depth + 1).wrapping_add(u64::from(frame[0]))
}

fn flood(lines: u64) -> Result<()> {
    let padding = "x".repeat(90);
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    for line in 0..lines {
        writeln!(stdout, "{line:>9} {padding}")
            .map_err(|error| Error::new(format_args!("stdout write failed: {error}")))?;
        writeln!(stderr, "{line:>9} {padding}")
            .map_err(|error| Error::new(format_args!("stderr write failed: {error}")))?;
        authkit_plugin::info!("flood line {line}");
    }
    stdout
        .flush()
        .map_err(|error| Error::new(format_args!("stdout flush failed: {error}")))?;
    store::set("flood/lines", lines.to_string().as_bytes())?;
    Ok(())
}

fn probe() -> Result<()> {
    let outcomes = [
        (
            "read-file",
            describe(std::fs::read("/etc/passwd").map(|bytes| bytes.len())),
        ),
        (
            "list-root",
            describe(std::fs::read_dir("/").map(|entries| entries.count())),
        ),
        (
            "list-cwd",
            describe(std::fs::read_dir(".").map(|entries| entries.count())),
        ),
        (
            "env-vars",
            format!("ok: {} variables", std::env::vars_os().count()),
        ),
        ("env-path", describe(std::env::var("PATH"))),
        (
            "args",
            format!("ok: {} arguments", std::env::args_os().count()),
        ),
        (
            "tcp-connect",
            describe(std::net::TcpStream::connect("127.0.0.1:9")),
        ),
        (
            "tcp-listen",
            describe(std::net::TcpListener::bind("127.0.0.1:0")),
        ),
        (
            "udp-bind",
            describe(std::net::UdpSocket::bind("127.0.0.1:0")),
        ),
    ];
    for (name, outcome) in outcomes {
        store::set(&format!("probe/{name}"), outcome.as_bytes())?;
    }
    Ok(())
}

fn describe<T: std::fmt::Debug, E: std::fmt::Display>(result: std::result::Result<T, E>) -> String {
    match result {
        Ok(value) => format!("ok: {value:?}"),
        Err(error) => format!("error: {error}"),
    }
}

authkit_plugin::export_handler!(Hostile);
