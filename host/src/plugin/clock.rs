//! WASI's `monotonic-clock`, with sleeps that end at the invocation deadline.
//!
//! Epoch interruption stops only running WebAssembly, so a guest that sleeps
//! past its deadline would otherwise hold its thread until it wakes. A clock
//! subscription is the only way the host's WASI context can block: stdin is
//! closed, output streams are always ready, and there are no files or
//! sockets. So every sleep is cut to end shortly after the deadline, when the
//! epoch deadline has passed too, and the guest is interrupted as soon as it
//! runs again.

use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::clocks::WasiClocksCtxView;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;

use super::runtime::EPOCH_TICK;

/// The invocation deadline as seen by guest sleeps.
#[derive(Debug)]
pub(super) struct SleepDeadline {
    /// The wall-clock instant the invocation must end by.
    deadline: Instant,
    /// The latest instant a sleep may end at: two epoch ticks after the
    /// deadline, by which time the epoch deadline has passed as well.
    latest_wake: Instant,
    /// Whether a sleep was cut short to end at `latest_wake`.
    cut_short: bool,
}

impl SleepDeadline {
    /// Starts the deadline `deadline` from now.
    pub(super) fn new(deadline: Duration) -> Self {
        let now = Instant::now();
        let deadline = now.checked_add(deadline).unwrap_or_else(|| far_future(now));
        let latest_wake = deadline
            .checked_add(EPOCH_TICK * 2)
            .unwrap_or_else(|| far_future(now));
        Self {
            deadline,
            latest_wake,
            cut_short: false,
        }
    }

    /// Returns whether the guest slept into its deadline. A guest that
    /// returns right after a cut-short sleep meets no epoch check, so the
    /// runtime reports such a call as timed out by this test.
    pub(super) fn overran(&self) -> bool {
        self.cut_short && Instant::now() >= self.deadline
    }

    /// Returns `duration_nanos`, or the nanoseconds until `latest_wake` if
    /// fewer, and records the cut.
    fn clamp(&mut self, duration_nanos: u64, now: Instant) -> u64 {
        let remaining = self.latest_wake.saturating_duration_since(now).as_nanos();
        let remaining = u64::try_from(remaining).unwrap_or(u64::MAX);
        if duration_nanos > remaining {
            self.cut_short = true;
            return remaining;
        }
        duration_nanos
    }
}

/// Returns an instant far enough away to stand for "no deadline".
fn far_future(now: Instant) -> Instant {
    now + Duration::from_secs(u32::MAX.into())
}

/// The view the clock's host functions work on: WASI's own clocks plus the
/// invocation's [`SleepDeadline`].
pub(super) struct DeadlineClock<'a> {
    clocks: WasiClocksCtxView<'a>,
    sleep_deadline: &'a mut SleepDeadline,
}

impl<'a> DeadlineClock<'a> {
    pub(super) fn new(
        clocks: WasiClocksCtxView<'a>,
        sleep_deadline: &'a mut SleepDeadline,
    ) -> Self {
        Self {
            clocks,
            sleep_deadline,
        }
    }
}

/// Marks [`DeadlineClock`] as the data of the clock's linker functions.
pub(super) struct DeadlineClockData;

impl HasData for DeadlineClockData {
    type Data<'a> = DeadlineClock<'a>;
}

impl monotonic_clock::Host for DeadlineClock<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        self.clocks.now()
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        self.clocks.resolution()
    }

    fn subscribe_instant(
        &mut self,
        when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let now = self.clocks.now()?;
        self.subscribe_duration(when.saturating_sub(now))
    }

    fn subscribe_duration(
        &mut self,
        duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let clamped = self.sleep_deadline.clamp(duration, Instant::now());
        self.clocks.subscribe_duration(clamped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND_NANOS: u64 = 1_000_000_000;

    #[test]
    fn short_sleep_kept() {
        let mut sleep_deadline = SleepDeadline::new(Duration::from_millis(200));
        let now = Instant::now();

        assert_eq!(sleep_deadline.clamp(1_000, now), 1_000);
        assert!(!sleep_deadline.cut_short);
        assert!(!sleep_deadline.overran());
    }

    #[test]
    fn long_sleep_cut_after_deadline() {
        let mut sleep_deadline = SleepDeadline::new(Duration::from_millis(200));
        let now = Instant::now();
        let until_wake = sleep_deadline.latest_wake.duration_since(now).as_nanos();

        assert_eq!(
            u128::from(sleep_deadline.clamp(SECOND_NANOS, now)),
            until_wake
        );
        assert!(sleep_deadline.cut_short);
        assert!(until_wake > 200_000_000, "{until_wake}");
        assert!(!sleep_deadline.overran(), "the deadline has not passed yet");
    }

    #[test]
    fn sleep_after_deadline_is_zero() {
        let mut sleep_deadline = SleepDeadline::new(Duration::ZERO);
        let later = sleep_deadline.latest_wake + Duration::from_millis(1);

        assert_eq!(sleep_deadline.clamp(u64::MAX, later), 0);
        assert!(sleep_deadline.overran());
    }

    #[test]
    fn huge_deadline_does_not_overflow() {
        let mut sleep_deadline = SleepDeadline::new(Duration::MAX);
        assert_eq!(
            sleep_deadline.clamp(SECOND_NANOS, Instant::now()),
            SECOND_NANOS
        );
    }
}
