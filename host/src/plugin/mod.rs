//! The WebAssembly runtime that runs handlers.
//!
//! A handler is a component for the `authkit-handler` world of
//! `wit/authkit-plugin.wit`. [`read_plugin_config`] reads the settings and
//! limit overrides of its `<name>.toml`. [`PluginRuntime::load_with`]
//! compiles the file into a [`Plugin`], or loads it from the runtime's
//! compiled-component cache. [`Plugin::handle_event`] and
//! [`Plugin::handle_action`] call it, each time in a fresh instance with its
//! own memory limit, deadline and CPU time limit. A handler reaches the
//! outside only through the host imports
//! (`log`, `users`, `settings` and its private `store`), which this module
//! routes to a [`PluginData`] the caller supplies per invocation, and
//! through WASI with no files, environment, network or terminal.
//!
//! Everything here is synchronous: invocations block their thread until the
//! guest returns or is interrupted.

#[allow(unreachable_pub, missing_docs)]
mod bindings;
mod budget;
mod cache;
mod clock;
mod config;
mod data;
mod error;
mod file;
mod info;
mod input;
mod limits;
mod output;
mod runtime;
mod slots;
mod state;
#[cfg(test)]
mod tests;

pub use cache::CacheStats;
pub use config::{PluginConfig, plugin_config_path, read_plugin_config};
pub use data::{
    MAX_KEY_BYTES, MAX_VALUE_BYTES, MemoryData, PluginData, StoreError, validate_key,
    validate_prefix, validate_value,
};
pub use error::{InvocationError, PluginError};
pub use file::read_regular_file;
pub use info::{
    ActionKind, MAX_EVENT_PATTERNS, MAX_NAME_BYTES, MAX_PATTERN_BYTES, MAX_VERSION_BYTES,
    PluginInfo,
};
pub use input::{
    ActionInput, AuthenticationAction, EventInput, UserData, UserRegistrationAction, Verdict,
};
pub use limits::{
    DEFAULT_EVENT_DEADLINE, DEFAULT_MAX_CONCURRENT_INVOCATIONS, DEFAULT_MAX_MEMORY_BYTES,
    DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MAX_TABLE_ELEMENTS, Limits, MAX_PLUGIN_OUTPUT_BYTES,
    PluginLimits,
};
pub use runtime::MAX_CONCURRENT_INVOCATIONS;
pub use runtime::{EPOCH_TICK, Plugin, PluginRuntime};
pub use state::{GUEST_LOG_TARGET, MAX_LOG_MESSAGE_BYTES, MAX_LOG_MESSAGES};
