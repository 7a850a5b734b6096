//! Items whose `Drop` panics, in every queue kind: whatever drops the items a queue
//! still holds (the last handle's drop, a `StaticRing`'s drop, `ReadChunk::commit`, an
//! `IntoIter` dropped part-way, an item a consumer holds) drops every one of them
//! exactly once, as `Vec` does: when one item's `Drop` panics, the rest are still
//! dropped while the panic unwinds, and nothing is dropped twice. A ring that can be
//! used again afterwards (a `StaticRing` split again, the other half) still works.
//!
//! Each scenario fills a small ring so that its items wrap around the end of the
//! storage (the indexed layout then holds them in two runs), makes one item panic in
//! `Drop`, trying each position in turn, drops inside `catch_unwind`, and checks the
//! [`DropTracker`]: every item created was dropped exactly once. (`Tracked` items do
//! not panic while the thread is already panicking, so one panic at a time.)
//!
//! No test times anything; the rings hold at most 4 items, small enough for Miri.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{DropTracker, Tracked};
use ringway::spsc::{self, Consumer, Producer, StaticRing, Storage};

/// The capacity of most rings here.
const CAP: usize = 4;

/// A new item of `tracker`, which panics in `Drop` if `panics`.
fn item(tracker: &DropTracker, panics: bool) -> Tracked<'_> {
    if panics {
        tracker.item_panicking()
    } else {
        tracker.item()
    }
}

/// Drops `a` then `b` if `a_first`, else `b` then `a`.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))] // its callers need the heap
fn drop_both<A, B>(a: A, b: B, a_first: bool) {
    if a_first {
        drop(a);
        drop(b);
    } else {
        drop(b);
        drop(a);
    }
}

/// Runs `f`, which must panic with an item's panic from `Drop`.
#[track_caller]
fn expect_drop_panic(what: &str, f: impl FnOnce()) {
    let payload = catch_unwind(AssertUnwindSafe(f))
        .err()
        .unwrap_or_else(|| panic!("{what}: no item's Drop panicked"));
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or("");
    assert!(
        msg.contains("panics in Drop"),
        "{what}: a panic other than the item's: {msg:?}"
    );
}

// ---------------------------------------------------------------------------------
// SPSC (`spsc::channel`, `spsc::stamped`, `spsc::StaticRing`)
// ---------------------------------------------------------------------------------

/// Pushes and pops `cap / 2` items, so that the next ones wrap around the end of the
/// slots, then fills the ring of capacity `cap` with items of which the `panicking`-th
/// panics in `Drop`.
fn fill_wrapped<'t, S: Storage>(
    tracker: &'t DropTracker,
    tx: &mut Producer<Tracked<'t>, S>,
    rx: &mut Consumer<Tracked<'t>, S>,
    cap: usize,
    panicking: usize,
) {
    for _ in 0..cap / 2 {
        tx.push(tracker.item()).unwrap();
        drop(rx.pop());
    }
    for i in 0..cap {
        tx.push(item(tracker, i == panicking)).unwrap();
    }
}

/// Halves of a heap ring from `$channel` filled by `fill_wrapped`, dropped in both
/// orders: the second drop drops the items.
#[cfg(feature = "alloc")]
macro_rules! heap_halves_dropped {
    ($what:expr, $channel:path) => {
        for panicking in 0..CAP {
            for producer_first in [true, false] {
                let tracker = DropTracker::new();
                let (mut tx, mut rx) = $channel(CAP);
                fill_wrapped(&tracker, &mut tx, &mut rx, CAP, panicking);
                expect_drop_panic($what, move || drop_both(tx, rx, producer_first));
                tracker.assert_all_dropped_once();
            }
        }
    };
}

#[cfg(feature = "alloc")]
#[test]
fn spsc_channel_last_half_dropped() {
    heap_halves_dropped!("spsc::channel", spsc::channel);
}

#[cfg(feature = "alloc")]
#[test]
fn spsc_stamped_channel_last_half_dropped() {
    heap_halves_dropped!("spsc::stamped::channel", spsc::stamped::channel);
}

