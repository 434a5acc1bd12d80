//! Test guest: counts the events it handles, so host tests can check that
//! no event's effect is applied twice, across retries and crashes.
//!
//! Subscribes to the comma-separated event patterns in the `events`
//! setting, or to `*` without it. For each event it reads the store key `count`, adds
//! one and writes it back, and records `seen/<event_id>` with the count it
//! wrote. If the host applied an event's writes twice, `count` would exceed
//! the number of distinct `seen/` keys. Before returning it spins for the
//! number of milliseconds in the `spin_ms` setting (default 0), so a test
//! can stop the host while deliveries are in flight. When the `version`
//! setting is present it also records `version/<event_id>` with that
//! setting, so a test can tell which loaded version handled each event.
//!
//! It also decides authentication actions: it adds one to the store key
//! `signins` and allows, so a test can check that action writes commit.

use std::time::{Duration, Instant};

use authkit_plugin::{
    Action, ActionKind, Event, Handler, PluginInfo, Result, Verdict, settings, store,
};

struct Counter;

impl Handler for Counter {
    fn describe() -> PluginInfo {
        let events = settings::get("events").unwrap_or_else(|| "*".to_owned());
        PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .with_events(events.split(',').map(str::trim))
            .with_actions([ActionKind::Authentication])
    }

    fn handle_action(_action: Action) -> Result<Verdict> {
        let signins: u64 = match store::get("signins")? {
            Some(bytes) => String::from_utf8_lossy(&bytes).parse().unwrap_or(0),
            None => 0,
        } + 1;
        store::set("signins", signins.to_string().as_bytes())?;
        Ok(Verdict::Allow)
    }

    fn handle_event(event: &Event) -> Result<()> {
        let count: u64 = match store::get("count")? {
            Some(bytes) => String::from_utf8_lossy(&bytes).parse().unwrap_or(0),
            None => 0,
        } + 1;
        store::set("count", count.to_string().as_bytes())?;
        store::set(&format!("seen/{}", event.id), count.to_string().as_bytes())?;
        if let Some(version) = settings::get("version") {
            store::set(&format!("version/{}", event.id), version.as_bytes())?;
        }

        let spin = Duration::from_millis(settings::get_or("spin_ms", 0)?);
        let started = Instant::now();
        while started.elapsed() < spin {
            std::hint::spin_loop();
        }
        Ok(())
    }
}

authkit_plugin::export_handler!(Counter);
