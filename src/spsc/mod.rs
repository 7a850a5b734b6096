//! The single-producer single-consumer bounded ring buffer.
//!
//! [`channel`] returns a [`Producer`] and a [`Consumer`]; each may move to its own
//! thread. Both sides are **wait-free**: every operation finishes in a bounded number
//! of its own steps whatever the other thread does, and uses only atomic loads and
//! stores (no read-modify-write), so the queue also works on targets without
//! compare-and-swap.
//!
//! # The protocol
//!
//! Two counters, `head` (items popped so far) and `tail` (items pushed so far), grow
//! without bound and wrap at `usize::MAX`; `tail - head` (wrapping) is the length and
//! never exceeds the capacity. Only the producer stores `tail`, only the consumer
//! stores `head`:
//!
//! * the producer writes slots, then publishes them with a `Release` store of `tail`;
//!   the consumer's `Acquire` load of `tail` makes those writes visible before it
//!   reads the slots;
//! * the consumer reads (moves out) slots, then frees them with a `Release` store of
//!   `head`; the producer's `Acquire` load of `head` orders its next write of a slot
//!   after the consumer's read of it.
//!
//! Each side keeps its own counter in a plain field (it is the only writer, so never
//! needs to load it back) and a *cached copy of the other side's counter*, which it
//! reloads only when the cache says the queue is full (producer) or empty (consumer)
//! (the "cached remote index" of rigtorp's SPSCQueue and rtrb). In steady streaming
//! the shared lines then move between cores once per batch of items, not once per
//! item. `head` and `tail` sit on separate 128-byte lines ([`CachePadded`]), so the
//! producer's stores never invalidate the line the consumer stores to.
//!
//! Batch operations ([`Producer::push_slice`], [`Producer::push_iter`],
//! [`WriteChunkUninit`], [`Consumer::pop_slice`], [`ReadChunk`], [`Consumer::drain`])
//! publish once per batch.
//!
//! [`CachePadded`]: crossbeam_utils::CachePadded

mod chunks;
#[cfg(feature = "std")]
mod waiting;

pub use chunks::{Drain, ReadChunk, WriteChunkUninit};
#[cfg(feature = "async")]
pub use waiting::{PopFuture, PushFuture};

use core::fmt;

use crossbeam_utils::CachePadded;

use crate::buffer::Buffer;
use crate::sync::{load_mut, Arc, AtomicBool, AtomicUsize, Ordering};
use crate::wait::Waiters;
#[cfg(feature = "std")]
use crate::WaitStrategy;
use crate::{ChunkError, PushError};

/// The state both halves share.
struct Shared<T> {
    /// Number of items popped so far, wrapping. Stored only by the consumer, with
    /// `Release`, after it has finished with the slots below it. Invariant:
    /// `tail - head` (wrapping) is in `0 ..= capacity`.
    head: CachePadded<AtomicUsize>,
    /// Number of items pushed so far, wrapping. Stored only by the producer, with
    /// `Release`, after it has written the slots below it.
    tail: CachePadded<AtomicUsize>,
    /// The slots. Positions `head .. tail` (wrapping) hold initialised values owned by
    /// the consumer; all other slots are uninitialised and owned by the producer.
    buffer: Buffer<T>,
    /// The exact number of items the queue holds, `>= 1`.
    capacity: usize,
    /// Set with `Release` by whichever half is dropped first, after it published its
    /// counter; an `Acquire` load that sees it therefore sees every item or free slot
    /// the other half published.
    abandoned: AtomicBool,
    /// The wait strategy and the sleeping waiters: the producer wakes the consumer's
    /// cell after every publish, the consumer the producer's after every release, and
    /// each half the other's when it is dropped (only with `WaitStrategy::SpinPark`).
    waiters: Waiters,
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // A loom model that found a race panics inside a slot access, leaving loom's
        // cell marked busy; touching it again here would abort the whole test binary.
        #[cfg(loom)]
        if std::thread::panicking() {
            return;
        }
        // Both halves are gone (the last `Arc` is being dropped, which synchronises
        // with the other half's drop), so the counters can be read plainly.
        let head = load_mut(&mut self.head);
        let tail = load_mut(&mut self.tail);
        let len = tail.wrapping_sub(head);
        debug_assert!(len <= self.capacity, "ring invariant: len {len} > capacity");
        // SAFETY: slots `head .. tail` are initialised (field invariant on `buffer`),
        // nobody else can reach them any more, and they are never touched again.
        unsafe { self.buffer.drop_range(head, len) };
    }
}

