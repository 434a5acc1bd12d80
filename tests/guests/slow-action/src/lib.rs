//! Test guest: busy-waits in every action, so host tests can check action
//! timeouts.
//!
//! Decides both action kinds and subscribes to no events. Each action spins
//! for the number of milliseconds in the `spin_ms` setting (5000 when the
//! setting is absent) and then allows. The loop runs mostly plain
//! WebAssembly arithmetic and reads the clock only between batches, so a
//! host timeout must interrupt running code, not only a blocked import.

use std::hint::black_box;
use std::time::{Duration, Instant};

use authkit_plugin::{ActionKind, Handler, PluginInfo, Result, Verdict, settings};

/// The spin time when the `spin_ms` setting is absent.
const DEFAULT_SPIN_MS: u64 = 5000;

/// Iterations of arithmetic between two clock reads.
const BATCH: u64 = 100_000;

fn spin(duration: Duration) -> u64 {
    let start = Instant::now();
    let mut state: u64 = 1;
    while start.elapsed() < duration {
        for _ in 0..BATCH {
            state = black_box(
                state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1),
            );
        }
    }
    state
}

struct SlowAction;

impl Handler for SlowAction {
    fn describe() -> PluginInfo {
        PluginInfo::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .with_actions([ActionKind::Authentication, ActionKind::UserRegistration])
    }

    fn handle_action(_action: authkit_plugin::Action) -> Result<Verdict> {
        let spin_ms = settings::get_or("spin_ms", DEFAULT_SPIN_MS)?;
        black_box(spin(Duration::from_millis(spin_ms)));
        Ok(Verdict::Allow)
    }
}

authkit_plugin::export_handler!(SlowAction);
