//! Zero-copy chunks and the draining iterator of the SPSC ring.
//!
//! Each guard borrows its half mutably, so no other operation on that half can run
//! while it lives. Guards are panic-safe and `mem::forget`-safe: forgetting one
//! publishes or releases nothing (written values are leaked, never exposed half-made
//! or dropped twice), and every index store happens only after the slots it covers
//! are fully written (producer) or fully read or dropped (consumer).

use core::fmt;
use core::iter::FusedIterator;
use core::mem::MaybeUninit;

use super::{advance, distance, Consumer, Heap, Indexed, Producer, Storage};

/// Exclusive access to `len` free slots of an SPSC ring, from
/// [`Producer::write_chunk_uninit`] (or used inside [`Producer::push_iter`]).
///
/// Write values into the slots through [`as_mut_slices`](Self::as_mut_slices), then
/// publish the first `k` of them with [`commit`](Self::commit) (one index store), or
/// let [`fill_from_iter`](Self::fill_from_iter) do both. Dropping the chunk without
/// committing publishes nothing; values written into uncommitted slots are leaked.
pub struct WriteChunkUninit<'a, T, S: Storage = Heap<T>> {
    producer: &'a mut Producer<T, S>,
    /// Number of granted slots, starting at `producer.tail`; all of them are free
    /// (outside `head .. tail`), so the producer owns them.
    len: usize,
}

impl<'a, T, S: Storage> WriteChunkUninit<'a, T, S> {
    /// Grants the `len` slots from `producer.tail`; the caller has checked they are free.
    #[inline(always)]
    pub(super) fn new(producer: &'a mut Producer<T, S>, len: usize) -> Self {
        debug_assert!(
            producer.slots.distance(producer.cached_head, producer.tail) + len <= producer.capacity,
            "a write chunk covering occupied slots"
        );
        WriteChunkUninit { producer, len }
    }

    /// The number of slots in the chunk.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = ringway::spsc::channel::<u8>(4);
    /// assert_eq!(tx.write_chunk_uninit(3).unwrap().len(), 3);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the chunk has no slots.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = ringway::spsc::channel::<u8>(4);
    /// assert!(tx.write_chunk_uninit(0).unwrap().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Publishes the first `k` slots to the consumer with one index store; the rest
    /// stay free.
    ///
    /// # Safety
    ///
    /// The first `k` slots (in the order of [`as_mut_slices`](Self::as_mut_slices))
    /// must be initialised.
    ///
    /// # Panics
    ///
    /// If `k > self.len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// let mut chunk = tx.write_chunk_uninit(4).unwrap();
    /// chunk.as_mut_slices().0[0] = MaybeUninit::new('a');
    /// // SAFETY: the first slot is initialised.
    /// unsafe { chunk.commit(1) };
    /// assert_eq!(rx.pop(), Some('a'));
    /// assert_eq!(rx.pop(), None);
    /// ```
    #[inline]
    pub unsafe fn commit(self, k: usize) {
        assert!(
            k <= self.len,
            "ringway: commit({k}) on a write chunk of {} slots",
            self.len
        );
        let tail = advance::<S, T>(&self.producer.slots, self.producer.tail, k);
        self.producer.publish(tail);
    }

    /// Publishes all the chunk's slots.
    ///
    /// # Safety
    ///
    /// Every slot of the chunk must be initialised.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::channel(2);
    /// let mut chunk = tx.write_chunk_uninit(2).unwrap();
    /// chunk.as_mut_slices().0.fill(MaybeUninit::new(9));
    /// // SAFETY: both slots are initialised (the ring is empty, so no wrap).
    /// unsafe { chunk.commit_all() };
    /// assert_eq!(rx.len(), 2);
    /// ```
    #[inline]
    pub unsafe fn commit_all(self) {
        let len = self.len;
        // SAFETY: forwarded from the caller.
        unsafe { self.commit(len) }
    }

    /// Moves items from `iter` into the chunk's slots, in order, until the chunk is
    /// full or the iterator ends, then publishes them; returns how many were written.
    ///
    /// It never takes more than `self.len()` items from `iter`. If `iter` panics, the
    /// items already written are published before the panic propagates.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(8);
    /// let chunk = tx.write_chunk_uninit(3).unwrap();
    /// assert_eq!(chunk.fill_from_iter(10..), 3);
    /// assert_eq!(rx.drain().collect::<Vec<_>>(), [10, 11, 12]);
    /// ```
    #[inline]
    pub fn fill_from_iter<I: IntoIterator<Item = T>>(self, iter: I) -> usize {
        /// Publishes the slots written so far when dropped, including during unwinding.
        struct PublishOnDrop<'p, T, S: Storage> {
            producer: &'p mut Producer<T, S>,
            /// Slots from `producer.tail` that hold initialised values.
            written: usize,
        }
        impl<T, S: Storage> Drop for PublishOnDrop<'_, T, S> {
            fn drop(&mut self) {
                if self.written > 0 {
                    let producer = &mut *self.producer;
                    let tail = advance::<S, T>(&producer.slots, producer.tail, self.written);
                    producer.publish(tail);
                }
            }
        }

        let len = self.len;
        let mut guard = PublishOnDrop {
            producer: self.producer,
            written: 0,
        };
        let slots = guard.producer.slots;
        let mut pos = guard.producer.tail;
        let mut iter = iter.into_iter();
        while guard.written < len {
            let Some(value) = iter.next() else { break };
            // SAFETY: slot `pos`, `written` places after the producer's `tail`, is one of
            // the chunk's free slots (field invariant on `len`), not yet written
            // (`written` counts the ones that are).
            unsafe { slots.write(pos, value) };
            pos = advance::<S, T>(&slots, pos, 1);
            guard.written += 1;
        }
        guard.written
    }
}