/// Creates a bounded SPSC ring that holds exactly `capacity` items and returns its
/// two halves.
///
/// The storage is allocated once, here; no operation allocates afterwards.
/// Zero-sized `T` allocates nothing.
///
/// # Panics
///
/// If `capacity` is 0, or if the storage (`capacity` rounded up to a power of two,
/// times the size of `T`) would exceed `isize::MAX` bytes.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = ringway::spsc::channel::<u64>(2);
/// let consumer = std::thread::spawn(move || {
///     let mut got = Vec::new();
///     while got.len() < 100 {
///         if let Some(v) = rx.pop() {
///             got.push(v);
///         }
///     }
///     got
/// });
/// for i in 0..100 {
///     let mut item = i;
///     while let Err(e) = tx.push(item) {
///         item = e.into_inner();
///         std::hint::spin_loop();
///     }
/// }
/// assert_eq!(consumer.join().unwrap(), (0..100).collect::<Vec<_>>());
/// ```
///
/// ```should_panic
/// let _ = ringway::spsc::channel::<u64>(0); // panics: capacity must be at least 1
/// ```
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    #[cfg(feature = "std")]
    let waiters = Waiters::new(WaitStrategy::NON_BLOCKING);
    #[cfg(not(feature = "std"))]
    let waiters = Waiters;
    with_waiters(capacity, waiters)
}

/// Creates a bounded SPSC ring like [`channel`], whose waiting operations
/// ([`Producer::push_blocking`], [`Consumer::pop_async`], ...) wait as `strategy` says.
///
/// [`channel`] builds with [`WaitStrategy::NON_BLOCKING`] (spin, then yield), whose
/// waiters never sleep, so `push` and `pop` carry no wake-up check. Build with
/// [`WaitStrategy::SpinPark`] (`WaitStrategy::default()`) for waiting operations that
/// sleep; every publish then pays a `SeqCst` fence (see [`WaitStrategy`]).
///
/// # Examples
///
/// ```
/// use ringway::WaitStrategy;
///
/// let (mut tx, mut rx) = ringway::spsc::channel_with::<u64>(64, WaitStrategy::default());
/// let consumer = std::thread::spawn(move || rx.pop_blocking()); // sleeps until woken
/// std::thread::sleep(std::time::Duration::from_millis(10));
/// tx.push(7).unwrap(); // wakes it
/// assert_eq!(consumer.join().unwrap(), Ok(7));
/// ```
///
/// # Panics
///
/// As [`channel`].
///
/// # Examples
///
/// ```
/// use ringway::WaitStrategy;
///
/// let (mut tx, mut rx) = ringway::spsc::channel_with(4, WaitStrategy::SpinYield { spins: 100 });
/// assert_eq!(tx.wait_strategy(), WaitStrategy::SpinYield { spins: 100 });
/// let consumer = std::thread::spawn(move || {
///     let mut sum = 0;
///     while let Ok(v) = rx.pop_blocking() {
///         sum += v;
///     }
///     sum // the producer is gone and the ring is empty
/// });
/// for i in 1..=100 {
///     tx.push_blocking(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(consumer.join().unwrap(), 5050);
/// ```
#[cfg(feature = "std")]
pub fn channel_with<T>(capacity: usize, strategy: WaitStrategy) -> (Producer<T>, Consumer<T>) {
    with_waiters(capacity, Waiters::new(strategy))
}

fn with_waiters<T>(capacity: usize, waiters: Waiters) -> (Producer<T>, Consumer<T>) {
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        buffer: Buffer::new(capacity),
        capacity,
        abandoned: AtomicBool::new(false),
        waiters,
    });
    let producer = Producer {
        shared: Arc::clone(&shared),
        tail: 0,
        cached_head: 0,
    };
    let consumer = Consumer {
        shared,
        head: 0,
        released: 0,
        cached_tail: 0,
    };
    (producer, consumer)
}

