//! `std::io::Write` for `Producer<u8, S>` and `std::io::Read` for `Consumer<u8, S>`:
//! a byte stream across threads arrives whole and in order (heap and static rings),
//! `WouldBlock` on a full or empty ring, `BrokenPipe` once the consumer is gone, end of
//! stream (`Ok(0)`) only after the last byte once the producer is gone, and empty
//! buffers. Nothing here times anything; sizes shrink under Miri.

#![cfg(feature = "std")]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::thread;

use common::{join_within_watchdog, Rng};
use ringway::spsc::{channel, StaticRing};

/// `len` pseudo-random bytes.
fn stream(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Writes `data` through `tx` in writes of random sizes (retrying on `WouldBlock`) on
/// one thread, reads it back through `rx` in reads of random sizes on another until
/// the end of the stream, and checks that every byte arrived once, in order.
fn round_trip(tx: impl Write + Send, rx: impl Read + Send, data: &[u8]) {
    thread::scope(|s| {
        let writer = s.spawn(move || {
            let mut tx = tx;
            let mut rng = Rng::new(7);
            let mut rest = data;
            while !rest.is_empty() {
                let want = rng.range(1, 64).min(rest.len());
                match tx.write(&rest[..want]) {
                    Ok(n) => {
                        assert!((1..=want).contains(&n), "wrote {n} of {want}");
                        rest = &rest[n..];
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => thread::yield_now(),
                    Err(e) => panic!("write failed: {e}"),
                }
            }
            tx.flush().unwrap();
            // `tx` drops here: the reader then sees the end of the stream.
        });
        let mut rx = rx;
        let mut rng = Rng::new(11);
        let mut got = Vec::with_capacity(data.len());
        let mut buf = [0u8; 80];
        loop {
            let want = rng.range(1, buf.len());
            match rx.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => thread::yield_now(),
                Err(e) => panic!("read failed: {e}"),
            }
        }
        // The reader stops only at the end of the stream, after the writer's drop.
        writer.join().unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data, "the stream arrived changed or out of order");
    });
}

#[test]
fn byte_stream_across_threads_heap_and_static() {
    let len = if cfg!(miri) { 400 } else { 200_000 };
    let data = stream(len, 1);
    for capacity in [1, 7, 64, 1000] {
        let (tx, rx) = channel::<u8>(capacity);
        round_trip(tx, rx, &data);
    }
    let mut ring = StaticRing::<u8, 32>::new();
    let (tx, rx) = ring.split();
    round_trip(tx, rx, &data);
}

#[test]
fn full_and_empty_rings_would_block() {
    let (mut tx, mut rx) = channel::<u8>(3);
    let mut buf = [0u8; 4];
    assert_eq!(rx.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(tx.write(b"abcd").unwrap(), 3);
    assert_eq!(tx.write(b"d").unwrap_err().kind(), ErrorKind::WouldBlock);
    // Empty buffers succeed with 0 whatever the ring holds.
    assert_eq!(tx.write(b"").unwrap(), 0);
    assert_eq!(rx.read(&mut []).unwrap(), 0);
    assert_eq!(rx.read(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"abc");
    // Nothing was lost or invented by the failed calls.
    assert_eq!(rx.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(tx.is_empty());
}

#[test]
fn writes_fail_with_broken_pipe_once_the_consumer_is_gone() {
    let (mut tx, rx) = channel::<u8>(8);
    assert_eq!(tx.write(b"ab").unwrap(), 2);
    drop(rx);
    let err = tx.write(b"c").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    assert_eq!(tx.len(), 2, "a failed write wrote nothing");
    assert_eq!(tx.write(b"").unwrap(), 0);
    tx.flush().unwrap();
}

#[test]
fn reads_end_only_after_the_last_byte_once_the_producer_is_gone() {
    let (mut tx, mut rx) = channel::<u8>(8);
    tx.write_all(b"tail").unwrap();
    drop(tx);
    let mut buf = [0u8; 3];
    assert_eq!(rx.read(&mut buf).unwrap(), 3);
    assert_eq!(&buf, b"tai");
    assert_eq!(rx.read(&mut buf).unwrap(), 1);
    assert_eq!(buf[0], b'l');
    assert_eq!(rx.read(&mut buf).unwrap(), 0);
    assert_eq!(rx.read(&mut buf).unwrap(), 0);

    // `read_to_end` reads everything up to the end, across the wrap.
    let (mut tx, mut rx) = channel::<u8>(5);
    tx.write_all(b"xyz").unwrap();
    let mut first = [0u8; 3];
    rx.read_exact(&mut first).unwrap();
    tx.write_all(b"12345").unwrap();
    drop(tx);
    let mut rest = Vec::new();
    assert_eq!(rx.read_to_end(&mut rest).unwrap(), 5);
    assert_eq!(rest, b"12345");
}

#[test]
fn the_end_of_a_stream_is_seen_across_threads() {
    // The producer writes and is dropped on another thread; the reader must see every
    // byte before `Ok(0)` (the flag is checked, then the ring once more).
    let rounds = if cfg!(miri) { 5 } else { 200 };
    for round in 0..rounds {
        let (mut tx, mut rx) = channel::<u8>(4);
        let writer = thread::spawn(move || {
            let _ = tx.write(&[round as u8; 3]).unwrap();
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 4];
        loop {
            match rx.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => thread::yield_now(),
                Err(e) => panic!("read failed: {e}"),
            }
        }
        join_within_watchdog(writer, "writer");
        assert_eq!(got, [round as u8; 3], "round {round}");
    }
}
