//! Unit tests of the region's layout and checks, over a heap region (they run under
//! Miri, where nothing can be mapped).

use super::*;

#[test]
fn a_heap_ring_round_trips() {
    let ring = Ring::<u64>::on_heap(3);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    assert_eq!(tx.push_slice(&[1, 2, 3, 4]), 3);
    assert_eq!(rx.pop(), Some(1));
    assert_eq!(ring.reopen::<u64>().unwrap().capacity(), 3);
    assert!(matches!(ring.reopen::<u32>(), Err(Error::WrongType { .. })));
}
