//! The server's metrics, rendered for Prometheus by `GET /metrics`.
//!
//! Each server owns one [`Metrics`] with its own registry, so several
//! servers in one process (as in the tests) never mix their figures.
//! Counters and histograms are updated where things happen; the gauges of
//! queue depth and loaded plugins are read fresh on every scrape.
//!
//! Every name starts with `authkit_`. Durations are in seconds.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::plugin::{ActionKind, InvocationError};
use crate::store::{DeliveryStatus, QueueDepth};

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The outcome of one webhook request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookOutcome {
    /// Stored as a new event.
    Stored,
    /// Already stored; acknowledged again.
    Duplicate,
    /// The signature was missing, malformed, stale or wrong (401).
    Unauthorized,
    /// The body was over the size limit (413).
    TooLarge,
    /// The body was unreadable, or signed but not a valid event (400).
    Invalid,
    /// Storage failed (5xx).
    Error,
}

impl WebhookOutcome {
    const ALL: [Self; 6] = [
        Self::Stored,
        Self::Duplicate,
        Self::Unauthorized,
        Self::TooLarge,
        Self::Invalid,
        Self::Error,
    ];

    fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Stored => "stored",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::Unauthorized => "unauthorized",
            WebhookOutcome::TooLarge => "too_large",
            WebhookOutcome::Invalid => "invalid",
            WebhookOutcome::Error => "error",
        }
    }
}

/// The outcome of one plugin file change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadOutcome {
    /// A new plugin was loaded.
    Loaded,
    /// A plugin was replaced by a new version or new settings.
    Reloaded,
    /// A plugin's file was removed.
    Unloaded,
    /// A file failed to load; any previous version kept serving.
    Failed,
}

impl LoadOutcome {
    const ALL: [Self; 4] = [Self::Loaded, Self::Reloaded, Self::Unloaded, Self::Failed];

    fn as_str(self) -> &'static str {
        match self {
            LoadOutcome::Loaded => "loaded",
            LoadOutcome::Reloaded => "reloaded",
            LoadOutcome::Unloaded => "unloaded",
            LoadOutcome::Failed => "failed",
        }
    }
}

/// The kind of work a plugin was invoked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvocationKind {
    /// A queued event delivery.
    Event,
    /// An Action decision.
    Action,
}

