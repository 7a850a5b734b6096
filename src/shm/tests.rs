//! Unit tests of the region's layout and checks, over a heap region (they run under
//! Miri, where nothing can be mapped).

use core::sync::atomic::AtomicUsize;

use super::*;

/// The size of one counter of the SPSC header with its padding: `tail` starts this far
/// after `head`.
const PADDED: usize = size_of::<CachePadded<AtomicUsize>>();

/// A word of `ring`'s header (`offset` from the header's start), as another process
/// would store into it.
fn header_word<T>(ring: &Ring<T>, offset: usize) -> &AtomicUsize {
    let at = ring.geometry.header_offset + offset;
    assert!(
        at % align_of::<AtomicUsize>() == 0
            && at + size_of::<AtomicUsize>() <= ring.geometry.slots_offset,
        "a header word at {at}"
    );
    // SAFETY: the word lies in the header, inside the region (asserted above), aligned
    // (the region starts on a line, the offset is a multiple of the word's alignment),
    // and lives as long as `ring`; the header is atomic words only, which the halves
    // and this test access atomically alone.
    unsafe { &*ring.region.base.as_ptr().add(at).cast::<AtomicUsize>() }
}

/// The `tail` counter's word.
fn tail_word<T>(ring: &Ring<T>) -> &AtomicUsize {
    header_word(ring, PADDED)
}

#[test]
fn a_heap_ring_round_trips() {
    let ring = Ring::<u64>::on_heap(3);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    assert_eq!(tx.push_slice(&[1, 2, 3, 4]), 3);
    assert_eq!(rx.pop(), Some(1));
    assert_eq!(ring.reopen::<u64>().unwrap().capacity(), 3);
    assert!(matches!(ring.reopen::<u32>(), Err(Error::WrongType { .. })));
}

/// The consumer's `peek` must not show an item its `pop` refuses: a `tail` more than
/// the capacity ahead of `head` is "never believed (the consumer no new items)", as
/// the module docs say.
#[test]
fn peek_does_not_believe_a_tail_pop_refuses() {
    let cap = 3;
    for beyond in [cap + 1, cap + 2, 1 << 40, usize::MAX] {
        let ring = Ring::<u64>::on_heap(cap);
        let (_tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        tail_word(&ring).store(beyond, Ordering::Relaxed); // head is 0
        assert_eq!(rx.len(), 0, "tail {beyond:#x}");
        assert_eq!(rx.peek(), None, "tail {beyond:#x}: peek showed an item");
        assert_eq!(rx.pop(), None, "tail {beyond:#x}");
    }
}
