//! Admission to the runtime's pool of instance slots.
//!
//! The pooling allocator has a fixed number of instance slots and fails an
//! instantiation outright when every slot is taken. Each invocation takes a
//! slot here first and waits for one to free up, at most until its own
//! deadline, so a burst of concurrent Actions queues instead of failing.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A counter of free instance slots that invocations wait on.
#[derive(Debug)]
pub(super) struct InstanceSlots {
    free: Mutex<u32>,
    freed: Condvar,
    total: u32,
}

/// A taken slot; dropping it frees the slot and wakes one waiter.
#[derive(Debug)]
pub(super) struct Slot<'a> {
    slots: &'a InstanceSlots,
}

impl InstanceSlots {
    /// Creates `total` free slots, the size of the instance pool.
    pub(super) fn new(total: u32) -> Self {
        Self {
            free: Mutex::new(total),
            freed: Condvar::new(),
            total,
        }
    }

    /// Returns the number of slots.
    pub(super) fn total(&self) -> u32 {
        self.total
    }

    /// Takes a slot, waiting at most `timeout` for one to free up. Returns
    /// `None` when every slot stayed taken that long.
    pub(super) fn acquire(&self, timeout: Duration) -> Option<Slot<'_>> {
        let free = self.lock();
        let (mut free, _) = self
            .freed
            .wait_timeout_while(free, timeout, |free| *free == 0)
            .unwrap_or_else(PoisonError::into_inner);
        if *free == 0 {
            return None;
        }

        *free -= 1;
        Some(Slot { slots: self })
    }

    fn lock(&self) -> MutexGuard<'_, u32> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.slots.lock() += 1;
        self.slots.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn taken_slots_run_out_until_dropped() {
        let slots = InstanceSlots::new(2);

        let first = slots.acquire(Duration::ZERO);
        let second = slots.acquire(Duration::ZERO);
        assert!(first.is_some());
        assert!(second.is_some());
        assert!(slots.acquire(Duration::from_millis(20)).is_none());

        drop(first);
        assert!(slots.acquire(Duration::ZERO).is_some());
    }

    #[test]
    fn waiter_gets_slot_when_freed() {
        let slots = Arc::new(InstanceSlots::new(1));
        let (taken, taken_received) = mpsc::channel();
        let (release, release_received) = mpsc::channel::<()>();

        let holder = {
            let slots = Arc::clone(&slots);
            std::thread::spawn(move || {
                let slot = slots.acquire(Duration::ZERO);
                taken.send(slot.is_some()).unwrap();
                release_received.recv().unwrap();
                drop(slot);
            })
        };
        assert!(taken_received.recv().unwrap());

        let waiter = {
            let slots = Arc::clone(&slots);
            std::thread::spawn(move || slots.acquire(Duration::from_secs(30)).is_some())
        };
        release.send(()).unwrap();

        assert!(waiter.join().unwrap());
        holder.join().unwrap();
    }
}