/// The sending half of an SPSC ring, created by [`channel`].
///
/// Every operation is wait-free. `Producer<T>` is `Send` when `T: Send`, and never
/// `Sync` (use it from one thread at a time).
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// The producer's own counter: equal to `shared.tail` except inside a write chunk's
    /// `commit`, which updates both. The producer is the only writer of `tail`, so it
    /// never loads the atomic back.
    tail: usize,
    /// A value `shared.head` had. `head` only grows, so `tail - cached_head` is at
    /// least the true length: a stale cache can only under-report free slots.
    cached_head: usize,
}

// SAFETY: the producer moves `T`s into the ring from whichever thread owns it, and the
// consumer takes them out on another thread, so `T: Send` is needed and sufficient.
// The shared state is only touched through atomics and through slots that the index
// protocol gives to exactly one side at a time.
unsafe impl<T: Send> Send for Producer<T> {}

impl<T> Producer<T> {
    /// Returns the number of free slots, reloading the consumer's counter only when
    /// the cached one shows fewer than `wanted`.
    #[inline(always)]
    fn free_slots(&mut self, wanted: usize) -> usize {
        let capacity = self.shared.capacity;
        let mut len = self.tail.wrapping_sub(self.cached_head);
        if capacity - len < wanted {
            self.cached_head = self.shared.head.load(Ordering::Acquire);
            len = self.tail.wrapping_sub(self.cached_head);
        }
        debug_assert!(len <= capacity, "ring invariant: len {len} > capacity");
        capacity - len
    }

    /// Makes the slots below `tail` visible to the consumer.
    #[inline(always)]
    fn publish(&mut self, tail: usize) {
        debug_assert!(tail.wrapping_sub(self.cached_head) <= self.shared.capacity);
        self.tail = tail;
        self.shared.tail.store(tail, Ordering::Release);
        self.shared.waiters.items_published();
    }

