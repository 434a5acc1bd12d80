//! Tests that what a guest writes to stdout and stderr, and the messages it
//! logs, reach the server's log one record per line with control characters
//! escaped, so a guest cannot forge log lines.

use std::io::Write;

use wasmtime_wasi::p2::OutputStream;

use super::super::bindings::authkit::plugin::log as wit_log;
use super::super::bindings::authkit::plugin::log::Host as _;
use super::super::runtime::log_guest_output;
use super::*;

/// A log destination that test code can read back.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `emit` under the server's text log format, without colors, and
/// returns the lines it logged.
fn logged_lines(emit: impl FnOnce()) -> Vec<String> {
    let buffer = SharedBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, emit);

    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn invocation_state() -> InvocationState {
    InvocationState::new(
        Arc::from("forger"),
        Arc::new(BTreeMap::new()),
        Box::new(MemoryData::new()),
        &Limits::default(),
        Duration::from_secs(1),
    )
}

#[test]
fn guest_output_logged_one_line_per_stream() {
    let state = invocation_state();
    let forged = "2026-01-01T00:00:00.000000Z ERROR authkit_host: forged";
    state
        .stdout
        .clone()
        .write(Bytes::from(format!("first\n{forged}\r\nlast\n")))
        .unwrap();
    state
        .stderr
        .clone()
        .write(Bytes::from("\u{1b}[2K\rhidden\u{2028}after"))
        .unwrap();

    let lines = logged_lines(|| log_guest_output(&state));

    assert_eq!(lines.len(), 2, "{lines:#?}");
    for (line, stream) in lines.iter().zip(["stdout", "stderr"]) {
        assert!(line.contains(GUEST_LOG_TARGET), "{line}");
        assert!(line.contains(r#"plugin="forger""#), "{line}");
        assert!(line.contains(&format!(r#"stream="{stream}""#)), "{line}");
        assert!(line.contains("dropped_bytes=0"), "{line}");
    }
    assert!(
        lines[0].contains(&format!(r"first\n{forged}\r\nlast")),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains(r"\u{1b}[2K\rhidden\u{2028}after"),
        "{}",
        lines[1]
    );
}

#[test]
fn guest_log_message_logged_on_one_line() {
    let mut state = invocation_state();

    let lines = logged_lines(|| {
        state.log(wit_log::Level::Warn, "first\nINFO forged".to_owned());
    });

    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains(r"first\nINFO forged"), "{}", lines[0]);
    assert!(lines[0].contains(r#"plugin="forger""#), "{}", lines[0]);
}
