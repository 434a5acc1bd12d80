//! The wasmtime engine, the epoch ticker, and loading and calling handlers.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Cache, Config, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError,
    PoolingAllocationConfig, Store, Trap,
};
use wasmtime_wasi::I32Exit;

use super::bindings::exports::authkit::plugin::handler::Guest;
use super::bindings::{
    AuthkitHandler, AuthkitHandlerPre, HANDLER_EXPORT, HANDLER_EXPORT_UNVERSIONED,
};
use super::budget::Exceeded;
use super::cache::{CacheStats, open_cache};
use super::clock::DeadlineClockData;
use super::data::{PluginData, StoreError};
use super::file::read_existing_regular_file;
use super::slots::InstanceSlots;
use super::state::{
    GUEST_LOG_TARGET, InvocationState, MAX_LOG_MESSAGE_BYTES, escape_control_chars,
    truncate_message,
};
use super::{
    ActionInput, EventInput, InvocationError, Limits, PluginConfig, PluginError, PluginInfo,
    Verdict, plugin_config_path,
};
use crate::store::UserLookup;
use crate::user::User;

/// How often the ticker thread advances the engine's epoch. A deadline is
/// counted in ticks, so an invocation is interrupted between its deadline
/// and one tick later. 10 ms keeps that error small next to deadlines of
/// hundreds of milliseconds, at 100 wake-ups a second.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Core module instances allowed per component instance. A Rust
/// `wasm32-wasip2` component instantiates 3, a ComponentizeJS component 4
/// and a componentize-py component 14, as counted in their core instance
/// sections. The pool only counts core instances, so headroom costs nothing.
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;

/// Linear memories reserved per component instance. Rust, ComponentizeJS
/// and componentize-py components define one, so two leave headroom. Each
/// slot reserves address space, so this number is kept small.
const MEMORIES_PER_COMPONENT: u32 = 2;

/// Tables reserved per component instance. The components above define two.
const TABLES_PER_COMPONENT: u32 = 4;

/// The largest `max_concurrent_invocations` accepted, which keeps the pool's
/// reservation counts far from `u32` overflow.
pub const MAX_CONCURRENT_INVOCATIONS: u32 = 4_096;

/// The number of bytes of a trapped guest's stderr quoted in the error.
const STDERR_TAIL_BYTES: usize = 1024;

/// Compiles and runs handler components.
///
/// One runtime contains one wasmtime engine, configured for the component
/// model with the pooling allocator and epoch interruption, the linker with
/// the host imports, optionally a cache of compiled components, and a
/// thread that advances the epoch every [`EPOCH_TICK`]. The thread stops
/// once the runtime and every [`Plugin`] loaded from it are dropped.
pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<InvocationState>,
    limits: Limits,
    cache: Option<Cache>,
    ticker: Arc<EpochTicker>,
    /// Admission to the engine's instance pool, shared by every plugin.
    slots: Arc<InstanceSlots>,
}

impl PluginRuntime {
    /// Creates the engine, without a compiled-component cache, and starts
    /// the epoch ticker.
    pub fn new(limits: Limits) -> Result<Self, PluginError> {
        Self::with_cache_dir(limits, None)
    }

    /// Creates the engine and starts the epoch ticker. With a `cache_dir`,
    /// compiled components are kept in that folder, so loading an unchanged
    /// file again, in this process or after a restart, skips compilation.
    ///
    /// The folder is created, private to this user, when it is missing.
    /// It must not be writable by other users, because the runtime runs the
    /// machine code it finds there. See the `cache` module for the key and
    /// the eviction rules.
    pub fn with_cache_dir(limits: Limits, cache_dir: Option<&Path>) -> Result<Self, PluginError> {
        limits.validate().map_err(PluginError::InvalidLimits)?;
        if limits.max_concurrent_invocations > MAX_CONCURRENT_INVOCATIONS {
            return Err(PluginError::InvalidLimits(format!(
                "max_concurrent_invocations is {}; the maximum is {MAX_CONCURRENT_INVOCATIONS}",
                limits.max_concurrent_invocations
            )));
        }

        let cache = cache_dir.map(open_cache).transpose()?;
        let mut config = engine_config(&limits);
        config.cache(cache.clone());
        let engine =
            Engine::new(&config).map_err(|error| PluginError::Engine(format!("{error:#}")))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|error| PluginError::Engine(format!("linking WASI failed: {error:#}")))?;

