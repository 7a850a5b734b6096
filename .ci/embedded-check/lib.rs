//! Instantiates ringway's static forms the way firmware does, so that building this
//! crate for an embedded target compiles and code-generates them there (building the
//! library alone type-checks generic code but generates none): `const` construction
//! in a `static`, and the SPSC and MPMC operations, without `std` or `alloc`.
//!
//! `.ci/run` builds it for `thumbv7em-none-eabihf` (Cortex-M4) and `thumbv6m-none-eabi`
//! (Cortex-M0: loads and stores only, so no `mpmc` and no `try_split`), and with its
//! `async` feature (ringway's futures without `std` or an executor) for Cortex-M4.

#![no_std]

use ringway::spsc::{Borrowed, Consumer, Producer, StaticRing};

/// A ring an interrupt handler fills, built at compile time.
pub static SAMPLES: StaticRing<u32, 64> = StaticRing::new();

/// A ring of a capacity that is not a power of two (its positions skip at the end of
/// each lap), driven through the same operations.
pub static FRAMES: StaticRing<u16, 48> = StaticRing::new();

/// Splits the odd-sized ring the caller owns and moves a batch through it.
pub fn frames(ring: &'static mut StaticRing<u16, 48>, items: &[u16], out: &mut [u16]) -> usize {
    let (mut tx, mut rx) = ring.split();
    let n = tx.push_slice(items);
    let _ = tx.push(1);
    n + rx.pop_slice(out) + rx.drain().count()
}

/// Splits a ring the caller owns (on Cortex-M0 from a `&'static mut`, e.g.
/// `cortex_m::singleton!`).
pub fn split(
    ring: &'static mut StaticRing<u32, 64>,
) -> (
    Producer<u32, Borrowed<'static>>,
    Consumer<u32, Borrowed<'static>>,
) {
    ring.split()
}

/// Splits the `static` ring once (needs an atomic swap).
#[cfg(target_has_atomic = "8")]
pub fn split_samples() -> Option<(
    Producer<u32, Borrowed<'static>>,
    Consumer<u32, Borrowed<'static>>,
)> {
    SAMPLES.try_split()
}

/// What an interrupt handler does: push, never wait.
pub fn isr(tx: &mut Producer<u32, Borrowed<'static>>, sample: u32) -> bool {
    tx.push(sample).is_ok()
}

/// What the main loop does: drain in batches, in place.
pub fn main_loop(rx: &mut Consumer<u32, Borrowed<'static>>, out: &mut [u32]) -> usize {
    let n = rx.pop_slice(out);
    let mut more = 0;
    if let Ok(chunk) = rx.read_chunk(rx.len().min(4)) {
        let (a, b) = chunk.as_slices();
        more = a.len() + b.len();
        chunk.commit_all();
    }
    n + more + rx.drain().count()
}

/// Bulk and zero-copy producer operations.
pub fn bulk(tx: &mut Producer<u32, Borrowed<'static>>, items: &[u32]) -> usize {
    let mut n = tx.push_slice(items);
    n += tx.push_iter(items.iter().copied());
    if let Ok(chunk) = tx.write_chunk_uninit(1) {
        n += chunk.fill_from_iter(core::iter::once(7));
    }
    n
}

/// An MPMC queue used from `&'static` (targets with compare-and-swap).
#[cfg(target_has_atomic = "ptr")]
pub static EVENTS: ringway::mpmc::StaticQueue<u32, 10> = ringway::mpmc::StaticQueue::new();

/// Push, force-push and pop on the static MPMC queue.
#[cfg(target_has_atomic = "ptr")]
pub fn events(v: u32) -> Option<u32> {
    let _ = EVENTS.push(v);
    let _ = EVENTS.force_push(v + 1);
    let mut out = [0; 4];
    EVENTS.pop_slice(&mut out);
    EVENTS.pop()
}

/// The futures of a `static` ring and queue, as an embedded executor polls them: with
/// `SpinPark` a pending future registers its waker (in the spin-locked list), and a
/// push or pop wakes it. Each function polls one future once, so that its code is
/// generated for the target.
#[cfg(feature = "async")]
pub mod futures {
    use core::future::Future;
    use core::pin::Pin;
    use core::task::{Context, Poll};

    use ringway::mpmc::StaticQueue;
    use ringway::spsc::{Borrowed, Consumer, Producer, StaticRing};
    use ringway::{Disconnected, WaitStrategy};

    /// A ring whose waiting futures sleep until the other side wakes them.
    pub static PARKED: StaticRing<u32, 16> =
        StaticRing::with_wait_strategy(WaitStrategy::SPIN_PARK);

    /// A queue whose waiting futures sleep until woken.
    pub static PARKED_EVENTS: StaticQueue<u32, 8> =
        StaticQueue::with_wait_strategy(WaitStrategy::SPIN_PARK);

    /// Splits [`PARKED`] once.
    pub fn split_parked() -> Option<(
        Producer<u32, Borrowed<'static>>,
        Consumer<u32, Borrowed<'static>>,
    )> {
        PARKED.try_split()
    }

    /// One poll of `push_async`.
    pub fn poll_push(
        tx: &mut Producer<u32, Borrowed<'static>>,
        v: u32,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Disconnected<u32>>> {
        let mut fut = tx.push_async(v);
        Pin::new(&mut fut).poll(cx)
    }

    /// One poll of `pop_async`.
    pub fn poll_pop(
        rx: &mut Consumer<u32, Borrowed<'static>>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<u32, Disconnected>> {
        let mut fut = core::pin::pin!(rx.pop_async());
        fut.as_mut().poll(cx)
    }

    /// One poll each of the static queue's `push_async` and `pop_async`.
    pub fn poll_events(v: u32, cx: &mut Context<'_>) -> (bool, Poll<Result<u32, Disconnected>>) {
        let mut push = PARKED_EVENTS.push_async(v);
        let pushed = Pin::new(&mut push).poll(cx).is_ready();
        let mut pop = core::pin::pin!(PARKED_EVENTS.pop_async());
        (pushed, pop.as_mut().poll(cx))
    }
}
