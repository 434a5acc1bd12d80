//! The data of one invocation's wasmtime `Store`, and the host imports a
//! handler calls: `log`, `users`, `settings` and `store`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::clocks::WasiClocksCtxView;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::Limits;
use super::bindings::authkit::plugin::{log, settings, store, types, users};
use super::bindings::wit_user;
use super::budget::TimeBudget;
use super::clock::{DeadlineClock, SleepDeadline};
use super::data::{self, PluginData};
use super::output::CapturedOutput;
use crate::store::UserLookup;

/// The maximum length of one guest log message, in bytes. Longer messages
/// are cut at a character boundary and marked.
pub const MAX_LOG_MESSAGE_BYTES: usize = 4 << 10;

/// The maximum length of the error message quoted in a trap's
/// [`InvocationError::Trapped`](super::InvocationError::Trapped) text.
const MAX_QUOTED_ERROR_BYTES: usize = 1024;

/// The maximum number of log messages one invocation may emit. Later ones
/// are counted and reported once, so a guest looping over `log` cannot flood
/// the host's log.
pub const MAX_LOG_MESSAGES: usize = 1_000;

/// The tracing target of messages a guest logs and of its captured stdio,
/// so that operators can filter handler output apart from the host's.
pub const GUEST_LOG_TARGET: &str = "authkit_host::plugin::guest";

/// The data of one invocation's `Store`.
pub(super) struct InvocationState {
    /// The handler's name, which tags every log line.
    pub(super) plugin: Arc<str>,
    /// The handler's settings, sorted by key.
    pub(super) settings: Arc<BTreeMap<String, String>>,
    /// The storage this invocation reads and writes.
    pub(super) data: Box<dyn PluginData>,
    /// The WASI context: no files, no environment, no network.
    wasi: WasiCtx,
    /// The WASI resources the guest holds, such as its stdout stream.
    table: ResourceTable,
    /// The memory and table limits.
    pub(super) limiter: Limiter,
    /// The invocation deadline as WASI sleeps see it.
    pub(super) sleep_deadline: SleepDeadline,
    /// The deadline and CPU time limit as epoch checks see them.
    pub(super) budget: TimeBudget,
    /// The guest's stdout.
    pub(super) stdout: CapturedOutput,
    /// The guest's stderr.
    pub(super) stderr: CapturedOutput,
    /// Log messages dropped after [`MAX_LOG_MESSAGES`].
    pub(super) dropped_log_messages: usize,
    /// Log messages emitted so far.
    log_messages: usize,
    /// The last message logged at error level, which is where the guest
    /// SDK's panic hook writes the panic message before the trap.
    pub(super) last_error_message: Option<String>,
}

impl InvocationState {
    /// Creates the state of one invocation and starts its clocks, on the
    /// thread that will run it.
    ///
    /// The WASI context grants no ambient authority: no preopened
    /// directories, no environment variables or arguments, no TCP, UDP or
    /// name lookup, and a closed stdin. Clocks and random numbers are the
    /// host's, because Rust's standard library needs them.
    pub(super) fn new(
        plugin: Arc<str>,
        settings: Arc<BTreeMap<String, String>>,
        data: Box<dyn PluginData>,
        limits: &Limits,
        deadline: Duration,
    ) -> Self {
        let stdout = CapturedOutput::new(limits.max_output_bytes);
        let stderr = CapturedOutput::new(limits.max_output_bytes);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();

        Self {
            plugin,
            settings,
            data,
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits),
            sleep_deadline: SleepDeadline::new(deadline),
            budget: TimeBudget::start(deadline, limits.max_cpu_time),
            stdout,
            stderr,
            dropped_log_messages: 0,
            log_messages: 0,
            last_error_message: None,
        }
    }
}

impl WasiView for InvocationState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl InvocationState {
    /// Returns the view that the deadline-aware monotonic clock works on.
    pub(super) fn deadline_clock(&mut self) -> DeadlineClock<'_> {
        let clocks = WasiClocksCtxView {
            ctx: self.wasi.clocks(),
            table: &mut self.table,
        };
        DeadlineClock::new(clocks, &mut self.sleep_deadline)
    }
}