        // Replace WASI's monotonic clock with one whose sleeps end at the
        // invocation deadline.
        linker.allow_shadowing(true);
        wasmtime_wasi::p2::bindings::clocks::monotonic_clock::add_to_linker::<_, DeadlineClockData>(
            &mut linker,
            InvocationState::deadline_clock,
        )
        .map_err(|error| PluginError::Engine(format!("linking the clock failed: {error:#}")))?;
        linker.allow_shadowing(false);

        AuthkitHandler::add_to_linker::<_, HasSelf<InvocationState>>(&mut linker, |state| state)
            .map_err(|error| {
                PluginError::Engine(format!("linking host imports failed: {error:#}"))
            })?;

        let ticker = EpochTicker::start(engine.clone()).map_err(PluginError::TickerThread)?;

        Ok(Self {
            engine,
            linker,
            slots: Arc::new(InstanceSlots::new(limits.max_concurrent_invocations)),
            limits,
            cache,
            ticker,
        })
    }

    /// Returns the limits invocations run under unless a plugin's config
    /// overrides them.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Returns the folder of the compiled-component cache, if there is one.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache.as_ref().map(|cache| cache.directory().as_path())
    }

    /// Returns how many loads found their component in the cache and how
    /// many compiled it, or `None` without a cache.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(|cache| CacheStats {
            hits: cache.cache_hits(),
            misses: cache.cache_misses(),
        })
    }

    /// Loads a handler file with these settings and the runtime's limits.
    ///
    /// The same as [`PluginRuntime::load_with`] with a config that has only
    /// settings.
    pub fn load(
        &self,
        path: &Path,
        settings: BTreeMap<String, String>,
    ) -> Result<Plugin, PluginError> {
        let config = PluginConfig {
            settings,
            ..PluginConfig::default()
        };
        self.load_with(path, &config)
    }

    /// Loads a handler file with the settings and limits of `config`, as
    /// [`read_plugin_config`](super::read_plugin_config) returns it.
    ///
    /// Applies the config's limits to the runtime's and rejects values out
    /// of range. Then compiles the component, or loads it from the cache,
    /// and checks that it targets the `authkit-handler` world at a 0.1.x
    /// version. Last it pre-instantiates the component and calls
    /// `describe` in a fresh instance under the plugin's limits. Compiling
    /// takes from tens of milliseconds to seconds, so call this on a
    /// blocking thread. The file is read once, and later changes to it have
    /// no effect.
    #[tracing::instrument(skip_all, fields(path = %path.display()))]
    pub fn load_with(&self, path: &Path, config: &PluginConfig) -> Result<Plugin, PluginError> {
        let limits =
            config
                .limits
                .apply(&self.limits)
                .map_err(|reason| PluginError::InvalidConfig {
                    path: config.path.clone().unwrap_or_else(|| path.to_owned()),
                    reason: format!("[limits] {reason}"),
                })?;

        let bytes = read_existing_regular_file(path).map_err(|source| PluginError::Read {
            path: path.to_owned(),
            source,
        })?;
        check_header(path, &bytes)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));

        let compile_started = std::time::Instant::now();
        let component =
            Component::new(&self.engine, &bytes).map_err(|error| PluginError::Compile {
                path: path.to_owned(),
                reason: format!("{error:#}"),
            })?;
        tracing::debug!(elapsed = ?compile_started.elapsed(), "compiled or loaded from the cache");
        check_handler_export(path, &component, &self.engine)?;

        let wrong_world = |error: wasmtime::Error| PluginError::WrongWorld {
            path: path.to_owned(),
            reason: format!("{error:#}"),
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(wrong_world)?;
        let pre = AuthkitHandlerPre::new(instance_pre).map_err(wrong_world)?;

        // Until `describe` returns, log lines use the file name in place of
        // the handler's name.
        let file_name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy();
        let mut runner = Runner {
            engine: self.engine.clone(),
            pre,
            name: Arc::from(file_name.as_ref()),
            settings: Arc::new(config.settings.clone()),
            action_deadline_cap: config.limits.deadline_ms.map(Duration::from_millis),
            limits,
            _ticker: Arc::clone(&self.ticker),
            slots: Arc::clone(&self.slots),
        };

        let config_path = config
            .path
            .clone()
            .unwrap_or_else(|| plugin_config_path(path));
        let info = runner.describe(path, &config_path)?;
        runner.name = Arc::from(info.name.as_str());
        tracing::debug!(plugin = %info.name, version = %info.version, %sha256, "loaded handler");

        Ok(Plugin {
            info,
            path: path.to_owned(),
            sha256,
            runner,
        })
    }
}

