//! Deciding AuthKit Actions with the plugins, and the signed response
//! WorkOS expects.
//!
//! Every loaded plugin that declares the action's kind runs, one after the
//! other in plugin name order, until one denies: any deny wins and its
//! message is returned, otherwise the action is allowed. One deadline bounds
//! the whole decision. When a plugin fails, traps or runs past the deadline,
//! or no plugin handles the kind, the configured fallback verdict is
//! returned instead, so WorkOS is never left waiting.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::config::{FallbackVerdict, Secret};
use crate::http::error_chain;
use crate::metrics::{InvocationKind, Metrics};
use crate::overlay::{Overlay, Writes, into_store_writes};
use crate::plugin::{ActionInput, ActionKind, InvocationError, Plugin, Verdict};
use crate::registry::PluginRegistry;
use crate::signature;
use crate::store::{ActionDecision, Store};
use crate::timestamp::Timestamp;

/// The longest `error_message` WorkOS accepts, in characters.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 500;

/// The message sent with a fallback deny.
pub const FALLBACK_DENY_MESSAGE: &str =
    "This request could not be checked right now. Please try again later.";

/// The message sent when a plugin denies without one.
const EMPTY_DENY_MESSAGE: &str = "This request was denied.";

/// Settings for deciding Actions.
#[derive(Debug, Clone)]
pub struct ActionSettings {
    /// Verifies requests and signs responses; `None` disables Actions.
    pub secret: Option<Secret>,
    /// How far a request's signature timestamp may be from now.
    pub tolerance: Duration,
    /// How long one decision may take, plugins included.
    pub deadline: Duration,
    /// The verdict for authentication actions the plugins cannot decide.
    pub fallback_authentication: FallbackVerdict,
    /// The verdict for registration actions the plugins cannot decide.
    pub fallback_user_registration: FallbackVerdict,
    /// Plugin invocations that run at once; Actions past it wait without
    /// holding a thread, so a burst cannot starve the store's readers.
    pub max_concurrent_invocations: u32,
}

/// The verdict for one action and how it came about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The verdict sent to WorkOS.
    pub verdict: Verdict,
    /// The plugin that denied, if one did.
    pub deciding_plugin: Option<String>,
    /// Whether the configured fallback decided, because no plugin handles
    /// the kind or one failed or ran out of time.
    pub by_fallback: bool,
    /// Why this verdict, for the log and the decision record.
    pub reason: String,
}

/// Runs the plugins for Actions and records each decision.
pub struct ActionService {
    store: Arc<dyn Store>,
    registry: Arc<PluginRegistry>,
    settings: ActionSettings,
    metrics: Arc<Metrics>,
    /// Whether the missing-plugin warning was logged, per kind, so it is
    /// logged once rather than on every sign-in.
    warned_unhandled: [AtomicBool; 2],
    /// Decision records still being written.
    recorders: TaskTracker,
    /// One permit per plugin invocation that may run at once.
    invocation_permits: Arc<Semaphore>,
    /// Store writes of decided actions that are not yet committed, by
    /// plugin, so the next action reads them even before the commit lands.
    uncommitted: Arc<UncommittedWrites>,
}

/// Pending writes by key, each with the number of the action that made it.
type NumberedWrites = BTreeMap<String, (u64, Option<Vec<u8>>)>;

/// Action store writes between the answer and their commit.
///
/// Each write carries the number of the action that made it. Once an
/// action's record commits, its writes leave this map unless a later action
/// has written the same key since.
#[derive(Default)]
struct UncommittedWrites {
    by_plugin: Mutex<HashMap<String, NumberedWrites>>,
    next_number: AtomicU64,
}

