//! Every operation of both halves of a ring in shared memory, run against a header that
//! a hostile writer may have filled with garbage, with the bounds the module docs
//! promise checked after each: no panic, no batch of more than the capacity, counts in
//! `0 ..= capacity`, a refused value given back, and no item an iterator gave up that
//! was not pushed.
//!
//! Shared by `tests/shm.rs` (halves over a mapped file) and `src/shm/tests.rs` (halves
//! over the heap region, run under Miri), which includes this file by path. The
//! includer brings into scope `Producer`, `Consumer`, `Shm`, `ChunkError`,
//! `PushTimeoutError` and `PopTimeoutError`.

use std::time::Duration;

use super::*;

/// Whether anything writes the region while [`exercise`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writers {
    /// Nothing: two reads of one counter agree, so the counts must agree with each
    /// other, `peek` with `pop`, and a blocking operation that a count says can finish
    /// is run (it must return at once).
    Quiet,
    /// A hostile thread stores into the header meanwhile: only the bounds are checked,
    /// and the blocking operations are left out (they may rightly wait for ever).
    Racing,
}

/// The next item value (any values will do: the items may be garbage anyway).
fn take(next: &mut u64) -> u64 {
    *next = next.wrapping_add(1);
    *next
}

/// How long the timed operations wait: nothing under Miri, whose clock runs with the
/// instructions it interprets.
fn short_wait() -> Duration {
    if cfg!(miri) {
        Duration::ZERO
    } else {
        Duration::from_micros(200)
    }
}

/// The counts of both halves: each in `0 ..= capacity`, and (`Writers::Quiet`)
/// consistent with each other.
pub fn check_counts(tx: &Producer<u64, Shm>, rx: &Consumer<u64, Shm>, writers: Writers) {
    let cap = tx.capacity();
    assert_eq!(rx.capacity(), cap, "the halves disagree on the capacity");
    let (produced, consumed) = (tx.len(), rx.len());
    assert!(produced <= cap, "producer len {produced} > capacity {cap}");
    assert!(consumed <= cap, "consumer len {consumed} > capacity {cap}");
    let free = tx.free_slots();
    assert!(free <= cap, "free_slots {free} > capacity {cap}");
    let flags = (tx.is_empty(), tx.is_full(), rx.is_empty(), rx.is_full());
    let _ = (tx.is_abandoned(), rx.is_abandoned());
    let _ = std::format!("{tx:?} {rx:?}"); // `Debug` reads the counts too
    if writers == Writers::Quiet {
        assert_eq!(free, cap - produced, "free_slots disagrees with len");
        assert_eq!(
            flags,
            (
                produced == 0,
                produced == cap,
                consumed == 0,
                consumed == cap
            ),
            "is_empty / is_full disagree with len ({produced}, {consumed} of {cap})"
        );
    }
}

/// Runs every producer operation once (several chunk sizes), checking the bounds.
pub fn exercise_producer(tx: &mut Producer<u64, Shm>, next: &mut u64, writers: Writers) {
    let cap = tx.capacity();

    let value = take(next);
    if let Err(e) = tx.push(value) {
        assert_eq!(e.into_inner(), value, "push gave back another value");
    }

    let items: std::vec::Vec<u64> = (0..2 * cap + 1).map(|_| take(next)).collect();
    let n = tx.push_slice(&items);
    assert!(n <= cap, "push_slice pushed {n} > capacity {cap}");

    let mut given = 0;
    let n = tx.push_iter(items.iter().copied().inspect(|_| given += 1));
    assert!(n <= cap, "push_iter pushed {n} > capacity {cap}");
    assert_eq!(
        given, n,
        "push_iter took items from the iterator it did not push"
    );

    for wanted in [0, 1, 2, cap, cap + 1, usize::MAX] {
        match tx.write_chunk_uninit(wanted) {
            Ok(mut chunk) => {
                assert!(wanted <= cap, "a write chunk of {wanted} > capacity {cap}");
                assert_eq!(chunk.len(), wanted);
                let (a, b) = chunk.as_mut_slices();
                assert_eq!(a.len() + b.len(), wanted, "the chunk's slices");
                for slot in a.iter_mut().chain(b.iter_mut()) {
                    slot.write(take(next));
                }
                // SAFETY: every slot of the chunk was written just above.
                unsafe { chunk.commit_all() };
            }
            Err(ChunkError::TooFewSlots(free)) => {
                assert!(free < wanted, "TooFewSlots({free}) for a chunk of {wanted}");
                assert!(free <= cap, "TooFewSlots({free}) > capacity {cap}");
            }
        }
    }

    let value = take(next);
    match tx.push_timeout(value, short_wait()) {
        Ok(()) => {}
        Err(PushTimeoutError::Timeout(v) | PushTimeoutError::Disconnected(v)) => {
            assert_eq!(v, value, "push_timeout gave back another value");
        }
    }
    if writers == Writers::Quiet && (tx.free_slots() > 0 || tx.is_abandoned()) {
        // Room, or no consumer: either way it returns at once.
        let value = take(next);
        if let Err(e) = tx.push_blocking(value) {
            assert_eq!(
                e.into_inner(),
                value,
                "push_blocking gave back another value"
            );
        }
    }
}