/// A loaded handler, ready to be invoked from any number of threads.
///
/// Every invocation runs in a fresh instance created from a pre-linked
/// `InstancePre`, so a trap or a timeout never affects later invocations.
/// Invocations block the calling thread until the guest returns: run them
/// on a blocking thread (`tokio::task::spawn_blocking`), never on an async
/// worker, where WASI calls that block would panic.
pub struct Plugin {
    /// The handler's description, as `describe` returned it at load.
    pub info: PluginInfo,
    /// The file the handler was loaded from.
    pub path: PathBuf,
    /// The SHA-256 of the file's bytes, in lowercase hex.
    pub sha256: String,
    pub(super) runner: Runner,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Plugin")
            .field("info", &self.info)
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// Returns the settings the handler reads, sorted by key.
    pub fn settings(&self) -> &BTreeMap<String, String> {
        &self.runner.settings
    }

    /// Returns the limits the handler's invocations run under: the
    /// runtime's, with the plugin config's overrides applied.
    pub fn limits(&self) -> &Limits {
        &self.runner.limits
    }

    /// Runs `handle-event` in a fresh instance under the plugin's limits.
    ///
    /// `data` is what the handler's store and user calls reach. It is moved
    /// into the instance for the call and handed back with the result, also
    /// when the call fails, so the caller decides whether its writes commit.
    /// The handler's subscriptions are not checked here.
    #[tracing::instrument(
        skip_all,
        fields(plugin = %self.info.name, event_id = %event.id, event_type = %event.event_type)
    )]
    pub fn handle_event<D: PluginData>(
        &self,
        event: &EventInput,
        data: D,
    ) -> (Result<(), InvocationError>, D) {
        let deadline = self.runner.limits.event_deadline;
        let event = event.into();
        let (result, data) = self
            .runner
            .invoke(Box::new(data), deadline, |handler, store| {
                handler.call_handle_event(store, &event)
            });

        let result = match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(failed(&message)),
            Err(failure) => Err(failure.error),
        };
        (result, restore(data))
    }

    /// Runs `handle-action` in a fresh instance with a wall-clock deadline:
    /// `deadline`, or the plugin config's `deadline_ms` if that is shorter.
    /// The plugin's other limits apply as to events.
    ///
    /// `data` is handled as in [`Plugin::handle_event`]. Whether the handler
    /// declared this action kind is not checked here.
    #[tracing::instrument(
        skip_all,
        fields(plugin = %self.info.name, action_id = %action.id(), action_kind = %action.kind())
    )]
    pub fn handle_action<D: PluginData>(
        &self,
        action: &ActionInput,
        data: D,
        deadline: Duration,
    ) -> (Result<Verdict, InvocationError>, D) {
        let deadline = match self.runner.action_deadline_cap {
            Some(cap) => deadline.min(cap),
            None => deadline,
        };
        let action = action.into();
        let (result, data) = self
            .runner
            .invoke(Box::new(data), deadline, |handler, store| {
                handler.call_handle_action(store, &action)
            });

        let result = match result {
            Ok(Ok(verdict)) => Ok(verdict.into()),
            Ok(Err(message)) => Err(failed(&message)),
            Err(failure) => Err(failure.error),
        };
        (result, restore(data))
    }
}

