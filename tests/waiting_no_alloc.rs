//! The futures in a build without `alloc` (`cargo test -p ringway --no-default-features
//! --features async --test waiting_no_alloc`): only the static forms exist, and a
//! queue lists at most four sleeping futures per direction. A future that finds the
//! list full must not sleep (nobody would wake it): it wakes itself, and every
//! future still completes. (The integration test binary has `std`; the crate does
//! not.)

#![cfg(all(feature = "async", not(feature = "alloc")))]

mod common;

use std::task::Poll;

use common::{counting_waker, poll_once};
use ringway::mpmc::StaticQueue;
use ringway::spsc::StaticRing;
use ringway::WaitStrategy;

/// An SPSC half's future sleeps (it is listed) and a push wakes it.
#[test]
fn a_static_ring_future_sleeps_and_is_woken() {
    let mut ring = StaticRing::<u32, 3>::with_wait_strategy(WaitStrategy::SPIN_PARK);
    let (mut tx, mut rx) = ring.split();
    let (waker, wakes) = counting_waker();
    let mut pop = rx.pop_async();
    assert_eq!(poll_once(&mut pop, &waker), Poll::Pending);
    assert_eq!(wakes.count(), 0, "a listed future woke itself");
    tx.push(7).unwrap();
    assert_eq!(
        wakes.count(),
        1,
        "the push did not wake the sleeping future"
    );
    assert_eq!(poll_once(&mut pop, &waker), Poll::Ready(Ok(7)));
}

/// Six consumers' futures on an empty MPMC queue: four are listed and sleep, the
/// other two find the list full and wake themselves at once; pushes then complete
/// all six, the listed ones woken by the pushes.
#[test]
fn futures_past_the_list_wake_themselves_and_all_complete() {
    let queue = StaticQueue::<u32, 8>::with_wait_strategy(WaitStrategy::SPIN_PARK);
    let counted: Vec<_> = (0..6).map(|_| counting_waker()).collect();
    let mut futures: Vec<_> = (0..6).map(|_| queue.pop_async()).collect();
    for (future, (waker, _)) in futures.iter_mut().zip(&counted) {
        assert_eq!(poll_once(future, waker), Poll::Pending);
    }
    let woke_at_once: Vec<usize> = counted.iter().map(|(_, w)| w.count()).collect();
    assert_eq!(
        woke_at_once,
        [0, 0, 0, 0, 1, 1],
        "listed: sleep; not listed: self-wake"
    );
    for i in 0..6 {
        queue.push(i).unwrap();
    }
    let mut got = Vec::new();
    for (future, (waker, wakes)) in futures.iter_mut().zip(&counted) {
        assert!(wakes.count() >= 1, "a future was never woken");
        match poll_once(future, waker) {
            Poll::Ready(Ok(v)) => got.push(v),
            other => panic!("a woken future did not complete: {other:?}"),
        }
    }
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
}