    /// Appends `value`, or hands it back in [`PushError::Full`] if the ring holds
    /// `capacity` items.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] with `value` when the ring is full.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::PushError;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::channel(1);
    /// assert_eq!(tx.push(1), Ok(()));
    /// assert_eq!(tx.push(2), Err(PushError::Full(2)));
    /// assert_eq!(rx.pop(), Some(1));
    /// assert_eq!(tx.push(2), Ok(()));
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        if self.free_slots(1) == 0 {
            return Err(PushError::Full(value));
        }
        let tail = self.tail;
        // SAFETY: a free slot exists, so the slot at `tail` is outside `head .. tail`:
        // uninitialised and owned by the producer (invariant on `Shared::buffer`).
        unsafe { self.shared.buffer.write(tail, value) };
        self.publish(tail.wrapping_add(1));
        Ok(())
    }

    /// Copies as many items from the front of `items` as fit, in order, publishing
    /// them with one store; returns how many were pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// assert_eq!(tx.push_slice(&[1, 2, 3, 4, 5, 6]), 4);
    /// let mut out = [0; 8];
    /// assert_eq!(rx.pop_slice(&mut out), 4);
    /// assert_eq!(out[..4], [1, 2, 3, 4]);
    /// ```
    #[inline]
    pub fn push_slice(&mut self, items: &[T]) -> usize
    where
        T: Copy,
    {
        let n = self.free_slots(items.len()).min(items.len());
        if n == 0 {
            return 0;
        }
        let tail = self.tail;
        // SAFETY: `n` free slots exist, so `tail .. tail + n` are uninitialised and the
        // producer's; `n <= capacity <= slots`.
        let (first, second) = unsafe { self.shared.buffer.slices_mut(tail, n) };
        let (a, b) = items[..n].split_at(first.len());
        write_copies(first, a);
        write_copies(second, b);
        self.publish(tail.wrapping_add(n));
        n
    }

    /// Moves items from `iter` into the ring until it is full or the iterator ends,
    /// publishing them with one store (two when the cached room runs out and it looks
    /// again); returns how many were pushed, at most `capacity`.
    ///
    /// It never takes an item from `iter` that it cannot store, so whatever is left in
    /// the iterator can be pushed later. If `iter` panics, the items already taken
    /// from it are published (and so neither lost nor dropped twice).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(3);
    /// let mut words = ["a", "b", "c", "d"].into_iter().map(String::from);
    /// assert_eq!(tx.push_iter(&mut words), 3);
    /// assert_eq!(words.next().as_deref(), Some("d"));
    /// assert_eq!(rx.drain().collect::<Vec<_>>(), ["a", "b", "c"]);
    /// ```
    #[inline]
    pub fn push_iter<I: IntoIterator<Item = T>>(&mut self, iter: I) -> usize {
        let mut iter = iter.into_iter();
        // Reload the consumer's counter only if the cached room cannot take the items
        // the iterator promises (at least one).
        let free = self.free_slots(iter.size_hint().0.max(1));
        let pushed = WriteChunkUninit::new(self, free).fill_from_iter(&mut iter);
        if pushed < free {
            return pushed; // the iterator ended (or the ring is full)
        }
        // The cached room ran out first: look once more (a bounded number of steps,
        // and never more than `capacity` items in one call).
        let more = self.free_slots(1).min(self.capacity() - pushed);
        pushed + WriteChunkUninit::new(self, more).fill_from_iter(&mut iter)
    }

    /// Grants exclusive, zero-copy access to the next `n` free slots, which the
    /// returned chunk publishes with [`WriteChunkUninit::commit`].
    ///
    /// # Errors
    ///
    /// [`ChunkError::TooFewSlots`] with the number of free slots if fewer than `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::channel(8);
    /// let mut chunk = tx.write_chunk_uninit(3).unwrap();
    /// let (first, second) = chunk.as_mut_slices();
    /// for (i, slot) in first.iter_mut().chain(second).enumerate() {
    ///     *slot = MaybeUninit::new(i * 10);
    /// }
    /// // SAFETY: all three slots were initialised above.
    /// unsafe { chunk.commit_all() };
    /// assert_eq!(rx.drain().collect::<Vec<_>>(), [0, 10, 20]);
    /// ```
    #[inline]
    pub fn write_chunk_uninit(&mut self, n: usize) -> Result<WriteChunkUninit<'_, T>, ChunkError> {
        let free = self.free_slots(n);
        if free < n {
            return Err(ChunkError::TooFewSlots(free));
        }
        Ok(WriteChunkUninit::new(self, n))
    }

    /// The exact number of items the ring holds when full.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = ringway::spsc::channel::<u8>(5);
    /// assert_eq!(tx.capacity(), 5);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// The number of free slots right now (from the producer's side: the consumer
    /// may free more at any moment, never fewer).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = ringway::spsc::channel(5);
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.slots(), 4);
    /// ```
    #[inline]
    pub fn slots(&self) -> usize {
        self.capacity() - self.len()
    }

    /// The number of items in the ring, as seen by the producer: a snapshot that the
    /// consumer may lower at any moment, never above `capacity`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// assert_eq!(tx.len(), 3);
    /// rx.pop();
    /// assert_eq!(tx.len(), 2);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        let len = self
            .tail
            .wrapping_sub(self.shared.head.load(Ordering::Acquire));
        debug_assert!(len <= self.shared.capacity);
        len
    }

    /// Whether the ring holds no items (a snapshot from the producer's side).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = ringway::spsc::channel(4);
    /// assert!(tx.is_empty());
    /// tx.push(1).unwrap();
    /// assert!(!tx.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring holds `capacity` items (a snapshot from the producer's side).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = ringway::spsc::channel(1);
    /// tx.push(1).unwrap();
    /// assert!(tx.is_full());
    /// ```
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Whether the [`Consumer`] has been dropped. Once true it stays true, and no
    /// pushed item will ever be popped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = ringway::spsc::channel::<u8>(1);
    /// assert!(!tx.is_abandoned());
    /// drop(rx);
    /// assert!(tx.is_abandoned());
    /// ```
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.shared.abandoned.load(Ordering::Acquire)
    }
}