/// Wraps a handler's error message, cut to [`MAX_LOG_MESSAGE_BYTES`] and
/// with control characters escaped, because callers store and log it.
fn failed(message: &str) -> InvocationError {
    let message = truncate_message(message, MAX_LOG_MESSAGE_BYTES);
    InvocationError::Failed(escape_control_chars(&message).into_owned())
}

/// Takes the caller's data back out of the box it travelled in.
fn restore<D: PluginData>(data: Box<dyn PluginData>) -> D {
    let data: Box<dyn Any> = data;
    match data.downcast::<D>() {
        Ok(data) => *data,
        // `Runner::invoke` returns the box it was given, which contains a `D`.
        Err(_) => unreachable!("invocation returned data of another type"),
    }
}

/// A failed invocation: the error callers get, and what caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub(super) error: InvocationError,
    pub(super) cause: FailureCause,
}

/// The cause of a failed invocation, which decides the fix a load error
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailureCause {
    /// The handler: it trapped, called `exit` or ran past its deadline.
    Handler,
    /// The plugin's memory, table or CPU time limit.
    Limit,
    /// Every instance slot of the runtime's pool was in use, which passes
    /// once running invocations end.
    PoolExhausted,
}

impl Failure {
    fn handler(error: InvocationError) -> Self {
        Self {
            error,
            cause: FailureCause::Handler,
        }
    }

    fn limit(error: InvocationError) -> Self {
        Self {
            error,
            cause: FailureCause::Limit,
        }
    }
}

/// The parts of a loaded handler that an invocation needs besides its
/// input: the pre-linked component, the settings and the limits.
pub(super) struct Runner {
    engine: Engine,
    pre: AuthkitHandlerPre<InvocationState>,
    name: Arc<str>,
    settings: Arc<BTreeMap<String, String>>,
    /// The runtime's limits with the plugin's overrides applied.
    limits: Limits,
    /// The plugin config's `deadline_ms`, which also caps action deadlines.
    action_deadline_cap: Option<Duration>,
    /// Keeps the epoch advancing while the handler can still be invoked.
    _ticker: Arc<EpochTicker>,
    /// Admission to the engine's instance pool.
    slots: Arc<InstanceSlots>,
}

impl Runner {
    /// Calls `describe` and validates the description. `config_path` is the
    /// plugin's `<name>.toml`, which errors caused by a limit name.
    fn describe(&self, path: &Path, config_path: &Path) -> Result<PluginInfo, PluginError> {
        let (result, _) = self.invoke(
            Box::new(NoData),
            self.limits.event_deadline,
            |handler, store| handler.call_describe(store),
        );
        let description = result.map_err(|failure| describe_error(path, config_path, failure))?;

        let mut actions: Vec<_> = description.actions.into_iter().map(Into::into).collect();
        actions.sort();
        actions.dedup();
        let info = PluginInfo {
            name: description.name,
            version: description.version,
            events: description.events,
            actions,
        };
        info.validate().map_err(|reason| PluginError::InvalidInfo {
            path: path.to_owned(),
            reason,
        })?;
        Ok(info)
    }

    /// Runs `call` in a fresh instance and returns its result with `data`,
    /// after logging what the guest wrote to stdout and stderr.
    fn invoke<R>(
        &self,
        data: Box<dyn PluginData>,
        deadline: Duration,
        call: impl FnOnce(&Guest, &mut Store<InvocationState>) -> wasmtime::Result<R>,
    ) -> (Result<R, Failure>, Box<dyn PluginData>) {
        let (result, state) = self.run(data, deadline, call);
        log_guest_output(&state);
        (result, state.data)
    }

