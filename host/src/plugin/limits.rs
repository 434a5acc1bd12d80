//! Resource limits for handler invocations: the runtime's [`Limits`] and
//! the per-plugin overrides of [`PluginLimits`].

use std::time::Duration;

use serde::Deserialize;

/// The default linear memory limit of one invocation: 64 MiB.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 64 << 20;

/// The default table size limit of one invocation. A Rust component's
/// function table has a few hundred elements, so 20,000 (wasmtime's own
/// pooling default) leaves ample room.
pub const DEFAULT_MAX_TABLE_ELEMENTS: usize = 20_000;

/// The default number of invocations that can run at once in one
/// [`PluginRuntime`](super::PluginRuntime). The pooling allocator reserves
/// slots for this many instances up front.
pub const DEFAULT_MAX_CONCURRENT_INVOCATIONS: u32 = 32;

/// The default wall-clock deadline of `handle-event` and `describe` calls.
pub const DEFAULT_EVENT_DEADLINE: Duration = Duration::from_secs(10);

/// The default number of bytes kept from each of a guest's stdout and stderr
/// per invocation: 64 KiB. Later output is counted and dropped.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 64 << 10;

/// The maximum `max_output_kb` a plugin may set: 1 MiB per stream. The
/// captured text is held in memory until the invocation ends and then logged
/// as one line per stream.
pub const MAX_PLUGIN_OUTPUT_BYTES: usize = 1 << 20;

/// The size of a WebAssembly page, the unit linear memories grow in.
pub(super) const WASM_PAGE_BYTES: usize = 64 << 10;

/// The maximum size a 32-bit linear memory can address: 4 GiB.
const MAX_32_BIT_MEMORY_BYTES: u64 = 1 << 32;

/// Limits that apply to every invocation of every handler in one runtime,
/// unless a plugin's [`PluginLimits`] override them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The maximum linear memory size of one instance, in bytes. Growing a
    /// memory beyond it fails, which traps a Rust guest and only that
    /// invocation. Rounded up to a whole 64 KiB WebAssembly page. The
    /// instance pool reserves this much address space per memory, so it is
    /// also the most a plugin's `memory_mb` may set.
    pub max_memory_bytes: usize,
    /// The maximum number of elements of one table, and the most a
    /// plugin's `table_elements` may set.
    pub max_table_elements: usize,
    /// The maximum number of instances alive at once. An invocation that
    /// starts while every slot is in use fails with
    /// [`InvocationError::Instantiate`](super::InvocationError::Instantiate).
    pub max_concurrent_invocations: u32,
    /// The wall-clock deadline of `handle-event`, and of `describe` at load.
    /// It counts all time from the start of the instance, in WebAssembly,
    /// in host calls and asleep. Actions get their deadline per call, cut
    /// to this one when a plugin sets `deadline_ms`.
    pub event_deadline: Duration,
    /// The CPU time one invocation may use, or `None` for no limit besides
    /// the deadline. It counts the CPU time of the invoking thread, in
    /// WebAssembly and in the host calls the guest makes, and is checked
    /// every [`EPOCH_TICK`](super::EPOCH_TICK) while WebAssembly runs. Time
    /// asleep, blocked or waiting for a CPU does not count. Where the
    /// operating system has no per-thread CPU clock (outside Unix), it
    /// counts wall-clock time instead.
    pub max_cpu_time: Option<Duration>,
    /// The number of bytes kept from each of stdout and stderr per
    /// invocation.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            max_table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
            max_concurrent_invocations: DEFAULT_MAX_CONCURRENT_INVOCATIONS,
            event_deadline: DEFAULT_EVENT_DEADLINE,
            max_cpu_time: None,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

impl Limits {
    /// Checks that every limit is usable, and returns the reason if one is not.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.max_memory_bytes < WASM_PAGE_BYTES {
            return Err(format!(
                "max_memory_bytes is {}, below one 64 KiB WebAssembly page; set at least {WASM_PAGE_BYTES}",
                self.max_memory_bytes
            ));
        }
        if self.max_memory_bytes as u64 > MAX_32_BIT_MEMORY_BYTES {
            return Err(format!(
                "max_memory_bytes is {}, above the 4 GiB a 32-bit memory can address",
                self.max_memory_bytes
            ));
        }
        if self.max_table_elements == 0 {
            return Err("max_table_elements is 0; set at least 1".into());
        }
        if self.max_concurrent_invocations == 0 {
            return Err("max_concurrent_invocations is 0; set at least 1".into());
        }
        if self.event_deadline.is_zero() {
            return Err("event_deadline is 0; set a positive duration".into());
        }
        if self.max_cpu_time.is_some_and(|cpu_time| cpu_time.is_zero()) {
            return Err("max_cpu_time is 0; set a positive duration, or None for no limit".into());
        }
        Ok(())
    }

    /// Returns `max_memory_bytes` rounded up to a whole WebAssembly page.
    pub(super) fn memory_bytes_rounded(&self) -> usize {
        self.max_memory_bytes.div_ceil(WASM_PAGE_BYTES) * WASM_PAGE_BYTES
    }
}