/// A `StaticRing<_, N, L>` filled by `fill_wrapped`, its halves dropped, then the ring.
macro_rules! static_ring_dropped {
    ($what:expr, $n:expr, $layout:ty) => {
        for panicking in 0..$n {
            let tracker = DropTracker::new();
            let mut ring = StaticRing::<Tracked<'_>, $n, $layout>::new();
            let (mut tx, mut rx) = ring.split();
            fill_wrapped(&tracker, &mut tx, &mut rx, $n, panicking);
            drop((tx, rx));
            expect_drop_panic($what, move || drop(ring));
            tracker.assert_all_dropped_once();
        }
    };
}

#[test]
fn spsc_static_ring_dropped() {
    static_ring_dropped!("StaticRing<_, 4>", 4, spsc::Indexed);
    static_ring_dropped!("StaticRing<_, 3>", 3, spsc::Indexed);
    static_ring_dropped!("StaticRing<_, 4, Stamped>", 4, spsc::Stamped);
    static_ring_dropped!("StaticRing<_, 3, Stamped>", 3, spsc::Stamped);
}

/// `ReadChunk::commit` of 3 wrapped items, one of which panics in `Drop`: all 3 are
/// dropped and their slots released; the ring, split again, goes on with the fourth.
#[test]
fn spsc_read_chunk_commit_then_split_again() {
    for panicking in 0..3 {
        let tracker = DropTracker::new();
        let mut ring = StaticRing::<Tracked<'_>, CAP>::new();
        let (mut tx, mut rx) = ring.split();
        fill_wrapped(&tracker, &mut tx, &mut rx, CAP, panicking);
        let last = tracker.created() - 1;
        let chunk = rx.read_chunk(3).unwrap();
        expect_drop_panic("ReadChunk::commit", move || chunk.commit(3));
        assert_eq!(tracker.live_ids(), [last], "panicking {panicking}");
        assert_eq!((tx.len(), rx.len()), (1, 1));
        drop((tx, rx));
        let (mut tx, mut rx) = ring.split();
        assert_eq!(rx.pop().map(|t| t.id()), Some(last));
        for _ in 0..CAP {
            tx.push(tracker.item()).unwrap();
        }
        drop((tx, rx));
        drop(ring);
        tracker.assert_all_dropped_once();
    }
}

/// A `Drain` and a `ReadChunk`'s iterator dropped part-way leave the rest in the ring,
/// and a consumer that panics while dropping a drained item keeps what it did not
/// take; the ring's drop then drops the rest, once each.
#[cfg(feature = "alloc")]
#[test]
fn spsc_drains_dropped_part_way() {
    for panicking in 1..CAP {
        for how in ["drain", "chunk iterator", "item dropped while draining"] {
            let tracker = DropTracker::new();
            let (mut tx, mut rx) = spsc::channel(CAP);
            fill_wrapped(&tracker, &mut tx, &mut rx, CAP, panicking);
            match how {
                "drain" => drop(rx.drain().next()),
                "chunk iterator" => drop(rx.read_chunk(CAP).unwrap().into_iter().next()),
                _ => {
                    // Drops each item as it comes: the panicking one's drop unwinds
                    // through the `Drain`, which releases what it yielded; the items
                    // after it stay, and the halves' drop drops them without a panic.
                    expect_drop_panic(how, || rx.drain().for_each(drop));
                    assert_eq!(
                        (tx.len(), rx.len()),
                        (CAP - 1 - panicking, CAP - 1 - panicking)
                    );
                    drop((tx, rx));
                    tracker.assert_all_dropped_once();
                    continue;
                }
            }
            expect_drop_panic(how, move || drop((tx, rx)));
            tracker.assert_all_dropped_once();
        }
    }
}

// ---------------------------------------------------------------------------------
// Overwriting SPSC
// ---------------------------------------------------------------------------------

#[cfg(all(feature = "alloc", target_pointer_width = "64"))]
mod overwriting {
    use super::*;
    use ringway::spsc::overwriting;