    /// Runs `call` in a fresh instance and returns its result with the
    /// instance's final state.
    ///
    /// The store gets the memory limits, the deadline and the CPU time
    /// limit before the instance exists, so a component whose
    /// initialization loops is interrupted too.
    ///
    /// NOTE: the epoch interrupts only running WebAssembly, and WASI sleeps
    /// end at the deadline, but a slow `PluginData` method delays the
    /// interruption until it returns.
    pub(super) fn run<R>(
        &self,
        data: Box<dyn PluginData>,
        deadline: Duration,
        call: impl FnOnce(&Guest, &mut Store<InvocationState>) -> wasmtime::Result<R>,
    ) -> (Result<R, Failure>, InvocationState) {
        // The wait for a slot counts against the deadline, which covers the
        // whole invocation.
        let waiting_since = Instant::now();
        let slot = self.slots.acquire(deadline);
        let remaining = deadline.saturating_sub(waiting_since.elapsed());
        let state = InvocationState::new(
            Arc::clone(&self.name),
            Arc::clone(&self.settings),
            data,
            &self.limits,
            remaining,
        );
        let Some(_slot) = slot else {
            let error = InvocationError::NoSlot {
                slots: self.slots.total(),
                deadline,
            };
            return (
                Err(Failure {
                    error,
                    cause: FailureCause::PoolExhausted,
                }),
                state,
            );
        };

        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|mut store| Ok(store.data_mut().budget.check()));
        let first_check = store.data().budget.first_check_ticks();
        store.set_epoch_deadline(first_check);

        let result = match self.pre.instantiate(&mut store) {
            Ok(bindings) => match call(bindings.authkit_plugin_handler(), &mut store) {
                Ok(_) if store.data().sleep_deadline.overran() => {
                    tracing::debug!(
                        ?deadline,
                        "handler returned after sleeping into its deadline"
                    );
                    Err(Failure::handler(InvocationError::TimedOut { deadline }))
                }
                Ok(value) => Ok(value),
                Err(error) => Err(classify_trap(&error, store.data(), deadline)),
            },
            Err(error) => Err(classify_instantiate_error(&error, store.data(), deadline)),
        };
        (result, store.into_data())
    }
}

/// Turns a failed call into a [`Failure`], and logs the details that do
/// not fit in it.
fn classify_trap(error: &wasmtime::Error, state: &InvocationState, deadline: Duration) -> Failure {
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return classify_interrupt(state, deadline);
    }
    tracing::debug!(error = ?error, "handler trapped");

    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Failure::handler(InvocationError::Trapped(format!(
            "the handler called exit with status {}",
            exit.0
        )));
    }

    let rejection = state.limiter.describe_rejection();
    let cause = match rejection {
        Some(_) => FailureCause::Limit,
        None => FailureCause::Handler,
    };
    let mut reason = match (rejection, error.downcast_ref::<Trap>()) {
        (Some(rejection), _) => rejection,
        (None, Some(Trap::StackOverflow)) => format!(
            "stack overflow: the handler used up its WebAssembly call stack, usually \
             through unbounded recursion ({})",
            Trap::StackOverflow
        ),
        (None, Some(trap)) => trap.to_string(),
        (None, None) => format!("{error:#}"),
    };
    if let Some(message) = &state.last_error_message {
        reason.push_str("; it last logged the error: ");
        reason.push_str(&escape_control_chars(message));
    }
    let (stderr, _) = state.stderr.contents();
    if let Some(tail) = stderr_tail(&stderr) {
        reason.push_str("; its stderr ends with: ");
        reason.push_str(&tail);
    }
    Failure {
        error: InvocationError::Trapped(reason),
        cause,
    }
}