/// Per-plugin overrides of the runtime's [`Limits`], from the `[limits]`
/// table of the plugin's `<name>.toml`. A missing key keeps the runtime's
/// value, which is the default given for each field.
///
/// ```toml
/// [limits]
/// memory_mb = 32
/// deadline_ms = 2000
/// cpu_ms = 500
/// ```
///
/// Exceeding a limit ends only the invocation that exceeded it, with an
/// [`InvocationError`](super::InvocationError).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// The maximum size of each linear memory, in MiB. Default: the
    /// runtime's `max_memory_bytes`, 64 MiB unless the server changes it,
    /// which is also the maximum, because the instance pool reserves that
    /// much per memory. Growing past it traps the invocation with a
    /// "memory limit exceeded" message.
    pub memory_mb: Option<u64>,
    /// The maximum number of elements of each table. Default and maximum:
    /// the runtime's `max_table_elements`, 20,000 unless the server changes
    /// it.
    pub table_elements: Option<u64>,
    /// The wall-clock deadline of one event invocation, and of `describe`
    /// at load, in milliseconds. It counts all time from the start of the
    /// instance: WebAssembly, host calls and sleeps. An Action invocation
    /// gets the smaller of this and the time left for the decision.
    /// Default: the runtime's `event_deadline`, 10 seconds unless the
    /// server changes it. Running past it fails the invocation with
    /// [`InvocationError::TimedOut`](super::InvocationError::TimedOut).
    pub deadline_ms: Option<u64>,
    /// The CPU time one invocation may use, in milliseconds: the CPU time
    /// of the invoking thread in WebAssembly and in the host calls the
    /// guest makes, checked every 10 ms epoch tick while WebAssembly runs.
    /// Time asleep, blocked on the database or waiting for a CPU does not
    /// count, which is what sets it apart from `deadline_ms`. It must be
    /// below the deadline, since one thread cannot use more CPU time than
    /// wall-clock time. Default: the runtime's `max_cpu_time`, none unless
    /// the server sets one. Exceeding it traps the invocation with a "CPU
    /// time limit exceeded" message.
    pub cpu_ms: Option<u64>,
    /// The number of KiB kept from each of stdout and stderr per
    /// invocation; later output is counted and dropped, and the guest's
    /// writes still succeed. Default: the runtime's `max_output_bytes`,
    /// 64 KiB unless the server changes it. Maximum: 1024.
    pub max_output_kb: Option<u64>,
}

impl PluginLimits {
    /// Applies these overrides to the runtime's limits, and returns the
    /// reason if a value is out of range. The reason names the key, its
    /// value and the accepted range.
    pub(super) fn apply(&self, runtime: &Limits) -> Result<Limits, String> {
        let mut limits = runtime.clone();

        if let Some(memory_mb) = self.memory_mb {
            let max_mb = runtime.memory_bytes_rounded() / MIB;
            if memory_mb == 0 || memory_mb > max_mb as u64 {
                return Err(format!(
                    "memory_mb = {memory_mb} is outside 1..={max_mb}: the server reserves \
                     {max_mb} MiB per instance memory; set memory_mb from 1 to {max_mb}"
                ));
            }
            limits.max_memory_bytes = memory_mb as usize * MIB;
        }

        if let Some(table_elements) = self.table_elements {
            let max = runtime.max_table_elements;
            if table_elements == 0 || table_elements > max as u64 {
                return Err(format!(
                    "table_elements = {table_elements} is outside 1..={max}: the server \
                     reserves {max} elements per table; set table_elements from 1 to {max}"
                ));
            }
            limits.max_table_elements = table_elements as usize;
        }

        if let Some(deadline_ms) = self.deadline_ms {
            if deadline_ms == 0 || deadline_ms > MAX_DEADLINE_MS {
                return Err(format!(
                    "deadline_ms = {deadline_ms} is outside 1..={MAX_DEADLINE_MS}; set a \
                     number of milliseconds from 1 to {MAX_DEADLINE_MS}"
                ));
            }
            limits.event_deadline = Duration::from_millis(deadline_ms);
        }

        if let Some(cpu_ms) = self.cpu_ms {
            if cpu_ms == 0 {
                return Err("cpu_ms = 0; set a positive number of milliseconds".into());
            }
            let cpu_time = Duration::from_millis(cpu_ms);
            if cpu_time >= limits.event_deadline {
                return Err(format!(
                    "cpu_ms = {cpu_ms} is not below the deadline of {} ms, so it could \
                     never be reached; lower cpu_ms or raise deadline_ms",
                    limits.event_deadline.as_millis()
                ));
            }
            limits.max_cpu_time = Some(cpu_time);
        }

        if let Some(max_output_kb) = self.max_output_kb {
            let max_kb = MAX_PLUGIN_OUTPUT_BYTES / KIB;
            if max_output_kb > max_kb as u64 {
                return Err(format!(
                    "max_output_kb = {max_output_kb} is above the maximum of {max_kb}; \
                     set at most {max_kb}"
                ));
            }
            limits.max_output_bytes = max_output_kb as usize * KIB;
        }

        Ok(limits)
    }
}