/// Wasmtime's [`StoreLimits`], plus a record of the memory or table growth
/// it rejected, so that the resulting error can name the limit.
pub(super) struct Limiter {
    limits: StoreLimits,
    max_memory_bytes: usize,
    max_table_elements: usize,
    /// The first growth rejected.
    rejected: Option<Rejection>,
}

/// A memory or table growth that a [`Limiter`] rejected. Creating an
/// instance counts as growing each memory and table from 0 to its minimum
/// size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    /// The memory size requested, in bytes.
    Memory(usize),
    /// The table size requested, in elements.
    Table(usize),
}

impl Limiter {
    fn new(limits: &Limits) -> Self {
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes_rounded())
            .table_elements(limits.max_table_elements)
            .build();
        Self {
            limits: store_limits,
            max_memory_bytes: limits.memory_bytes_rounded(),
            max_table_elements: limits.max_table_elements,
            rejected: None,
        }
    }

    /// Describes the first rejected growth for an error message, if there
    /// was one.
    pub(super) fn describe_rejection(&self) -> Option<String> {
        self.rejected.map(|rejection| match rejection {
            Rejection::Memory(desired) => format!(
                "memory limit exceeded: the handler tried to grow its memory to {desired} bytes, \
                 above the limit of {} bytes; raise memory_mb in the [limits] table of the \
                 plugin's .toml file or make the handler use less memory",
                self.max_memory_bytes
            ),
            Rejection::Table(desired) => format!(
                "table limit exceeded: the handler tried to grow a table to {desired} elements, \
                 above the limit of {} elements; raise table_elements in the [limits] table \
                 of the plugin's .toml file",
                self.max_table_elements
            ),
        })
    }

    /// Records a rejected growth, unless an earlier one is recorded.
    fn record(&mut self, allowed: bool, rejection: Rejection) {
        if !allowed && self.rejected.is_none() {
            self.rejected = Some(rejection);
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        self.record(allowed, Rejection::Memory(desired));
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.table_growing(current, desired, maximum)?;
        self.record(allowed, Rejection::Table(desired));
        Ok(allowed)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl types::Host for InvocationState {}

impl log::Host for InvocationState {
    fn log(&mut self, level: log::Level, message: String) {
        if level == log::Level::Error {
            let quoted = truncate_message(&message, MAX_QUOTED_ERROR_BYTES);
            self.last_error_message = Some(quoted.into_owned());
        }
        if self.log_messages >= MAX_LOG_MESSAGES {
            self.dropped_log_messages += 1;
            return;
        }
        self.log_messages += 1;

        let message = truncate_message(&message, MAX_LOG_MESSAGE_BYTES);
        let message = escape_control_chars(&message);
        let plugin = &*self.plugin;
        match level {
            log::Level::Trace => tracing::trace!(target: GUEST_LOG_TARGET, plugin, "{message}"),
            log::Level::Debug => tracing::debug!(target: GUEST_LOG_TARGET, plugin, "{message}"),
            log::Level::Info => tracing::info!(target: GUEST_LOG_TARGET, plugin, "{message}"),
            log::Level::Warn => tracing::warn!(target: GUEST_LOG_TARGET, plugin, "{message}"),
            log::Level::Error => tracing::error!(target: GUEST_LOG_TARGET, plugin, "{message}"),
        }
    }
}

impl users::Host for InvocationState {
    fn get_by_id(&mut self, id: String) -> Result<Option<types::User>, String> {
        self.find_user(UserLookup::Id(id))
    }

    fn get_by_email(&mut self, email: String) -> Result<Option<types::User>, String> {
        self.find_user(UserLookup::Email(email))
    }

    fn get_by_external_id(&mut self, external_id: String) -> Result<Option<types::User>, String> {
        self.find_user(UserLookup::ExternalId(external_id))
    }
}

impl InvocationState {
    fn find_user(&mut self, lookup: UserLookup) -> Result<Option<types::User>, String> {
        let user = self.data.find_user(lookup)?;
        Ok(user.as_ref().map(wit_user))
    }
}

impl settings::Host for InvocationState {
    fn get(&mut self, key: String) -> Option<String> {
        self.settings.get(&key).cloned()
    }

    fn all(&mut self) -> Vec<(String, String)> {
        self.settings
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

impl store::Host for InvocationState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, store::StoreError> {
        data::validate_key(&key)?;
        Ok(self.data.store_get(&key)?)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), store::StoreError> {
        data::validate_key(&key)?;
        data::validate_value(&key, &value)?;
        Ok(self.data.store_set(&key, value)?)
    }

    fn delete(&mut self, key: String) -> Result<(), store::StoreError> {
        data::validate_key(&key)?;
        Ok(self.data.store_delete(&key)?)
    }

    fn list(&mut self, prefix: String) -> Result<Vec<store::Entry>, store::StoreError> {
        data::validate_prefix(&prefix)?;
        let mut entries = self.data.store_list(&prefix)?;
        entries.sort_by(|(left, _), (right, _)| left.cmp(right));
        Ok(entries
            .into_iter()
            .map(|(key, value)| store::Entry { key, value })
            .collect())
    }
}

/// Cuts `message` to at most `max` bytes at a character boundary, and
/// appends the number of bytes cut.
pub(super) fn truncate_message(message: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if message.len() <= max {
        return message.into();
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} more bytes cut)",
        &message[..end],
        message.len() - end
    )
    .into()
}

/// Escapes the control characters of guest text, and the Unicode line and
/// paragraph separators, as Rust's `escape_debug` does (`\n`, `\r`, `\t`,
/// `\u{1b}`). Text a guest wrote then stays on the one log line the server
/// starts for it, and cannot move the cursor or set colors on a terminal.
///
/// Backslashes are kept as they are, so that JSON and paths stay readable.
/// A guest can therefore write a literal `\n` that reads like an escaped
/// newline, but cannot start a line.
pub(super) fn escape_control_chars(text: &str) -> std::borrow::Cow<'_, str> {
    let needs_escape = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.contains(needs_escape) {
        return text.into();
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if needs_escape(c) {
            escaped.extend(c.escape_debug());
        } else {
            escaped.push(c);
        }
    }
    escaped.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_plain_text() {
        for text in [
            "",
            "hello",
            "żółw e\u{301} 日本",
            r#"{"path":"C:\\x","quote":"\"'"}"#,
        ] {
            let escaped = escape_control_chars(text);
            assert!(matches!(escaped, std::borrow::Cow::Borrowed(_)), "{text}");
            assert_eq!(escaped, text);
        }
    }

    #[test]
    fn escape_replaces_line_breaks_and_controls() {
        let cases = [
            ("a\nb", r"a\nb"),
            ("a\r\nb", r"a\r\nb"),
            ("tab\there", r"tab\there"),
            ("\u{1b}[31mred", r"\u{1b}[31mred"),
            ("nel\u{85}next", r"nel\u{85}next"),
            ("line\u{2028}sep\u{2029}par", r"line\u{2028}sep\u{2029}par"),
            ("nul\0del\u{7f}", r"nul\0del\u{7f}"),
        ];
        for (text, expected) in cases {
            let escaped = escape_control_chars(text);
            assert_eq!(escaped, expected, "{text:?}");
            assert!(!escaped.contains(['\n', '\r']), "{text:?}");
        }
    }

    #[test]
    fn short_message_kept() {
        assert_eq!(truncate_message("hello", 10), "hello");
    }

    #[test]
    fn long_message_cut_on_char_boundary() {
        let message = "żółw".repeat(10);
        let cut = truncate_message(&message, 5);
        assert!(cut.starts_with("żó…"), "{cut}");
        assert!(
            cut.ends_with(&format!("({} more bytes cut)", message.len() - 4)),
            "{cut}"
        );
    }
}