/// Turns a failed instantiation into a [`Failure`].
///
/// Creating an instance fails when every slot of the runtime's pool is in
/// use, when the component needs more memory or table elements to start
/// than the plugin's limits allow, or when its initialization traps.
fn classify_instantiate_error(
    error: &wasmtime::Error,
    state: &InvocationState,
    deadline: Duration,
) -> Failure {
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return classify_interrupt(state, deadline);
    }
    if error.is::<PoolConcurrencyLimitError>() {
        return Failure {
            error: InvocationError::Instantiate(format!("{error:#}")),
            cause: FailureCause::PoolExhausted,
        };
    }
    // Wasmtime's own error states only that a minimum size "exceeds memory
    // limits" or "exceeds table limits", so the limiter's record replaces it
    // with the limit and the setting that raises it.
    if let Some(rejection) = state.limiter.describe_rejection() {
        return Failure::limit(InvocationError::Instantiate(rejection));
    }
    Failure::handler(InvocationError::Instantiate(format!("{error:#}")))
}

/// Turns an epoch interruption into the failure of the limit that caused it.
fn classify_interrupt(state: &InvocationState, deadline: Duration) -> Failure {
    match state.budget.exceeded() {
        Some(Exceeded::CpuTime { limit, used }) => {
            tracing::debug!(?limit, ?used, "handler interrupted at its CPU time limit");
            Failure::limit(InvocationError::Trapped(format!(
                "CPU time limit exceeded: the handler used {} ms of CPU time, above its limit \
                 of {} ms; raise cpu_ms in the [limits] table of the plugin's .toml file or \
                 make the handler do less work",
                used.as_millis(),
                limit.as_millis()
            )))
        }
        Some(Exceeded::Deadline) | None => {
            tracing::debug!(?deadline, "handler interrupted at its deadline");
            Failure::handler(InvocationError::TimedOut { deadline })
        }
    }
}

/// Turns a failed `describe` call into the load error that names the fix
/// for its cause: a fix of the handler, a higher limit in `config_path`, or
/// another attempt once the pool has a free slot.
fn describe_error(path: &Path, config_path: &Path, failure: Failure) -> PluginError {
    let path = path.to_owned();
    let reason = failure.error.to_string();
    match failure.cause {
        FailureCause::Handler => PluginError::Describe { path, reason },
        FailureCause::Limit => PluginError::DescribeLimit {
            path,
            config: config_path.to_owned(),
            reason,
        },
        FailureCause::PoolExhausted => PluginError::DescribeBusy { path, reason },
    }
}

/// Returns the last [`STDERR_TAIL_BYTES`] of a guest's stderr on one line,
/// with control characters escaped, or `None` if it wrote nothing.
fn stderr_tail(stderr: &str) -> Option<String> {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut start = trimmed.len().saturating_sub(STDERR_TAIL_BYTES);
    while !trimmed.is_char_boundary(start) {
        start += 1;
    }
    let lines: Vec<&str> = trimmed[start..]
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    Some(escape_control_chars(&lines.join(" / ")).into_owned())
}

/// Logs what a guest wrote to stdout and stderr, one record per stream
/// with control characters escaped, and how many of its log messages were
/// dropped.
pub(super) fn log_guest_output(state: &InvocationState) {
    let plugin = &*state.plugin;
    for (stream, output) in [("stdout", &state.stdout), ("stderr", &state.stderr)] {
        let (text, dropped_bytes) = output.contents();
        let text = text.trim_end();
        if text.is_empty() && dropped_bytes == 0 {
            continue;
        }
        let text = escape_control_chars(text);
        if stream == "stdout" {
            tracing::info!(target: GUEST_LOG_TARGET, plugin, stream, dropped_bytes, "{text}");
        } else {
            tracing::warn!(target: GUEST_LOG_TARGET, plugin, stream, dropped_bytes, "{text}");
        }
    }
    if state.dropped_log_messages > 0 {
        tracing::warn!(
            target: GUEST_LOG_TARGET,
            plugin,
            dropped = state.dropped_log_messages,
            "handler logged more than {} messages in one invocation; dropped the rest",
            super::state::MAX_LOG_MESSAGES,
        );
    }
}

