//! Durable delivery of stored events to the plugins subscribed to them.
//!
//! Two kinds of task run here, never on the webhook request path:
//!
//! - fan-out reads events the store has not yet queued, matches them against
//!   each loaded plugin's subscriptions and queues one delivery per match;
//! - one worker per plugin takes that plugin's due deliveries in receive
//!   order, runs each in a fresh instance, and commits the outcomes together
//!   with the handlers' store writes (see [`crate::overlay`]).
//!
//! A failed delivery is retried with exponential backoff and parked as dead
//! when its attempts run out. Its subject's later events wait for it, other
//! subjects' events and other plugins do not.

mod retry;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinSet;

pub use retry::{DEFAULT_BASE_DELAY, DEFAULT_MAX_ATTEMPTS, MAX_DELAY, RetryPolicy};

use crate::http::error_chain;
use crate::metrics::{InvocationKind, Metrics};
use crate::overlay::{Overlay, Writes, into_store_writes};
use crate::plugin::EventInput;
use crate::registry::{PluginRegistry, PluginStats};
use crate::store::{Delivery, DeliveryOutcome, NewDelivery, Store};
use crate::timestamp::Timestamp;

/// Events fan-out reads per round.
const FAN_OUT_BATCH: usize = 512;
/// Deliveries a worker runs per commit.
const DELIVERY_BATCH: usize = 128;
/// How often idle tasks look for work they were not woken for, such as a
/// retry that has become due.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long a task waits after a storage error before trying again.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Wakes the dispatcher when a new event is stored.
#[derive(Clone, Default)]
pub struct DispatchWaker(Arc<Notify>);

impl DispatchWaker {
    /// Tells fan-out that new events may be waiting.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The running dispatcher; stopping it stops its tasks. A batch in flight
/// is not committed, so its deliveries run again later.
pub struct Dispatcher {
    fan_out: tokio::task::JoinHandle<()>,
}

impl Dispatcher {
    /// Starts fan-out, which starts a worker for each plugin name as soon
    /// as a plugin of that name is loaded.
    pub fn start(
        store: Arc<dyn Store>,
        registry: Arc<PluginRegistry>,
        policy: RetryPolicy,
        waker: DispatchWaker,
        metrics: Arc<Metrics>,
    ) -> Self {
        let fan_out = FanOut {
            store,
            registry,
            policy,
            waker,
            metrics,
            workers: BTreeMap::new(),
            tasks: JoinSet::new(),
        };
        Self {
            fan_out: tokio::spawn(fan_out.run()),
        }
    }