impl UncommittedWrites {
    /// Returns a plugin's uncommitted writes, for an action's overlay.
    fn snapshot(&self, plugin: &str) -> Writes {
        let Ok(by_plugin) = self.by_plugin.lock() else {
            return Writes::new();
        };
        by_plugin
            .get(plugin)
            .map(|writes| {
                writes
                    .iter()
                    .map(|(key, (_, value))| (key.clone(), value.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Adds an action's writes and returns the action's number.
    fn add(&self, writes: &[(String, Writes)]) -> u64 {
        let number = self.next_number.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut by_plugin) = self.by_plugin.lock() {
            for (plugin, plugin_writes) in writes {
                let pending = by_plugin.entry(plugin.clone()).or_default();
                for (key, value) in plugin_writes {
                    pending.insert(key.clone(), (number, value.clone()));
                }
            }
        }
        number
    }

    /// Drops the writes of a committed action that no later action replaced.
    fn committed(&self, number: u64, writes: &[(String, Writes)]) {
        let Ok(mut by_plugin) = self.by_plugin.lock() else {
            return;
        };
        for (plugin, plugin_writes) in writes {
            if let Some(pending) = by_plugin.get_mut(plugin) {
                for key in plugin_writes.keys() {
                    if pending
                        .get(key)
                        .is_some_and(|(writer, _)| *writer == number)
                    {
                        pending.remove(key);
                    }
                }
                if pending.is_empty() {
                    by_plugin.remove(plugin);
                }
            }
        }
    }
}

impl ActionService {
    /// Creates the service.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<PluginRegistry>,
        settings: ActionSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        let invocation_permits =
            Arc::new(Semaphore::new(settings.max_concurrent_invocations as usize));
        Self {
            store,
            registry,
            settings,
            metrics,
            warned_unhandled: [AtomicBool::new(false), AtomicBool::new(false)],
            recorders: TaskTracker::new(),
            invocation_permits,
            uncommitted: Arc::default(),
        }
    }

    /// Waits until every decision made so far is recorded.
    pub async fn flush(&self) {
        self.recorders.close();
        self.recorders.wait().await;
        self.recorders.reopen();
    }

    /// Returns the settings.
    pub fn settings(&self) -> &ActionSettings {
        &self.settings
    }

    /// Decides an action within the deadline and returns the decision. The
    /// decision and the plugins' store writes are recorded in the background,
    /// in one transaction; [`ActionService::flush`] waits for that.
    pub async fn decide(&self, action: ActionInput) -> Decision {
        let started = Instant::now();
        let kind = action.kind();
        let action_id = action.id().to_owned();

        let (decision, writes) = self.run_plugins(action, started).await;

        let latency = started.elapsed();
        let (allowed, error_message) = match &decision.verdict {
            Verdict::Allow => (true, None),
            Verdict::Deny(message) => (false, Some(message.clone())),
        };
        tracing::info!(
            action_id = %action_id,
            kind = kind.as_str(),
            verdict = if allowed { "Allow" } else { "Deny" },
            plugin = decision.deciding_plugin.as_deref().unwrap_or("-"),
            reason = %decision.reason,
            latency_us = latency.as_micros() as u64,
            "decided action"
        );
        self.metrics
            .record_action(kind, allowed, decision.by_fallback, latency);

        let record = ActionDecision {
            action_id,
            kind: kind.as_str().to_owned(),
            allowed,
            error_message,
            deciding_plugin: decision.deciding_plugin.clone(),
            reason: decision.reason.clone(),
            latency_us: latency.as_micros() as u64,
            decided_at: Timestamp::now(),
        };
        // The record and the plugins' writes commit after the answer goes
        // out, so a slow disk sync never delays a sign-in. Until then later
        // actions read the writes from memory. A crash in between loses
        // them, which costs a log entry and, say, a sign-in count, but never
        // a wrong verdict.
        let number = self.uncommitted.add(&writes);
        let store = Arc::clone(&self.store);
        let uncommitted = Arc::clone(&self.uncommitted);
        self.recorders.spawn(async move {
            let store_writes = writes
                .iter()
                .map(|(plugin, plugin_writes)| {
                    (plugin.clone(), into_store_writes(plugin_writes.clone()))
                })
                .collect();
            if let Err(error) = store.record_action(record, store_writes).await {
                tracing::error!(error = %error_chain(&error), "recording an action decision failed; its store writes are lost");
            }
            uncommitted.committed(number, &writes);
        });
        decision
    }

    async fn run_plugins(
        &self,
        action: ActionInput,
        started: Instant,
    ) -> (Decision, Vec<(String, Writes)>) {
        let kind = action.kind();
        let plugins: Vec<Arc<Plugin>> = self
            .registry
            .snapshot()
            .into_iter()
            .filter(|plugin| plugin.info.handles(kind))
            .collect();
        if plugins.is_empty() {
            self.warn_unhandled_once(kind);
            return (
                self.fallback(kind, format!("no plugin handles {} actions", kind.as_str())),
                Vec::new(),
            );
        }

        let action = Arc::new(action);
        let deadline_at = started + self.settings.deadline;
        let mut writes = Vec::new();

        for plugin in plugins {
            let name = plugin.info.name.clone();
            let remaining = deadline_at.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                let reason = format!(
                    "the {:?} deadline passed before plugin {name} ran",
                    self.settings.deadline
                );
                tracing::warn!(plugin = %name, action_id = %action.id(), "{reason}");
                return (self.fallback(kind, reason), writes);
            }

            let outcome = self.invoke(&plugin, &action, remaining).await;
            match outcome {
                Ok((Verdict::Allow, plugin_writes)) => {
                    writes.push((name, plugin_writes));
                }
                Ok((Verdict::Deny(message), plugin_writes)) => {
                    writes.push((name.clone(), plugin_writes));
                    let decision = Decision {
                        verdict: Verdict::Deny(message),
                        reason: format!("denied by {name}"),
                        deciding_plugin: Some(name),
                        by_fallback: false,
                    };
                    return (decision, writes);
                }
                Err(failure) => {
                    let reason = format!("plugin {name} {failure}");
                    tracing::warn!(plugin = %name, action_id = %action.id(), %failure, "action plugin failed; returning the fallback verdict");
                    return (self.fallback(kind, reason), writes);
                }
            }
        }

        let decision = Decision {
            verdict: Verdict::Allow,
            deciding_plugin: None,
            by_fallback: false,
            reason: "allowed by every plugin".to_owned(),
        };
        (decision, writes)
    }

    /// Runs one plugin on a blocking thread, bounded by `remaining`.
    async fn invoke(
        &self,
        plugin: &Arc<Plugin>,
        action: &Arc<ActionInput>,
        remaining: Duration,
    ) -> Result<(Verdict, Writes), String> {
        let overlay = Overlay::new(
            &plugin.info.name,
            Arc::clone(&self.store),
            Handle::current(),
            self.uncommitted.snapshot(&plugin.info.name),
        );
        // The wait for a permit happens here, on no thread, and counts
        // against the deadline like the invocation itself.
        let waiting_since = Instant::now();
        let permit = tokio::time::timeout(
            remaining,
            Arc::clone(&self.invocation_permits).acquire_owned(),
        )
        .await;
        let Ok(Ok(permit)) = permit else {
            let error = InvocationError::NoSlot {
                slots: self.settings.max_concurrent_invocations,
                deadline: remaining,
            };
            self.registry
                .stats(&plugin.info.name)
                .record::<()>(&Err(error.clone()));
            return Err(format!("failed: {error}"));
        };
        let remaining = remaining.saturating_sub(waiting_since.elapsed());

        let (plugin, action) = (Arc::clone(plugin), Arc::clone(action));
        let stats = self.registry.stats(&plugin.info.name);
        let metrics = Arc::clone(&self.metrics);
        // The invocation is counted where it runs, because the timeout below
        // can return before the guest is interrupted at its deadline.
        let call = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let finished = plugin.handle_action(&action, overlay, remaining);
            metrics.record_invocation(&plugin.info.name, InvocationKind::Action, started.elapsed());
            stats.record(&finished.0);
            drop(permit);
            finished
        });

        // The guest is interrupted at the same deadline; the timeout here
        // also covers time spent waiting for a blocking thread.
        let (result, overlay) = match tokio::time::timeout(remaining, call).await {
            Err(_) => return Err(format!("did not answer within {remaining:?}")),
            Ok(Err(error)) => return Err(format!("panicked: {error}")),
            Ok(Ok(finished)) => finished,
        };
        match result {
            Ok(verdict) => Ok((verdict, overlay.into_own_writes())),
            Err(InvocationError::TimedOut { deadline }) => {
                Err(format!("did not answer within {deadline:?}"))
            }
            Err(error) => Err(format!("failed: {error}")),
        }
    }

