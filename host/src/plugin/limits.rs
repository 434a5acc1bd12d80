//! Resource limits for handler invocations.

use std::time::Duration;

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

/// The size of a WebAssembly page, the unit linear memories grow in.
pub(super) const WASM_PAGE_BYTES: usize = 64 << 10;

/// The maximum size a 32-bit linear memory can address: 4 GiB.
const MAX_32_BIT_MEMORY_BYTES: u64 = 1 << 32;

/// Limits that apply to every invocation of every handler in one runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The maximum linear memory size of one instance, in bytes. Growing a
    /// memory beyond it fails, which traps a Rust guest and only that
    /// invocation. Rounded up to a whole 64 KiB WebAssembly page.
    pub max_memory_bytes: usize,
    /// The maximum number of elements of one table.
    pub max_table_elements: usize,
    /// The maximum number of instances alive at once. An invocation that
    /// starts while every slot is in use fails with
    /// [`InvocationError::Instantiate`](super::InvocationError::Instantiate).
    pub max_concurrent_invocations: u32,
    /// The wall-clock deadline of `handle-event`, and of `describe` at load.
    /// Actions get their deadline per call.
    pub event_deadline: Duration,
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
        Ok(())
    }

    /// Returns `max_memory_bytes` rounded up to a whole WebAssembly page.
    pub(super) fn memory_bytes_rounded(&self) -> usize {
        self.max_memory_bytes.div_ceil(WASM_PAGE_BYTES) * WASM_PAGE_BYTES
    }
}