/// The slots as slices of `T`: [`Indexed`] layout only (its slots are contiguous).
impl<T, S: Storage<Layout = Indexed>> WriteChunkUninit<'_, T, S> {
    /// The chunk's slots as two slices, in order: the second is non-empty only when
    /// the chunk wraps around the end of the storage.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::channel(2);
    /// tx.push(0).unwrap();
    /// rx.pop();
    /// let mut chunk = tx.write_chunk_uninit(2).unwrap(); // wraps: slot 1, then slot 0
    /// let (first, second) = chunk.as_mut_slices();
    /// assert_eq!((first.len(), second.len()), (1, 1));
    /// first[0] = MaybeUninit::new(1);
    /// second[0] = MaybeUninit::new(2);
    /// // SAFETY: both slots are initialised.
    /// unsafe { chunk.commit_all() };
    /// assert_eq!(rx.drain().collect::<Vec<_>>(), [1, 2]);
    /// ```
    #[inline]
    pub fn as_mut_slices(&mut self) -> (&mut [MaybeUninit<T>], &mut [MaybeUninit<T>]) {
        let tail = self.producer.tail;
        // SAFETY: the chunk's slots are free, hence the producer's (field invariant on
        // `len`), and `&mut self` borrows the producer exclusively for the slices' life.
        unsafe { self.producer.slots.slices_mut(tail, self.len) }
    }
}

impl<T, S: Storage> fmt::Debug for WriteChunkUninit<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteChunkUninit")
            .field("len", &self.len)
            .finish()
    }
}

/// Zero-copy access to the `len` oldest items of an SPSC ring, from
/// [`Consumer::read_chunk`].
///
/// Read the items through [`as_slices`](Self::as_slices), then remove (and drop) the
/// first `k` with [`commit`](Self::commit), or iterate the chunk by value. Dropping
/// the chunk without committing leaves every item in the ring.
pub struct ReadChunk<'a, T, S: Storage = Heap<T>> {
    consumer: &'a mut Consumer<T, S>,
    /// Number of items from `consumer.head` in the chunk; all of them are inside
    /// `head .. tail`, so initialised and the consumer's.
    len: usize,
}

impl<'a, T, S: Storage> ReadChunk<'a, T, S> {
    /// Grants the `len` items from `consumer.head`; the caller has checked they exist.
    #[inline(always)]
    pub(super) fn new(consumer: &'a mut Consumer<T, S>, len: usize) -> Self {
        debug_assert!(
            consumer.known() >= len,
            "a read chunk covering unpublished slots"
        );
        ReadChunk { consumer, len }
    }

    /// The number of items in the chunk.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// assert_eq!(rx.read_chunk(2).unwrap().len(), 2);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the chunk has no items.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, mut rx) = ringway::spsc::channel::<u8>(4);
    /// assert!(rx.read_chunk(0).unwrap().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes the `k` oldest items of the chunk, dropping them, and hands their slots
    /// back to the producer with one index store.
    ///
    /// If an item's `Drop` panics, the other items are still dropped and the slots
    /// released while the panic unwinds; nothing is dropped twice.
    ///
    /// # Panics
    ///
    /// If `k > self.len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// rx.read_chunk(3).unwrap().commit(2);
    /// assert_eq!(rx.pop(), Some(3));
    /// ```
    #[inline]
    pub fn commit(self, k: usize) {
        /// Releases the slots below `head` when dropped, including during unwinding.
        struct ReleaseOnDrop<'c, T, S: Storage> {
            consumer: &'c mut Consumer<T, S>,
            head: usize,
        }
        impl<T, S: Storage> Drop for ReleaseOnDrop<'_, T, S> {
            fn drop(&mut self) {
                self.consumer.release(self.head);
            }
        }

        assert!(
            k <= self.len,
            "ringway: commit({k}) on a read chunk of {} items",
            self.len
        );
        let head = self.consumer.head;
        let end = advance::<S, T>(&self.consumer.slots, head, k);
        let guard = ReleaseOnDrop {
            consumer: self.consumer,
            head: end,
        };
        // SAFETY: the first `k` items of the chunk are initialised and the consumer's
        // (field invariant on `len`); the guard releases their slots right after, even
        // on unwind, so they are never read or dropped again.
        unsafe { guard.consumer.slots.drop_range(head, k) };
    }

    /// Removes and drops all the chunk's items.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2]);
    /// rx.read_chunk(2).unwrap().commit_all();
    /// assert!(rx.is_empty());
    /// ```
    #[inline]
    pub fn commit_all(self) {
        let len = self.len;
        self.commit(len);
    }
}