    fn fallback(&self, kind: ActionKind, reason: String) -> Decision {
        let configured = match kind {
            ActionKind::Authentication => self.settings.fallback_authentication,
            ActionKind::UserRegistration => self.settings.fallback_user_registration,
        };
        let verdict = match configured {
            FallbackVerdict::Allow => Verdict::Allow,
            FallbackVerdict::Deny => Verdict::Deny(FALLBACK_DENY_MESSAGE.to_owned()),
        };
        Decision {
            verdict,
            deciding_plugin: None,
            by_fallback: true,
            reason: format!("fallback: {reason}"),
        }
    }

    fn warn_unhandled_once(&self, kind: ActionKind) {
        let index = match kind {
            ActionKind::Authentication => 0,
            ActionKind::UserRegistration => 1,
        };
        if !self.warned_unhandled[index].swap(true, Ordering::Relaxed) {
            tracing::warn!(
                kind = kind.as_str(),
                "no loaded plugin handles this action kind; answering the fallback verdict"
            );
        }
    }
}

/// The `payload` of an action response. Field order is the signed order.
#[derive(Serialize)]
struct ResponsePayload<'a> {
    timestamp: u64,
    verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

/// Builds the signed response body for a verdict.
///
/// The signature is the HMAC-SHA256 of `"<timestamp>.<payload JSON>"`, and
/// the payload is written into the body as the very bytes that were signed.
pub fn response_body(
    kind: ActionKind,
    verdict: &Verdict,
    secret: &str,
    timestamp_ms: u64,
) -> String {
    let error_message = match verdict {
        Verdict::Allow => None,
        Verdict::Deny(message) if message.trim().is_empty() => Some(EMPTY_DENY_MESSAGE.to_owned()),
        Verdict::Deny(message) => Some(message.chars().take(MAX_ERROR_MESSAGE_CHARS).collect()),
    };
    let payload = ResponsePayload {
        timestamp: timestamp_ms,
        verdict: if error_message.is_some() {
            "Deny"
        } else {
            "Allow"
        },
        error_message: error_message.as_deref(),
    };
    let payload = serde_json::to_string(&payload).expect("the payload serializes");
    let signature = signature::compute(secret, timestamp_ms, payload.as_bytes());
    let object = match kind {
        ActionKind::Authentication => "authentication_action_response",
        ActionKind::UserRegistration => "user_registration_action_response",
    };
    format!(r#"{{"object":"{object}","payload":{payload},"signature":"{signature}"}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "action_secret_test";
    const TIMESTAMP: u64 = 1_700_000_000_000;

    fn parts(body: &str) -> (serde_json::Value, String) {
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        let start = body.find(r#""payload":"#).unwrap() + r#""payload":"#.len();
        let end = body.find(r#","signature""#).unwrap();
        (value, body[start..end].to_owned())
    }

    #[test]
    fn uncommitted_writes_kept_until_their_commit() {
        let uncommitted = UncommittedWrites::default();
        let write = |value: &str| {
            vec![(
                "counter".to_owned(),
                Writes::from([("signins".to_owned(), Some(value.as_bytes().to_vec()))]),
            )]
        };
        let first = write("1");
        let second = write("2");

        let first_number = uncommitted.add(&first);
        let second_number = uncommitted.add(&second);
        uncommitted.committed(first_number, &first);

        let pending = uncommitted.snapshot("counter");
        assert_eq!(pending.get("signins"), Some(&Some(b"2".to_vec())));

        uncommitted.committed(second_number, &second);
        assert!(uncommitted.snapshot("counter").is_empty());
    }

    #[test]
    fn allow_vector() {
        let body = response_body(
            ActionKind::Authentication,
            &Verdict::Allow,
            SECRET,
            TIMESTAMP,
        );
        let (value, payload) = parts(&body);

        assert_eq!(payload, r#"{"timestamp":1700000000000,"verdict":"Allow"}"#);
        assert_eq!(
            value["signature"],
            "35fcc8884833eabb211057eb9a5f9a765b87415ecbff7abd4b319bf9a5b3cf74"
        );
        assert_eq!(value["object"], "authentication_action_response");
    }

    #[test]
    fn deny_vector() {
        let verdict = Verdict::Deny("Gmail accounts are not allowed".into());
        let body = response_body(ActionKind::UserRegistration, &verdict, SECRET, TIMESTAMP);
        let (value, payload) = parts(&body);

        assert_eq!(
            payload,
            r#"{"timestamp":1700000000000,"verdict":"Deny","error_message":"Gmail accounts are not allowed"}"#
        );
        assert_eq!(
            value["signature"],
            "123a9ea0ac4232fb6903e727297894e6f92b50c1756b6a4d77ce745f168e1d52"
        );
        assert_eq!(value["object"], "user_registration_action_response");
    }

    #[test]
    fn long_message_cut_to_500_characters() {
        let verdict = Verdict::Deny("é".repeat(700));
        let body = response_body(ActionKind::UserRegistration, &verdict, SECRET, TIMESTAMP);
        let (value, _) = parts(&body);

        let message = value["payload"]["error_message"].as_str().unwrap();
        assert_eq!(message.chars().count(), MAX_ERROR_MESSAGE_CHARS);
    }

    #[test]
    fn empty_deny_gets_a_message() {
        let body = response_body(
            ActionKind::Authentication,
            &Verdict::Deny(" ".into()),
            SECRET,
            TIMESTAMP,
        );
        let (value, _) = parts(&body);

        assert_eq!(value["payload"]["verdict"], "Deny");
        assert_eq!(value["payload"]["error_message"], EMPTY_DENY_MESSAGE);
    }

    #[test]
    fn escaped_message_signed_as_sent() {
        let verdict = Verdict::Deny("no \"quotes\" or\nnewlines </script>".into());
        let body = response_body(ActionKind::Authentication, &verdict, SECRET, TIMESTAMP);
        let (value, payload) = parts(&body);

        let expected = signature::compute(SECRET, TIMESTAMP, payload.as_bytes());
        assert_eq!(value["signature"], expected.as_str());
    }
}