/// The maximum deadline a plugin may set, in milliseconds: 10 minutes. A
/// longer one would let a `describe` that hangs hold a load for hours.
const MAX_DEADLINE_MS: u64 = 600_000;

/// Bytes in a KiB.
const KIB: usize = 1 << 10;

/// Bytes in a MiB.
const MIB: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_overrides_keep_runtime_limits() {
        let runtime = Limits::default();
        assert_eq!(PluginLimits::default().apply(&runtime), Ok(runtime));
    }

    #[test]
    fn overrides_replace_runtime_limits() {
        let overrides = PluginLimits {
            memory_mb: Some(8),
            table_elements: Some(500),
            deadline_ms: Some(2_000),
            cpu_ms: Some(250),
            max_output_kb: Some(0),
        };
        let limits = overrides.apply(&Limits::default()).unwrap();
        assert_eq!(limits.max_memory_bytes, 8 << 20);
        assert_eq!(limits.max_table_elements, 500);
        assert_eq!(limits.event_deadline, Duration::from_secs(2));
        assert_eq!(limits.max_cpu_time, Some(Duration::from_millis(250)));
        assert_eq!(limits.max_output_bytes, 0);
    }

    #[test]
    fn memory_above_reservation_rejected() {
        let overrides = PluginLimits {
            memory_mb: Some(65),
            ..PluginLimits::default()
        };
        let reason = overrides.apply(&Limits::default()).unwrap_err();
        assert!(reason.contains("memory_mb = 65"), "{reason}");
        assert!(reason.contains("from 1 to 64"), "{reason}");
    }

    #[test]
    fn out_of_range_overrides_rejected() {
        let cases = [
            (
                PluginLimits {
                    memory_mb: Some(0),
                    ..PluginLimits::default()
                },
                "memory_mb = 0",
            ),
            (
                PluginLimits {
                    table_elements: Some(20_001),
                    ..PluginLimits::default()
                },
                "from 1 to 20000",
            ),
            (
                PluginLimits {
                    deadline_ms: Some(0),
                    ..PluginLimits::default()
                },
                "deadline_ms = 0 is outside 1..=600000",
            ),
            (
                PluginLimits {
                    deadline_ms: Some(600_001),
                    ..PluginLimits::default()
                },
                "from 1 to 600000",
            ),
            (
                PluginLimits {
                    cpu_ms: Some(0),
                    ..PluginLimits::default()
                },
                "cpu_ms = 0",
            ),
            (
                PluginLimits {
                    deadline_ms: Some(500),
                    cpu_ms: Some(500),
                    ..PluginLimits::default()
                },
                "not below the deadline of 500 ms",
            ),
            (
                PluginLimits {
                    max_output_kb: Some(1025),
                    ..PluginLimits::default()
                },
                "at most 1024",
            ),
        ];
        for (overrides, expected) in cases {
            let reason = overrides.apply(&Limits::default()).unwrap_err();
            assert!(reason.contains(expected), "{overrides:?}: {reason}");
        }
    }

    #[test]
    fn zero_cpu_time_rejected() {
        let limits = Limits {
            max_cpu_time: Some(Duration::ZERO),
            ..Limits::default()
        };
        assert!(limits.validate().unwrap_err().contains("max_cpu_time"));
    }
}
