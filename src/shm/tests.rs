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

#[test]
fn type_names_lose_their_paths() {
    for (full, short) in [
        ("u64", "u64"),
        ("[u64; 2]", "[u64; 2]"),
        ("shm_producer::shm_common::Stamp", "Stamp"),
        ("a::Pair<b::c::Tick, u8>", "Pair<Tick, u8>"),
        ("(a::X, [b::Y; 4])", "(X, [Y; 4])"),
    ] {
        assert_eq!(short_type_name(full), short, "{full}");
    }
}