/// Copies `src` into the front of `dst` (`dst.len() == src.len()`).
#[inline(always)]
fn write_copies<T: Copy>(dst: &mut [core::mem::MaybeUninit<T>], src: &[T]) {
    debug_assert_eq!(dst.len(), src.len());
    for (slot, item) in dst.iter_mut().zip(src) {
        slot.write(*item);
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Everything pushed is already published (`tail` is stored by every push and
        // commit), so this `Release` makes all of it visible to an `Acquire` of the flag.
        self.shared.abandoned.store(true, Ordering::Release);
        // A consumer asleep waiting for items must wake to see it never gets more.
        self.shared.waiters.items_published();
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The receiving half of an SPSC ring, created by [`channel`].
///
/// Every operation is wait-free. `Consumer<T>` is `Send` when `T: Send`, and never
/// `Sync` (use it from one thread at a time).
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// The consumer's own counter. It may run ahead of `shared.head` after a [`Drain`]
    /// (items moved out, slots not yet released); see `released`. The consumer never
    /// loads `head` back.
    head: usize,
    /// The value the consumer last stored to `shared.head` (`<= head`). When they
    /// differ (a `Drain` was forgotten), the next look for items stores `head`, and so
    /// does dropping the consumer.
    released: usize,
    /// A value `shared.tail` had. `tail` only grows, so `cached_tail - head` is at most
    /// the true length: a stale cache can only under-report items.
    cached_tail: usize,
}

// SAFETY: the consumer receives `T`s pushed on another thread and may drop them, so
// `T: Send` is needed and sufficient; shared state is touched only through atomics and
// through slots the protocol hands to the consumer alone.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Consumer<T> {
    /// Returns the number of items available, reloading the producer's counter only
    /// when the cached one shows fewer than `wanted`.
    #[inline(always)]
    fn available(&mut self, wanted: usize) -> usize {
        let mut n = self.cached_tail.wrapping_sub(self.head);
        if n < wanted {
            if self.released != self.head {
                self.release(self.head);
            }
            self.cached_tail = self.shared.tail.load(Ordering::Acquire);
            n = self.cached_tail.wrapping_sub(self.head);
        }
        debug_assert!(
            n <= self.shared.capacity,
            "ring invariant: len {n} > capacity"
        );
        n
    }

    /// Hands the slots below `head` back to the producer.
    #[inline(always)]
    fn release(&mut self, head: usize) {
        debug_assert!(self.cached_tail.wrapping_sub(head) <= self.shared.capacity);
        self.head = head;
        self.released = head;
        self.shared.head.store(head, Ordering::Release);
        self.shared.waiters.slots_freed();
    }

    /// Removes and returns the oldest item, or `None` if the ring is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(2);
    /// assert_eq!(rx.pop(), None);
    /// tx.push("x").unwrap();
    /// assert_eq!(rx.pop(), Some("x"));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.available(1) == 0 {
            return None;
        }
        let head = self.head;
        // SAFETY: an item is available, so the slot at `head` is inside `head .. tail`:
        // initialised and the consumer's; it is released (so treated as
        // uninitialised) right after.
        let value = unsafe { self.shared.buffer.read(head) };
        self.release(head.wrapping_add(1));
        Some(value)
    }

    /// Returns a reference to the oldest item without removing it, or `None` if the
    /// ring is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(2);
    /// assert_eq!(rx.peek(), None);
    /// tx.push(7).unwrap();
    /// assert_eq!(rx.peek(), Some(&7));
    /// assert_eq!(rx.pop(), Some(7));
    /// ```
    #[inline]
    pub fn peek(&self) -> Option<&T> {
        if self.cached_tail == self.head && self.shared.tail.load(Ordering::Acquire) == self.head {
            return None;
        }
        // SAFETY: the slot at `head` is inside `head .. tail`, initialised and the
        // consumer's; it stays so while `&self` is borrowed, since only `&mut self`
        // methods move items out or release slots.
        Some(unsafe { self.shared.buffer.get(self.head) })
    }

    /// Copies as many of the oldest items as fit into the front of `dst`, removing
    /// them with one store; returns how many were popped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// let mut out = [0; 2];
    /// assert_eq!(rx.pop_slice(&mut out), 2);
    /// assert_eq!(out, [1, 2]);
    /// assert_eq!(rx.pop_slice(&mut out), 1);
    /// assert_eq!(out[0], 3);
    /// ```
    #[inline]
    pub fn pop_slice(&mut self, dst: &mut [T]) -> usize
    where
        T: Copy,
    {
        let n = self.available(dst.len()).min(dst.len());
        if n == 0 {
            return 0;
        }
        let head = self.head;
        // SAFETY: `n` items are available, so `head .. head + n` are initialised and
        // the consumer's until released below; `T: Copy`, so copying out leaves
        // nothing to drop.
        let (first, second) = unsafe { self.shared.buffer.slices(head, n) };
        dst[..first.len()].copy_from_slice(first);
        dst[first.len()..n].copy_from_slice(second);
        self.release(head.wrapping_add(n));
        n
    }

    /// Returns an iterator that pops the items available now (it does not wait for
    /// more), releasing their slots to the producer once, when it is dropped.
    ///
    /// Items the iterator did not yield stay in the ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// let sum: i32 = rx.drain().sum();
    /// assert_eq!(sum, 6);
    /// assert!(rx.is_empty());
    /// ```
    #[inline]
    pub fn drain(&mut self) -> Drain<'_, T> {
        let n = self.available(usize::MAX);
        Drain::new(self, n)
    }

    /// Grants zero-copy access to the `n` oldest items, which the returned chunk
    /// removes with [`ReadChunk::commit`].
    ///
    /// # Errors
    ///
    /// [`ChunkError::TooFewSlots`] with the number of available items if fewer than `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// let chunk = rx.read_chunk(2).unwrap();
    /// let (first, second) = chunk.as_slices();
    /// assert_eq!([first, second].concat(), [1, 2]);
    /// chunk.commit_all();
    /// assert_eq!(rx.pop(), Some(3));
    /// assert_eq!(rx.read_chunk(1).unwrap_err(), ringway::ChunkError::TooFewSlots(0));
    /// ```
    #[inline]
    pub fn read_chunk(&mut self, n: usize) -> Result<ReadChunk<'_, T>, ChunkError> {
        let available = self.available(n);
        if available < n {
            return Err(ChunkError::TooFewSlots(available));
        }
        Ok(ReadChunk::new(self, n))
    }

    /// The exact number of items the ring holds when full.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = ringway::spsc::channel::<u8>(3);
    /// assert_eq!(rx.capacity(), 3);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// The number of items in the ring, as seen by the consumer: a snapshot that the
    /// producer may raise at any moment; every item it counts is fully written.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2]);
    /// assert_eq!(rx.len(), 2);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        let len = self
            .shared
            .tail
            .load(Ordering::Acquire)
            .wrapping_sub(self.head);
        debug_assert!(len <= self.shared.capacity);
        len
    }

    /// Whether the ring holds no items (a snapshot from the consumer's side).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = ringway::spsc::channel(4);
    /// assert!(rx.is_empty());
    /// tx.push(1).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring holds `capacity` items (a snapshot from the consumer's side).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = ringway::spsc::channel(2);
    /// tx.push_slice(&[1, 2]);
    /// assert!(rx.is_full());
    /// ```
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Whether the [`Producer`] has been dropped. Once this returns true, every item
    /// the producer pushed is visible: popping until empty receives all of them.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(2);
    /// tx.push(1).unwrap();
    /// drop(tx);
    /// assert!(rx.is_abandoned());
    /// assert_eq!(rx.pop(), Some(1));
    /// assert_eq!(rx.pop(), None);
    /// ```
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.shared.abandoned.load(Ordering::Acquire)
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // A forgotten `Drain` may have moved items out without releasing their slots:
        // publish the consumer's own counter so the final drop does not drop them again.
        // (Stored unconditionally: when nothing is pending it rewrites the same value,
        // which is simpler than tracking whether `released` lags.)
        self.shared.head.store(self.head, Ordering::Release);
        self.shared.abandoned.store(true, Ordering::Release);
        // A producer asleep waiting for room must wake to see it never gets any.
        self.shared.waiters.slots_freed();
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}