/// Runs every consumer operation once (several chunk sizes), checking the bounds.
pub fn exercise_consumer(rx: &mut Consumer<u64, Shm>, writers: Writers) {
    let cap = rx.capacity();

    let peeked = rx.peek().copied();
    let popped = rx.pop();
    if writers == Writers::Quiet {
        assert_eq!(
            peeked, popped,
            "peek and pop disagree on the item at the head (the header: as it was)"
        );
    }

    let mut buf = std::vec![0u64; 2 * cap + 1];
    let n = rx.pop_slice(&mut buf);
    assert!(n <= cap, "pop_slice popped {n} > capacity {cap}");

    let drain = rx.drain();
    let promised = drain.len();
    assert!(promised <= cap, "a drain of {promised} > capacity {cap}");
    assert_eq!(drain.count(), promised, "the drain yielded another count");

    for (i, wanted) in [0, 1, 2, cap, cap + 1, usize::MAX].into_iter().enumerate() {
        match rx.read_chunk(wanted) {
            Ok(mut chunk) => {
                assert!(wanted <= cap, "a read chunk of {wanted} > capacity {cap}");
                assert_eq!(chunk.len(), wanted);
                let (a, b) = chunk.as_slices();
                assert_eq!(a.len() + b.len(), wanted, "the chunk's slices");
                let (a, b) = chunk.as_mut_slices();
                assert_eq!(a.len() + b.len(), wanted, "the chunk's mutable slices");
                match i % 3 {
                    0 => chunk.commit_all(),
                    1 => chunk.commit(wanted / 2),
                    _ => assert_eq!(chunk.into_iter().count(), wanted),
                }
            }
            Err(ChunkError::TooFewSlots(available)) => {
                assert!(available < wanted, "TooFewSlots({available}) for {wanted}");
                assert!(
                    available <= cap,
                    "TooFewSlots({available}) > capacity {cap}"
                );
            }
        }
    }

    match rx.pop_timeout(short_wait()) {
        Ok(_) | Err(PopTimeoutError::Timeout) | Err(PopTimeoutError::Disconnected) => {}
    }
    if writers == Writers::Quiet && (!rx.is_empty() || rx.is_abandoned()) {
        // An item, or no producer: either way it returns at once.
        let _ = rx.pop_blocking();
    }
}

/// Every operation of both halves, with the counts checked before, between and after.
pub fn exercise(
    tx: &mut Producer<u64, Shm>,
    rx: &mut Consumer<u64, Shm>,
    next: &mut u64,
    writers: Writers,
) {
    check_counts(tx, rx, writers);
    exercise_producer(tx, next, writers);
    check_counts(tx, rx, writers);
    exercise_consumer(rx, writers);
    check_counts(tx, rx, writers);
}

/// With counters that are consistent (nothing corrupted them, or only words the halves
/// never read): empties the ring, fills it exactly, and gets every item back in order.
pub fn round_trip(tx: &mut Producer<u64, Shm>, rx: &mut Consumer<u64, Shm>, next: &mut u64) {
    let cap = tx.capacity();
    let _ = rx.drain().count();
    assert!(
        rx.is_empty() && tx.is_empty(),
        "the ring is not empty after a drain"
    );
    let items: std::vec::Vec<u64> = (0..cap).map(|_| take(next)).collect();
    assert_eq!(
        tx.push_slice(&items),
        cap,
        "a ring of {cap} did not take {cap}"
    );
    assert!(tx.is_full() && rx.is_full());
    assert!(tx.push(0).is_err(), "a full ring took one more");
    let mut out = std::vec![0u64; cap + 1];
    assert_eq!(rx.pop_slice(&mut out), cap);
    assert_eq!(out[..cap], items[..], "items out of order or changed");
    assert_eq!(rx.pop(), None);
}
