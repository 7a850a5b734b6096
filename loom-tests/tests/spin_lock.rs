#![cfg(ringway_loom)]
//! loom model of the spin lock that guards the waker lists in builds without `std`
//! (`src/sync/spin_lock.rs`). The loom build's lists use loom's `Mutex`, so the waiting
//! models never reach this lock; the crate exports it, hidden and under loom only, as
//! `ringway::LoomSpinLock` for this model.
//!
//! Mutual exclusion and hand-off: two threads each append their id to a `Vec` under
//! the lock. loom's cell (inside the lock) reports a causality violation if a holder's
//! access is not ordered after the previous holder's, so weakening the lock's
//! `Acquire` or the unlock's `Release` fails the model (the ordering mutants of
//! `src/sync/spin_lock.rs`, `python3 xtask/mutants.py --only src/sync/spin_lock.rs`).
//! Canary: both orders of the two holders occur.

use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use ringway::LoomSpinLock;

#[test]
fn spin_lock_hands_its_data_from_holder_to_holder() {
    explore(
        "spin_lock_hands_its_data_from_holder_to_holder",
        &[vec![1, 2], vec![2, 1]],
        || {
            let lock = Arc::new(LoomSpinLock::new(Vec::new()));
            let other = {
                let lock = Arc::clone(&lock);
                thread::spawn(move || lock.with(|ids: &mut Vec<u32>| ids.push(2)))
            };
            lock.with(|ids| ids.push(1));
            other.join().unwrap();
            lock.with(core::mem::take)
        },
    );
}