/// The items as slices of `T`: [`Indexed`] layout only (its slots are contiguous).
impl<T, S: Storage<Layout = Indexed>> ReadChunk<'_, T, S> {
    /// The chunk's items as two slices, oldest first: the second is non-empty only when
    /// the chunk wraps around the end of the storage.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// let chunk = rx.read_chunk(3).unwrap();
    /// assert_eq!(chunk.as_slices(), (&[1, 2, 3][..], &[][..]));
    /// ```
    #[inline]
    pub fn as_slices(&self) -> (&[T], &[T]) {
        // SAFETY: the chunk's items are initialised and the consumer's (field invariant
        // on `len`); `&self` keeps the consumer borrowed, so none is moved out meanwhile.
        unsafe { self.consumer.slots.slices(self.consumer.head, self.len) }
    }

    /// The chunk's items as two mutable slices, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2]);
    /// let mut chunk = rx.read_chunk(2).unwrap();
    /// chunk.as_mut_slices().0[0] = 10;
    /// drop(chunk); // not committed: the items stay
    /// assert_eq!(rx.pop(), Some(10));
    /// ```
    #[inline]
    pub fn as_mut_slices(&mut self) -> (&mut [T], &mut [T]) {
        let head = self.consumer.head;
        // SAFETY: initialised and the consumer's (field invariant on `len`); `&mut self`
        // borrows the consumer exclusively for the slices' life.
        unsafe { self.consumer.slots.init_slices_mut(head, self.len) }
    }
}

impl<'a, T, S: Storage> IntoIterator for ReadChunk<'a, T, S> {
    type Item = T;
    type IntoIter = Drain<'a, T, S>;

    /// Turns the chunk into an iterator that moves its items out, oldest first;
    /// the items it yielded are removed from the ring, the rest stay.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// let mut items = rx.read_chunk(3).unwrap().into_iter();
    /// assert_eq!(items.next(), Some(1));
    /// drop(items);
    /// assert_eq!(rx.pop(), Some(2));
    /// ```
    #[inline]
    fn into_iter(self) -> Drain<'a, T, S> {
        Drain::new(self.consumer, self.len)
    }
}

impl<T, S: Storage> fmt::Debug for ReadChunk<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadChunk").field("len", &self.len).finish()
    }
}

/// An iterator that moves items out of an SPSC ring, from [`Consumer::drain`] or
/// [`ReadChunk::into_iter`].
///
/// It yields at most the items that were available when it was made, and releases
/// the slots of the items it yielded with one index store when dropped. Items it did
/// not yield stay in the ring. Forgetting it is safe: the items it yielded are never
/// yielded or dropped again, and their slots are released when the consumer next looks
/// for items beyond those it knows of (any `pop` on an empty ring does), or is dropped.
pub struct Drain<'a, T, S: Storage = Heap<T>> {
    consumer: &'a mut Consumer<T, S>,
    /// `consumer.head` when the iterator was made, to skip a needless store.
    start: usize,
    /// The position after the last item the iterator may yield; `head .. end` are
    /// initialised and the consumer's.
    end: usize,
}

impl<'a, T, S: Storage> Drain<'a, T, S> {
    /// Iterates over the `len` items from `consumer.head`, which the caller has checked
    /// are available.
    #[inline(always)]
    pub(super) fn new(consumer: &'a mut Consumer<T, S>, len: usize) -> Self {
        debug_assert!(consumer.known() >= len);
        // Its items move out before their slots are released: until then (or for
        // good, if it is forgotten) the header's `head` lags the consumer's.
        consumer.unreleased = true;
        let start = consumer.head;
        let end = advance::<S, T>(&consumer.slots, start, len);
        Drain {
            consumer,
            start,
            end,
        }
    }
}

impl<T, S: Storage> Iterator for Drain<'_, T, S> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        let head = self.consumer.head;
        if head == self.end {
            return None;
        }
        // SAFETY: `head` is in `head .. end`, initialised and the consumer's (field
        // invariant on `end`). Advancing the consumer's own counter right away means
        // the slot is never read again, even if this iterator is forgotten.
        let value = unsafe { self.consumer.slots.read(head) };
        self.consumer.head = advance::<S, T>(&self.consumer.slots, head, 1);
        Some(value)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = distance::<S, T>(&self.consumer.slots, self.consumer.head, self.end);
        (n, Some(n))
    }
}

impl<T, S: Storage> ExactSizeIterator for Drain<'_, T, S> {}

impl<T, S: Storage> FusedIterator for Drain<'_, T, S> {}

impl<T, S: Storage> Drop for Drain<'_, T, S> {
    fn drop(&mut self) {
        let head = self.consumer.head;
        if head != self.start {
            // Stores the consumer's whole counter: nothing is left unreleased.
            self.consumer.release(head);
            self.consumer.unreleased = false;
        }
    }
}

impl<T, S: Storage> fmt::Debug for Drain<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("remaining", &self.len())
            .finish()
    }
}
