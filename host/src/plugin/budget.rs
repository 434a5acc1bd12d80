//! The wall-clock deadline and CPU time limit of one invocation.
//!
//! Epoch interruption gives a check every [`EPOCH_TICK`] while WebAssembly
//! runs, but the epoch counts wall-clock time. So the store's epoch
//! deadline only sets when to look next. At each expiry [`TimeBudget`]
//! reads the wall clock and the invoking thread's CPU clock. It interrupts
//! the guest if either limit is used up, and otherwise sets the next check
//! for when the first of them could run out. CPU time never advances
//! faster than wall-clock time on one thread, so no limit is passed by more
//! than about one tick before its check runs. Checks happen only inside
//! WebAssembly, so a slow host call delays them until it returns.

use std::time::{Duration, Instant};

use wasmtime::UpdateDeadline;

use super::runtime::EPOCH_TICK;

/// The limit that ended an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exceeded {
    /// The wall-clock deadline passed.
    Deadline,
    /// The thread used more CPU time than the limit; `used` is what it had
    /// used when the check ran.
    CpuTime { limit: Duration, used: Duration },
}

/// The time limits of one invocation and what has been used of them.
#[derive(Debug)]
pub(super) struct TimeBudget {
    started: Instant,
    deadline: Duration,
    cpu_limit: Option<Duration>,
    /// The thread's CPU clock at the start.
    cpu_started: Duration,
    exceeded: Option<Exceeded>,
}

impl TimeBudget {
    /// Starts the budget now, on the thread that runs the invocation.
    pub(super) fn start(deadline: Duration, cpu_limit: Option<Duration>) -> Self {
        Self {
            started: Instant::now(),
            deadline,
            cpu_limit,
            cpu_started: thread_cpu_time(),
            exceeded: None,
        }
    }

    /// Returns the epoch ticks until the first check: the deadline or the
    /// CPU limit, whichever is shorter.
    pub(super) fn first_check_ticks(&self) -> u64 {
        let first = match self.cpu_limit {
            Some(cpu_limit) => cpu_limit.min(self.deadline),
            None => self.deadline,
        };
        ticks_until(first)
    }

    /// Checks both limits at an epoch deadline. Returns `Interrupt`, after
    /// recording which limit ran out, or the ticks until the next check.
    pub(super) fn check(&mut self) -> UpdateDeadline {
        let elapsed = self.started.elapsed();
        if elapsed >= self.deadline {
            self.exceeded = Some(Exceeded::Deadline);
            return UpdateDeadline::Interrupt;
        }
        let mut next_check = self.deadline - elapsed;

        if let Some(limit) = self.cpu_limit {
            let used = self.cpu_used();
            if used >= limit {
                self.exceeded = Some(Exceeded::CpuTime { limit, used });
                return UpdateDeadline::Interrupt;
            }
            next_check = next_check.min(limit - used);
        }
        UpdateDeadline::Continue(ticks_until(next_check))
    }

    /// Returns the limit that interrupted the invocation, if one did.
    pub(super) fn exceeded(&self) -> Option<Exceeded> {
        self.exceeded
    }

    /// Returns the CPU time the thread has used since the start.
    pub(super) fn cpu_used(&self) -> Duration {
        thread_cpu_time().saturating_sub(self.cpu_started)
    }
}

/// Converts a duration to epoch ticks, rounded up and at least one, so a
/// check never comes before the duration has passed by more than the part
/// of the current tick that is already over.
fn ticks_until(duration: Duration) -> u64 {
    let ticks = duration.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// Returns the CPU time the calling thread has used, from
/// `CLOCK_THREAD_CPUTIME_ID`.
#[cfg(any(target_os = "linux", target_os = "macos"))]
fn thread_cpu_time() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::try_from(now).unwrap_or_default()
}

/// Returns the time since a fixed instant. The runtime reads no per-thread
/// CPU clock on this platform, so the CPU limit counts wall-clock time.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn thread_cpu_time() -> Duration {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn continue_ticks(update: UpdateDeadline) -> u64 {
        match update {
            UpdateDeadline::Continue(ticks) => ticks,
            _ => panic!("expected Continue"),
        }
    }

    #[test]
    fn first_check_at_shorter_limit() {
        let budget = TimeBudget::start(Duration::from_secs(1), None);
        assert_eq!(budget.first_check_ticks(), 100);

        let budget = TimeBudget::start(Duration::from_secs(1), Some(Duration::from_millis(205)));
        assert_eq!(budget.first_check_ticks(), 21);
    }

    #[test]
    fn check_before_limits_continues() {
        let mut budget = TimeBudget::start(Duration::from_secs(60), Some(Duration::from_secs(30)));
        let ticks = continue_ticks(budget.check());
        assert!((2_990..=3_000).contains(&ticks), "{ticks}");
        assert_eq!(budget.exceeded(), None);
    }

    #[test]
    fn passed_deadline_interrupts() {
        let mut budget = TimeBudget::start(Duration::from_millis(1), None);
        std::thread::sleep(Duration::from_millis(5));
        assert!(matches!(budget.check(), UpdateDeadline::Interrupt));
        assert_eq!(budget.exceeded(), Some(Exceeded::Deadline));
    }

    #[test]
    fn sleeping_uses_no_cpu_time() {
        let cpu_limit = Duration::from_millis(20);
        let mut budget = TimeBudget::start(Duration::from_secs(60), Some(cpu_limit));
        std::thread::sleep(Duration::from_millis(50));
        assert!(matches!(budget.check(), UpdateDeadline::Continue(_)));
        assert!(budget.cpu_used() < cpu_limit, "{:?}", budget.cpu_used());
    }

    #[test]
    fn spinning_exhausts_cpu_time() {
        let cpu_limit = Duration::from_millis(20);
        let mut budget = TimeBudget::start(Duration::from_secs(60), Some(cpu_limit));
        while budget.cpu_used() < cpu_limit {
            std::hint::spin_loop();
        }
        assert!(matches!(budget.check(), UpdateDeadline::Interrupt));
        let Some(Exceeded::CpuTime { limit, used }) = budget.exceeded() else {
            panic!("expected CpuTime, got {:?}", budget.exceeded());
        };
        assert_eq!(limit, cpu_limit);
        assert!(used >= cpu_limit, "{used:?}");
    }

    #[test]
    fn ticks_round_up() {
        assert_eq!(ticks_until(Duration::ZERO), 1);
        assert_eq!(ticks_until(Duration::from_millis(10)), 1);
        assert_eq!(ticks_until(Duration::from_millis(11)), 2);
        assert_eq!(ticks_until(Duration::MAX), u64::MAX);
    }
}