    /// Stops every task.
    pub async fn stop(self) {
        // Dropping fan-out's task set aborts the workers with it.
        self.fan_out.abort();
        let _ = self.fan_out.await;
    }
}

struct FanOut {
    store: Arc<dyn Store>,
    registry: Arc<PluginRegistry>,
    policy: RetryPolicy,
    waker: DispatchWaker,
    metrics: Arc<Metrics>,
    /// One worker per plugin name ever loaded. A worker outlives an unload
    /// and resumes the name's pending deliveries when it is loaded again.
    workers: BTreeMap<String, Arc<Notify>>,
    tasks: JoinSet<()>,
}

impl FanOut {
    async fn run(mut self) {
        loop {
            self.start_new_workers();

            match self.fan_out_once().await {
                Ok(0) => {
                    tokio::select! {
                        () = self.waker.0.notified() => {}
                        () = self.registry.changed() => {}
                        () = tokio::time::sleep(POLL_INTERVAL) => {}
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(error = %error_chain(&error), "fan-out failed; retrying");
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
        }
    }

    async fn fan_out_once(&self) -> crate::Result<usize> {
        let events = self.store.undispatched_events(FAN_OUT_BATCH).await?;
        let Some(last) = events.last() else {
            return Ok(0);
        };
        let through_sequence = last.sequence;

        let plugins = self.registry.subscribers();
        let mut deliveries = Vec::new();
        let mut woken = HashSet::new();
        for event in &events {
            for plugin in plugins
                .iter()
                .filter(|info| info.subscribes_to(&event.event_type))
            {
                deliveries.push(NewDelivery {
                    plugin: plugin.name.clone(),
                    event_sequence: event.sequence,
                    subject: event.subject.clone(),
                });
                woken.insert(plugin.name.clone());
            }
        }

        let queued = deliveries.len();
        self.store
            .queue_deliveries(through_sequence, deliveries)
            .await?;
        tracing::debug!(
            events = events.len(),
            queued,
            through_sequence,
            "fanned out events"
        );

        for name in woken {
            if let Some(wake) = self.workers.get(&name) {
                wake.notify_one();
            }
        }
        Ok(events.len())
    }

    /// Starts a worker for every loaded plugin name that has none yet.
    fn start_new_workers(&mut self) {
        for plugin in self.registry.snapshot() {
            let name = &plugin.info.name;
            if self.workers.contains_key(name) {
                continue;
            }

            let wake = Arc::new(Notify::new());
            self.workers.insert(name.clone(), Arc::clone(&wake));
            let worker = Worker {
                name: name.clone(),
                store: Arc::clone(&self.store),
                registry: Arc::clone(&self.registry),
                policy: self.policy,
                metrics: Arc::clone(&self.metrics),
                wake,
            };
            self.tasks.spawn(worker.run());
        }
    }
}

struct Worker {
    name: String,
    store: Arc<dyn Store>,
    registry: Arc<PluginRegistry>,
    policy: RetryPolicy,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

impl Worker {
    async fn run(self) {
        loop {
            // An unloaded plugin's deliveries stay queued until a plugin of
            // the same name is loaded again.
            if self.registry.get(&self.name).is_none() {
                let _ = tokio::time::timeout(POLL_INTERVAL, self.wake.notified()).await;
                continue;
            }

            let due = match self
                .store
                .due_deliveries(&self.name, Timestamp::now(), DELIVERY_BATCH)
                .await
            {
                Ok(due) => due,
                Err(error) => {
                    tracing::error!(plugin = %self.name, error = %error_chain(&error), "reading due deliveries failed");
                    tokio::time::sleep(ERROR_PAUSE).await;
                    continue;
                }
            };
            if due.is_empty() {
                let _ = tokio::time::timeout(POLL_INTERVAL, self.wake.notified()).await;
                continue;
            }

            let count = due.len();
            let store = Arc::clone(&self.store);
            let policy = self.policy;
            let runtime = Handle::current();
            let recorders = Recorders {
                stats: self.registry.stats(&self.name),
                metrics: Arc::clone(&self.metrics),
            };
            let (registry, name) = (Arc::clone(&self.registry), self.name.clone());
            let ran = tokio::task::spawn_blocking(move || {
                run_batch(&registry, &name, &recorders, due, store, runtime, policy)
            })
            .await;
            let (outcomes, writes) = match ran {
                Ok(result) => result,
                Err(error) => {
                    tracing::error!(plugin = %self.name, %error, "delivery batch panicked");
                    tokio::time::sleep(ERROR_PAUSE).await;
                    continue;
                }
            };

            if let Err(error) = self
                .store
                .complete_deliveries(&self.name, outcomes, into_store_writes(writes))
                .await
            {
                // Nothing of the batch was committed, so it runs again.
                tracing::error!(plugin = %self.name, deliveries = count, error = %error_chain(&error), "committing deliveries failed");
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
}

/// The recorders of a batch's invocations: the plugin's counters for
/// `/plugins` and the server's metrics.
struct Recorders {
    stats: Arc<PluginStats>,
    metrics: Arc<Metrics>,
}

/// Runs a batch of deliveries in receive order on a blocking thread.
///
/// A failure blocks the rest of its subject's deliveries in the batch, so a
/// subject's events are never handled out of order. Each delivery runs on
/// the version loaded when it starts, so a reload takes effect from the
/// next delivery, and an unload leaves the rest of the batch pending. A
/// delivery of a type the running version does not subscribe to is done
/// without running it.
fn run_batch(
    registry: &PluginRegistry,
    name: &str,
    recorders: &Recorders,
    due: Vec<Delivery>,
    store: Arc<dyn Store>,
    runtime: Handle,
    policy: RetryPolicy,
) -> (Vec<(i64, DeliveryOutcome)>, Writes) {
    let mut batch_writes = Writes::new();
    let mut blocked_subjects = HashSet::new();
    let due_count = due.len();
    let mut outcomes = Vec::with_capacity(due_count);

    for (index, delivery) in due.into_iter().enumerate() {
        let event = &delivery.event;
        if let Some(subject) = &event.subject
            && blocked_subjects.contains(subject)
        {
            continue;
        }

        let Some(plugin) = registry.get(name) else {
            tracing::info!(
                plugin = name,
                left_pending = due_count - index,
                "plugin unloaded during a batch; its remaining deliveries wait for it"
            );
            break;
        };

        // Deliveries queued for an earlier version, or during a redeploy,
        // may be of a type this version no longer subscribes to.
        if !plugin.info.subscribes_to(&event.event_type) {
            tracing::info!(
                plugin = name,
                version = %plugin.info.version,
                event_id = %event.id,
                event_type = %event.event_type,
                "dropped a queued delivery: the loaded version does not subscribe to its type"
            );
            outcomes.push((delivery.event_sequence, DeliveryOutcome::Handled));
            continue;
        }

        let overlay = Overlay::new(name, Arc::clone(&store), runtime.clone(), batch_writes);
        let started = Instant::now();
        let (result, overlay) = plugin.handle_event(&EventInput::from(event), overlay);
        recorders
            .metrics
            .record_invocation(name, InvocationKind::Event, started.elapsed());
        recorders.stats.record(&result);
        batch_writes = overlay.finish(result.is_ok());

        let attempts = delivery.attempts + 1;
        let retry_at = match &result {
            Ok(()) => None,
            Err(_) => policy.next_attempt(attempts, Timestamp::now()),
        };
        recorders
            .metrics
            .record_delivery(name, &result, result.is_err() && retry_at.is_none());

        let outcome = match result {
            Ok(()) => {
                tracing::debug!(plugin = name, event_id = %event.id, "delivered event");
                DeliveryOutcome::Handled
            }
            Err(error) => {
                tracing::warn!(
                    plugin = name,
                    event_id = %event.id,
                    event_type = %event.event_type,
                    attempts,
                    dead = retry_at.is_none(),
                    %error,
                    "delivery failed"
                );
                if let Some(subject) = &event.subject {
                    blocked_subjects.insert(subject.clone());
                }
                DeliveryOutcome::Failed {
                    error: error.to_string(),
                    retry_at,
                }
            }
        };
        outcomes.push((delivery.event_sequence, outcome));
    }
    (outcomes, batch_writes)
}