impl InvocationKind {
    fn as_str(self) -> &'static str {
        match self {
            InvocationKind::Event => "event",
            InvocationKind::Action => "action",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginOutcomeLabels {
    plugin: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InvocationLabels {
    plugin: String,
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginStatusLabels {
    plugin: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    kind: &'static str,
    verdict: &'static str,
    decided_by: &'static str,
}

/// The outcomes of one delivery attempt, as `authkit_deliveries_total`
/// labels them.
const DELIVERY_OUTCOMES: [&str; 4] = ["handled", "failed", "timed_out", "trapped"];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Bucket bounds, in seconds, for request and decision latency.
const REQUEST_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Bucket bounds, in seconds, for one plugin invocation: from a call of a
/// small Rust plugin (tens of µs) to past the default 10 s deadline, so a
/// timed-out invocation lands in a finite bucket.
const INVOCATION_BUCKETS: [f64; 18] = [
    0.000_025, 0.000_05, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

fn invocation_histogram() -> Histogram {
    Histogram::new(INVOCATION_BUCKETS)
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    webhooks: Family<OutcomeLabels, Counter>,
    ingest_seconds: Histogram,
    deliveries: Family<PluginOutcomeLabels, Counter>,
    dead_deliveries: Family<PluginLabels, Counter>,
    invocation_seconds: HistogramFamily<InvocationLabels>,
    events_awaiting_fan_out: Gauge,
    queued_deliveries: Family<PluginStatusLabels, Gauge>,
    actions: Family<ActionLabels, Counter>,
    action_seconds: Histogram,
    plugin_loads: Family<OutcomeLabels, Counter>,
    plugins_loaded: Gauge,
    /// Held while a scrape refreshes the gauges and renders, so two
    /// scrapes at once never see each other's half-refreshed gauges.
    render_lock: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates every metric at zero in a new registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("authkit");

        let webhooks = Family::default();
        registry.register(
            "webhooks_received",
            "Webhook requests by how they ended",
            webhooks.clone(),
        );
        let ingest_seconds = request_histogram();
        registry.register(
            "webhook_ingest_seconds",
            "Time from a webhook's arrival to its acknowledgement, for stored and duplicate events",
            ingest_seconds.clone(),
        );
        let deliveries = Family::default();
        registry.register(
            "deliveries",
            "Delivery attempts by plugin and outcome (handled, failed, timed_out, trapped)",
            deliveries.clone(),
        );
        let dead_deliveries = Family::default();
        registry.register(
            "deliveries_dead",
            "Deliveries given up after their last attempt failed, by plugin",
            dead_deliveries.clone(),
        );
        let invocation_seconds: HistogramFamily<InvocationLabels> =
            Family::new_with_constructor(invocation_histogram);
        registry.register(
            "plugin_invocation_seconds",
            "Time one plugin invocation took, by plugin and kind (event or action)",
            invocation_seconds.clone(),
        );
        let events_awaiting_fan_out = Gauge::default();
        registry.register(
            "events_awaiting_fan_out",
            "Stored events not yet queued for the plugins",
            events_awaiting_fan_out.clone(),
        );
        let queued_deliveries = Family::default();
        registry.register(
            "queued_deliveries",
            "Deliveries waiting (pending) or given up (dead), by plugin",
            queued_deliveries.clone(),
        );
        let actions = Family::default();
        registry.register(
            "actions",
            "Action decisions by kind, verdict and whether plugins or the fallback decided",
            actions.clone(),
        );
        let action_seconds = request_histogram();
        registry.register(
            "action_decision_seconds",
            "Time to decide one Action, plugins included",
            action_seconds.clone(),
        );
        let plugin_loads = Family::default();
        registry.register(
            "plugin_loads",
            "Plugin file changes by outcome (loaded, reloaded, unloaded, failed)",
            plugin_loads.clone(),
        );
        let plugins_loaded = Gauge::default();
        registry.register(
            "plugins_loaded",
            "Plugins loaded now",
            plugins_loaded.clone(),
        );

        let metrics = Self {
            registry,
            webhooks,
            ingest_seconds,
            deliveries,
            dead_deliveries,
            invocation_seconds,
            events_awaiting_fan_out,
            queued_deliveries,
            actions,
            action_seconds,
            plugin_loads,
            plugins_loaded,
            render_lock: Mutex::new(()),
        };
        metrics.create_fixed_series();
        metrics
    }

    /// Creates every series whose labels are known in advance at zero, so
    /// queries and alerts find them before the first event.
    fn create_fixed_series(&self) {
        for outcome in WebhookOutcome::ALL {
            self.webhooks.get_or_create_owned(&OutcomeLabels {
                outcome: outcome.as_str(),
            });
        }
        for outcome in LoadOutcome::ALL {
            self.plugin_loads.get_or_create_owned(&OutcomeLabels {
                outcome: outcome.as_str(),
            });
        }
        for kind in [ActionKind::Authentication, ActionKind::UserRegistration] {
            for verdict in ["allow", "deny"] {
                for decided_by in ["plugins", "fallback"] {
                    self.actions.get_or_create_owned(&ActionLabels {
                        kind: kind.as_str(),
                        verdict,
                        decided_by,
                    });
                }
            }
        }
    }

    /// Creates a plugin's delivery series at zero, so they exist from the
    /// moment it is loaded.
    pub fn register_plugin(&self, plugin: &str) {
        for outcome in DELIVERY_OUTCOMES {
            self.deliveries.get_or_create_owned(&PluginOutcomeLabels {
                plugin: plugin.to_owned(),
                outcome,
            });
        }
        self.dead_deliveries.get_or_create_owned(&PluginLabels {
            plugin: plugin.to_owned(),
        });
    }

    /// Counts one webhook request; the latency counts only for requests
    /// that were acknowledged.
    pub fn record_webhook(&self, outcome: WebhookOutcome, elapsed: Duration) {
        self.webhooks
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
        if matches!(outcome, WebhookOutcome::Stored | WebhookOutcome::Duplicate) {
            self.ingest_seconds.observe(elapsed.as_secs_f64());
        }
    }

    /// Records one plugin invocation's latency.
    pub fn record_invocation(&self, plugin: &str, kind: InvocationKind, elapsed: Duration) {
        self.invocation_seconds
            .get_or_create(&InvocationLabels {
                plugin: plugin.to_owned(),
                kind: kind.as_str(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one delivery attempt by its result, and the delivery as dead
    /// when it has no attempts left.
    pub fn record_delivery<T>(
        &self,
        plugin: &str,
        result: &Result<T, InvocationError>,
        dead: bool,
    ) {
        let outcome = match result {
            Ok(_) => DELIVERY_OUTCOMES[0],
            Err(InvocationError::Failed(_)) => DELIVERY_OUTCOMES[1],
            Err(InvocationError::TimedOut { .. } | InvocationError::NoSlot { .. }) => {
                DELIVERY_OUTCOMES[2]
            }
            Err(InvocationError::Trapped(_) | InvocationError::Instantiate(_)) => {
                DELIVERY_OUTCOMES[3]
            }
        };
        self.deliveries
            .get_or_create(&PluginOutcomeLabels {
                plugin: plugin.to_owned(),
                outcome,
            })
            .inc();
        if dead {
            self.dead_deliveries
                .get_or_create(&PluginLabels {
                    plugin: plugin.to_owned(),
                })
                .inc();
        }
    }

    /// Counts one Action decision.
    pub fn record_action(
        &self,
        kind: ActionKind,
        allowed: bool,
        by_fallback: bool,
        elapsed: Duration,
    ) {
        self.actions
            .get_or_create(&ActionLabels {
                kind: kind.as_str(),
                verdict: if allowed { "allow" } else { "deny" },
                decided_by: if by_fallback { "fallback" } else { "plugins" },
            })
            .inc();
        self.action_seconds.observe(elapsed.as_secs_f64());
    }

    /// Counts one plugin file change.
    pub fn record_plugin_load(&self, outcome: LoadOutcome) {
        self.plugin_loads
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Renders every metric in the Prometheus text format, with the gauges
    /// set from `queue` and the names of the loaded plugins first.
    pub fn render(&self, queue: &QueueDepth, loaded_plugins: &[String]) -> String {
        let _rendering = self
            .render_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());

        self.events_awaiting_fan_out
            .set(i64::try_from(queue.events_awaiting_fan_out).unwrap_or(i64::MAX));
        // A plugin whose queue emptied has no row any more; clearing first
        // drops its stale figure. A loaded plugin's queue series stay, at
        // zero when empty, so a drained queue reads 0 rather than vanishing.
        self.queued_deliveries.clear();
        for plugin in loaded_plugins {
            for status in [DeliveryStatus::Pending, DeliveryStatus::Dead] {
                self.queued_deliveries
                    .get_or_create(&PluginStatusLabels {
                        plugin: plugin.clone(),
                        status: status.as_str(),
                    })
                    .set(0);
            }
        }
        for count in &queue.deliveries {
            self.queued_deliveries
                .get_or_create(&PluginStatusLabels {
                    plugin: count.plugin.clone(),
                    status: count.status.as_str(),
                })
                .set(i64::try_from(count.count).unwrap_or(i64::MAX));
        }
        self.plugins_loaded
            .set(i64::try_from(loaded_plugins.len()).unwrap_or(i64::MAX));

        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DeliveryCount;

    /// Returns `count` loaded plugin names.
    fn loaded(count: usize) -> Vec<String> {
        (0..count).map(|index| format!("plugin-{index}")).collect()
    }

    fn line_value(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
    }

    #[test]
    fn counters_render_with_their_labels() {
        let metrics = Metrics::new();
        metrics.record_webhook(WebhookOutcome::Stored, Duration::from_millis(3));
        metrics.record_webhook(WebhookOutcome::Stored, Duration::from_millis(4));
        metrics.record_webhook(WebhookOutcome::Unauthorized, Duration::from_millis(1));
        metrics.record_delivery::<()>("todo-lists", &Ok(()), false);
        metrics.record_delivery::<()>(
            "todo-lists",
            &Err(InvocationError::Failed("no".into())),
            true,
        );
        metrics.record_action(
            ActionKind::Authentication,
            false,
            true,
            Duration::from_millis(2),
        );
        metrics.record_plugin_load(LoadOutcome::Reloaded);

        let text = metrics.render(&QueueDepth::default(), &loaded(2));

        let expect = [
            (r#"authkit_webhooks_received_total{outcome="stored"}"#, 2.0),
            (
                r#"authkit_webhooks_received_total{outcome="unauthorized"}"#,
                1.0,
            ),
            ("authkit_webhook_ingest_seconds_count", 2.0),
            (
                r#"authkit_deliveries_total{plugin="todo-lists",outcome="handled"}"#,
                1.0,
            ),
            (
                r#"authkit_deliveries_total{plugin="todo-lists",outcome="failed"}"#,
                1.0,
            ),
            (r#"authkit_deliveries_dead_total{plugin="todo-lists"}"#, 1.0),
            (
                r#"authkit_actions_total{kind="authentication",verdict="deny",decided_by="fallback"}"#,
                1.0,
            ),
            (r#"authkit_plugin_loads_total{outcome="reloaded"}"#, 1.0),
            ("authkit_plugins_loaded", 2.0),
        ];
        for (series, value) in expect {
            assert_eq!(
                line_value(&text, series),
                Some(value),
                "{series} in\n{text}"
            );
        }
    }

    #[test]
    fn known_series_exist_before_first_event() {
        let metrics = Metrics::new();
        metrics.register_plugin("user-mirror");

        let text = metrics.render(&QueueDepth::default(), &loaded(1));

        let expect = [
            r#"authkit_webhooks_received_total{outcome="error"}"#,
            r#"authkit_plugin_loads_total{outcome="failed"}"#,
            r#"authkit_actions_total{kind="user-registration",verdict="allow",decided_by="fallback"}"#,
            r#"authkit_deliveries_total{plugin="user-mirror",outcome="timed_out"}"#,
            r#"authkit_deliveries_dead_total{plugin="user-mirror"}"#,
        ];
        for series in expect {
            assert_eq!(line_value(&text, series), Some(0.0), "{series} in\n{text}");
        }
    }

    #[test]
    fn invocation_past_deadline_has_finite_bucket() {
        let metrics = Metrics::new();
        metrics.record_invocation("todo-lists", InvocationKind::Event, Duration::from_secs(11));

        let text = metrics.render(&QueueDepth::default(), &loaded(1));

        let bucket = |le: &str| {
            line_value(
                &text,
                &format!(
                    r#"authkit_plugin_invocation_seconds_bucket{{plugin="todo-lists",kind="event",le="{le}"}}"#
                ),
            )
        };
        assert_eq!(bucket("0.00025"), Some(0.0), "{text}");
        assert_eq!(bucket("10"), Some(0.0), "{text}");
        assert_eq!(bucket("30"), Some(1.0), "{text}");
    }

    #[test]
    fn drained_queue_reads_zero_while_plugin_loaded() {
        let metrics = Metrics::new();
        let busy = QueueDepth {
            events_awaiting_fan_out: 7,
            deliveries: vec![
                DeliveryCount {
                    plugin: "a".into(),
                    status: DeliveryStatus::Pending,
                    count: 5,
                },
                DeliveryCount {
                    plugin: "b".into(),
                    status: DeliveryStatus::Dead,
                    count: 1,
                },
            ],
        };

        let text = metrics.render(&busy, &[]);
        assert_eq!(
            line_value(&text, "authkit_events_awaiting_fan_out"),
            Some(7.0)
        );
        assert_eq!(
            line_value(
                &text,
                r#"authkit_queued_deliveries{plugin="a",status="pending"}"#
            ),
            Some(5.0)
        );

        // "a" is still loaded, so its drained queue reads 0; "b" is gone.
        let text = metrics.render(&QueueDepth::default(), &["a".to_owned()]);
        assert!(!text.contains(r#"plugin="b""#), "{text}");
        for status in ["pending", "dead"] {
            assert_eq!(
                line_value(
                    &text,
                    &format!(r#"authkit_queued_deliveries{{plugin="a",status="{status}"}}"#)
                ),
                Some(0.0),
                "{text}"
            );
        }
        assert_eq!(
            line_value(&text, "authkit_events_awaiting_fan_out"),
            Some(0.0)
        );
    }

    #[test]
    fn invocation_latency_per_plugin_and_kind() {
        let metrics = Metrics::new();
        metrics.record_invocation(
            "deny-gmail",
            InvocationKind::Action,
            Duration::from_micros(40),
        );

        let text = metrics.render(&QueueDepth::default(), &loaded(1));

        assert!(
            text.contains("# TYPE authkit_plugin_invocation_seconds histogram"),
            "{text}"
        );
        assert_eq!(
            line_value(
                &text,
                r#"authkit_plugin_invocation_seconds_count{plugin="deny-gmail",kind="action"}"#
            ),
            Some(1.0)
        );
    }
}