/// Builds the engine configuration.
///
/// Each memory reservation equals the memory limit rather than wasmtime's
/// 4 GiB default, at the cost of explicit bounds checks in compiled code.
/// The pool then reserves address space, not RAM, of about 190 MiB per
/// concurrent invocation: [`MEMORIES_PER_COMPONENT`] slots of 64 MiB plus a
/// 32 MiB guard region. At the default limits a runtime grew the process's
/// `VmSize` by 6.2 GiB, measured on x86-64 Linux, where 4 GiB reservations
/// would take over 256 GiB.
fn engine_config(limits: &Limits) -> Config {
    let memory_bytes = limits.memory_bytes_rounded();
    let instances = limits.max_concurrent_invocations;

    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances * CORE_INSTANCES_PER_COMPONENT)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .total_memories(instances * MEMORIES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .total_tables(instances * TABLES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .total_gc_heaps(instances)
        .max_memory_size(memory_bytes)
        .table_elements(limits.max_table_elements)
        // Calls run on the caller's thread, so no fiber stacks are needed.
        // The pool would otherwise map 2 MiB of stack per slot.
        .total_stacks(0);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(false)
        .memory_reservation(memory_bytes as u64)
        .memory_reservation_for_growth(0)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// Checks the magic number and the layer field, so that a file that is not
/// a component gets a precise error before wasmtime's generic one.
fn check_header(path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
    const MAGIC: &[u8] = b"\0asm";
    /// Bytes 4..8 of a core module: version 1, layer 0.
    const CORE_MODULE_VERSION: &[u8] = &[1, 0, 0, 0];

    if !bytes.starts_with(MAGIC) {
        return Err(PluginError::NotWasm {
            path: path.to_owned(),
        });
    }
    if bytes.get(4..8) == Some(CORE_MODULE_VERSION) {
        return Err(PluginError::CoreModule {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Checks that the component exports the handler interface at 0.1.x.
fn check_handler_export(
    path: &Path,
    component: &Component,
    engine: &Engine,
) -> Result<(), PluginError> {
    if component.get_export_index(None, HANDLER_EXPORT).is_some() {
        return Ok(());
    }

    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    if let Some(export) = exports
        .iter()
        .find(|name| name.starts_with(HANDLER_EXPORT_UNVERSIONED))
    {
        return Err(PluginError::UnsupportedVersion {
            path: path.to_owned(),
            export: export.clone(),
        });
    }
    let exports = if exports.is_empty() {
        "none".to_owned()
    } else {
        exports.join(", ")
    };
    Err(PluginError::MissingExport {
        path: path.to_owned(),
        exports,
    })
}

/// Advances an engine's epoch every [`EPOCH_TICK`] on a thread of its own.
/// Dropping the last reference disconnects the channel, which ends the
/// thread within one tick.
struct EpochTicker {
    _stop: mpsc::Sender<()>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<Arc<Self>> {
        let (stop, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("wasm-epoch-ticker".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    engine.increment_epoch();
                }
            })?;
        Ok(Arc::new(Self { _stop: stop }))
    }
}

/// The data `describe` receives. Handlers must not touch storage while
/// describing themselves, because loading happens outside any delivery.
struct NoData;

impl NoData {
    const REASON: &str = "the store is not available during describe";
}

impl PluginData for NoData {
    fn store_get(&mut self, _key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Unavailable(Self::REASON.into()))
    }

    fn store_set(&mut self, _key: &str, _value: Vec<u8>) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(Self::REASON.into()))
    }

    fn store_delete(&mut self, _key: &str) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(Self::REASON.into()))
    }

    fn store_list(&mut self, _prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Err(StoreError::Unavailable(Self::REASON.into()))
    }

    fn find_user(&mut self, _lookup: UserLookup) -> Result<Option<User>, String> {
        Err("users are not available during describe".into())
    }
}
