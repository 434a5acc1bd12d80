//! Errors of loading a handler and of one invocation.

use std::path::PathBuf;
use std::time::Duration;

/// The reason a runtime could not start or a handler file could not be
/// loaded.
///
/// Each message names the file and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The limits cannot be used.
    #[error("invalid plugin limits: {0}")]
    InvalidLimits(String),
    /// Wasmtime rejected the engine configuration or could not reserve the
    /// instance pool.
    #[error(
        "cannot create the WebAssembly engine: {0}; check that the process may reserve \
         virtual memory (ulimit -v) or lower max_concurrent_invocations"
    )]
    Engine(String),
    /// The epoch ticker thread could not start.
    #[error("cannot start the epoch ticker thread: {0}")]
    TickerThread(#[source] std::io::Error),
    /// The compiled-component cache folder cannot be used.
    #[error("cannot use {path} as the compiled plugin cache: {reason}")]
    Cache {
        /// The cache folder.
        path: PathBuf,
        /// The failure and its fix.
        reason: String,
    },
    /// A plugin's `<name>.toml` exists but could not be read.
    #[error(
        "cannot read plugin config {path}: {source}; make it readable, or remove it to run \
         the plugin without settings and with the server's limits"
    )]
    ReadConfig {
        /// The config file.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// A plugin's config is malformed, or its limits are out of range.
    #[error("invalid plugin config {path}: {reason}")]
    InvalidConfig {
        /// The config file, or the handler file when the config did not
        /// come from a file.
        path: PathBuf,
        /// The problem and the accepted values.
        reason: String,
    },
    /// The file could not be read.
    #[error("cannot read handler file {path}: {source}{hint}", hint = read_hint(.source))]
    Read {
        /// The handler file.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The file is not WebAssembly at all.
    #[error(
        "{path} is not a WebAssembly file: it does not start with the bytes \\0asm; \
         build the handler for the wasm32-wasip2 target and load the .wasm file"
    )]
    NotWasm {
        /// The handler file.
        path: PathBuf,
    },
    /// The file is a core WebAssembly module, not a component.
    #[error(
        "{path} is a core WebAssembly module, not a component; build the handler for \
         the wasm32-wasip2 target, which emits a component, or wrap the module with \
         `wasm-tools component new`"
    )]
    CoreModule {
        /// The handler file.
        path: PathBuf,
    },
    /// Wasmtime could not compile the component.
    #[error("cannot compile {path} as a WebAssembly component: {reason}; rebuild the handler")]
    Compile {
        /// The handler file.
        path: PathBuf,
        /// Wasmtime's error.
        reason: String,
    },
    /// The component does not export the handler interface.
    #[error(
        "{path} does not export `authkit:plugin/handler@0.1.0` (its exports: {exports}); \
         build it for the authkit-handler world of wit/authkit-plugin.wit, for example \
         with the authkit-plugin guest SDK"
    )]
    MissingExport {
        /// The handler file.
        path: PathBuf,
        /// The component's exports, comma-separated, or `none`.
        exports: String,
    },
    /// The component exports the handler interface at an incompatible version.
    #[error(
        "{path} exports `{export}`, but this host runs handlers built for \
         authkit:plugin 0.1.x; rebuild the handler with a 0.1 version of the guest SDK"
    )]
    UnsupportedVersion {
        /// The handler file.
        path: PathBuf,
        /// The export found, with its version.
        export: String,
    },
    /// The component imports something the host does not provide, or its
    /// export has the wrong type.
    #[error(
        "{path} does not match the authkit-handler world: {reason}; handlers may import \
         only the authkit:plugin 0.1 interfaces and WASI 0.2 interfaces, so rebuild it \
         against wit/authkit-plugin.wit"
    )]
    WrongWorld {
        /// The handler file.
        path: PathBuf,
        /// Wasmtime's error.
        reason: String,
    },
    /// Calling `describe` failed because of the handler: the instance could
    /// not start, it trapped or it ran past the deadline.
    #[error("calling `describe` of {path} failed: {reason}; fix the handler's describe function")]
    Describe {
        /// The handler file.
        path: PathBuf,
        /// The invocation error.
        reason: String,
    },
    /// Calling `describe` failed at the plugin's memory, table or CPU time
    /// limit, which may be set too low for the handler.
    #[error("calling `describe` of {path} failed: {reason}. The plugin's .toml file is {config}")]
    DescribeLimit {
        /// The handler file.
        path: PathBuf,
        /// The plugin's `<name>.toml`, which need not exist.
        config: PathBuf,
        /// The invocation error, which names the limit and its setting.
        reason: String,
    },
    /// `describe` could not start because every instance slot of the
    /// runtime was in use by other invocations.
    #[error(
        "calling `describe` of {path} failed: {reason}; the plugin runtime is running as \
         many invocations as it allows at once, which is temporary, so load the plugin \
         again once fewer are running"
    )]
    DescribeBusy {
        /// The handler file.
        path: PathBuf,
        /// The invocation error.
        reason: String,
    },
    /// `describe` returned a description that fails validation.
    #[error("{path} returned an invalid description: {reason}")]
    InvalidInfo {
        /// The handler file.
        path: PathBuf,
        /// What is wrong and what is accepted.
        reason: String,
    },
}

/// Why one invocation produced no result. None of these affect later
/// invocations, because each runs in a fresh instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    /// The handler returned an error, with its message.
    #[error("the handler returned an error: {0}")]
    Failed(String),
    /// The handler trapped: it panicked, hit a WebAssembly trap, overflowed
    /// its stack, exceeded its memory or CPU time limit or called `exit`.
    /// The message names the cause and ends with the tail of the handler's
    /// stderr.
    #[error("the handler trapped: {0}")]
    Trapped(String),
    /// The handler ran past its deadline and was interrupted.
    #[error("the handler did not finish within its deadline of {deadline:?} and was interrupted")]
    TimedOut {
        /// The deadline the invocation had.
        deadline: Duration,
    },
    /// Every instance slot of the runtime stayed in use for the whole
    /// deadline, so the handler never started.
    #[error(
        "the handler did not start: all {slots} instance slots of the plugin runtime stayed in \
         use for its whole deadline of {deadline:?}; raise --max-concurrent-invocations if this \
         recurs"
    )]
    NoSlot {
        /// The number of slots.
        slots: u32,
        /// The deadline the invocation had.
        deadline: Duration,
    },
    /// No instance could be created, for example because the component's
    /// initialization trapped.
    #[error("cannot create an instance of the handler: {0}")]
    Instantiate(String),
}

/// Returns the fix for a failed read. Errors of kind `InvalidInput` come
/// from the file checks, which name their own fix.
fn read_hint(source: &std::io::Error) -> &'static str {
    if source.kind() == std::io::ErrorKind::InvalidInput {
        ""
    } else {
        "; check that it exists and is readable"
    }
}