    /// Pushes `CAP + 2` items, the last `CAP` of which stay (the first two are handed
    /// back and dropped), so the entries wrap; the `panicking`-th of those that stay
    /// panics in `Drop`. With `peek`, the consumer then holds the oldest.
    fn fill<'t, S: overwriting::Storage>(
        tracker: &'t DropTracker,
        tx: &mut overwriting::Producer<Tracked<'t>, S>,
        rx: &mut overwriting::Consumer<Tracked<'t>, S>,
        panicking: usize,
        peek: bool,
    ) {
        for i in 0..CAP + 2 {
            drop(tx.push(item(tracker, i == panicking + 2)));
        }
        if peek {
            assert!(rx.peek().is_some());
        }
    }

    #[test]
    fn heap_last_half_dropped() {
        for panicking in 0..CAP {
            for peek in [false, true] {
                for producer_first in [true, false] {
                    let tracker = DropTracker::new();
                    let (mut tx, mut rx) = overwriting::channel::<Tracked<'_>>(CAP);
                    fill(&tracker, &mut tx, &mut rx, panicking, peek);
                    expect_drop_panic("overwriting::channel", move || {
                        drop_both(tx, rx, producer_first)
                    });
                    tracker.assert_all_dropped_once();
                }
            }
        }
    }

    /// The consumer holds an item (`peek`) whose `Drop` panics when the consumer is
    /// dropped: the producer still learns the consumer is gone.
    #[test]
    fn consumer_dropped_with_a_panicking_held_item() {
        let tracker = DropTracker::new();
        let (mut tx, mut rx) = overwriting::channel::<Tracked<'_>>(CAP);
        fill(&tracker, &mut tx, &mut rx, 0, true);
        expect_drop_panic("overwriting consumer", move || drop(rx));
        assert!(tx.is_abandoned(), "the consumer's drop did not finish");
        drop(tx);
        tracker.assert_all_dropped_once();
    }

    #[test]
    fn static_ring_dropped() {
        for panicking in 0..CAP {
            for peek in [false, true] {
                let tracker = DropTracker::new();
                let mut ring = overwriting::StaticRing::<Tracked<'_>, CAP>::new();
                let (mut tx, mut rx) = ring.split();
                fill(&tracker, &mut tx, &mut rx, panicking, peek);
                if peek && panicking == 0 {
                    // The consumer's drop drops the item it holds, which panics; split
                    // again, the ring goes on with the others.
                    expect_drop_panic("overwriting consumer", move || drop(rx));
                    drop(tx);
                    let (tx, mut rx) = ring.split();
                    assert_eq!(rx.drain().count(), CAP - 1);
                    drop((tx, rx));
                    drop(ring);
                } else {
                    drop((tx, rx));
                    expect_drop_panic("overwriting::StaticRing", move || drop(ring));
                }
                tracker.assert_all_dropped_once();
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Broadcast
// ---------------------------------------------------------------------------------

#[cfg(all(feature = "alloc", target_pointer_width = "64"))]
mod broadcast {
    use super::*;
    use ringway::broadcast::{self, Policy};

    /// The ring's last handle drops the items: the producer (dropped last) or one of
    /// `consumers` consumers, alive while the items were pushed. Under `Backpressure`
    /// the consumers read what they must for the ring to wrap (`pop_with`: the items
    /// are not `Clone`).
    fn last_handle_dropped(policy: Policy, consumers: usize, producer_last: bool) {
        for panicking in 0..CAP {
            let tracker = DropTracker::new();
            let (mut tx, first) = broadcast::channel::<Tracked<'_>>(CAP, policy);
            let mut rxs: Vec<_> = (1..consumers).map(|_| first.subscribe()).collect();
            if consumers > 0 {
                rxs.push(first);
            } else {
                drop(first);
            }
            // Two laps' worth of pushes less two: the ring wraps, and under `Lossy`
            // (or with no consumer) the first items are overwritten (dropped then).
            for i in 0..2 * CAP - 2 {
                let last_lap = i >= CAP - 2;
                tx.push(item(&tracker, last_lap && i - (CAP - 2) == panicking))
                    .unwrap();
                if policy == Policy::Backpressure && !last_lap {
                    for rx in &mut rxs {
                        assert!(rx.pop_with(|_| ()).unwrap().is_some());
                    }
                }
            }
            let what = format!("{policy:?}, {consumers} consumers, producer last {producer_last}");
            expect_drop_panic(&what, move || drop_both(rxs, tx, producer_last));
            tracker.assert_all_dropped_once();
        }
    }

    /// [`last_handle_dropped`] with 0, 1 and 2 consumers, the producer dropped last or
    /// first.
    fn every_last_handle_dropped(policy: Policy) {
        last_handle_dropped(policy, 0, true);
        for consumers in 1..=2 {
            for producer_last in [true, false] {
                last_handle_dropped(policy, consumers, producer_last);
            }
        }
    }

    #[test]
    fn backpressure_last_handle_dropped() {
        every_last_handle_dropped(Policy::Backpressure);
    }

    #[test]
    fn lossy_last_handle_dropped() {
        every_last_handle_dropped(Policy::Lossy);
    }

    /// A push that overwrites an item whose `Drop` panics: the new item is in, the
    /// ring goes on, and everything is dropped once.
    #[test]
    fn lossy_push_over_a_panicking_item() {
        let tracker = DropTracker::new();
        let (mut tx, mut rx) = broadcast::channel::<Tracked<'_>>(1, Policy::Lossy);
        tx.push(tracker.item_panicking()).unwrap();
        let pushed = tracker.item();
        let id = pushed.id();
        expect_drop_panic("Lossy push", || drop(tx.push(pushed)));
        assert_eq!(rx.pop_with(|t| t.id()), Err(broadcast::Lagged(1)));
        assert_eq!(rx.pop_with(|t| t.id()), Ok(Some(id)));
        drop((tx, rx));
        tracker.assert_all_dropped_once();
    }
}

// ---------------------------------------------------------------------------------
// MPMC
// ---------------------------------------------------------------------------------

#[cfg(target_has_atomic = "ptr")]
mod mpmc {
    use super::*;
    use ringway::mpmc::{Queue, StaticQueue, Storage};

    /// Pushes and pops two items (so the next ones wrap), then fills the queue with
    /// `CAP` items of which the `panicking`-th panics in `Drop`.
    fn fill<'t, S: Storage<Tracked<'t>>>(
        tracker: &'t DropTracker,
        q: &Queue<Tracked<'t>, S>,
        panicking: usize,
    ) {
        for _ in 0..2 {
            q.push(tracker.item()).unwrap();
            drop(q.pop());
        }
        for i in 0..CAP {
            q.push(item(tracker, i == panicking)).unwrap();
        }
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn queue_and_into_iter_dropped() {
        for panicking in 0..CAP {
            let tracker = DropTracker::new();
            let q = Queue::new(CAP);
            fill(&tracker, &q, panicking);
            expect_drop_panic("mpmc::Queue", move || drop(q));
            tracker.assert_all_dropped_once();

            if panicking > 0 {
                let tracker = DropTracker::new();
                let q = Queue::new(CAP);
                fill(&tracker, &q, panicking);
                let mut items = q.into_iter();
                drop(items.next());
                expect_drop_panic("mpmc::IntoIter", move || drop(items));
                tracker.assert_all_dropped_once();
            }
        }
    }

    #[test]
    fn static_queue_and_into_iter_dropped() {
        for panicking in 0..CAP {
            let tracker = DropTracker::new();
            let q = StaticQueue::<Tracked<'_>, CAP>::new();
            fill(&tracker, &*q, panicking);
            expect_drop_panic("mpmc::StaticQueue", move || drop(q));
            tracker.assert_all_dropped_once();

            if panicking > 0 {
                let tracker = DropTracker::new();
                let q = StaticQueue::<Tracked<'_>, CAP>::new();
                fill(&tracker, &*q, panicking);
                let mut items = q.into_iter();
                drop(items.next());
                expect_drop_panic("StaticQueue's IntoIter", move || drop(items));
                tracker.assert_all_dropped_once();
            }
        }
    }
}
