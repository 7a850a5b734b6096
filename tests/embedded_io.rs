//! The `embedded-io` traits (feature `embedded-io`) on a byte ring's halves: a stream
//! written with `write_all` and read with `read`/`read_exact` across threads arrives
//! whole and in order (heap and static rings, spinning and parking strategies); a
//! blocked `write` fails with `BrokenPipe` when the consumer goes, a blocked `read`
//! returns the end of the stream when the producer goes; readiness; empty buffers.
//! Nothing here times anything; sizes shrink under Miri.

#![cfg(all(feature = "embedded-io", feature = "std"))]

mod common;

use std::thread;

use common::{join_within_watchdog, Rng};
use embedded_io::{ErrorKind, Read, ReadReady, Write, WriteReady};
use ringway::spsc::{channel, channel_with_wait_strategy, StaticRing};
use ringway::WaitStrategy;

/// Writes `data` with `write_all` on one thread and reads it back with reads of random
/// sizes until the end of the stream on this one.
fn round_trip(tx: impl Write + Send, mut rx: impl Read, data: &[u8]) {
    thread::scope(|s| {
        let writer = s.spawn(move || {
            let mut tx = tx;
            let mut rng = Rng::new(5);
            let mut rest = data;
            while !rest.is_empty() {
                let n = rng.range(1, 100).min(rest.len());
                tx.write_all(&rest[..n]).unwrap();
                rest = &rest[n..];
            }
            tx.flush().unwrap();
        });
        let mut rng = Rng::new(9);
        let mut got = Vec::with_capacity(data.len());
        let mut buf = [0u8; 64];
        loop {
            let want = rng.range(1, buf.len());
            match rx.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("read failed: {e:?}"),
            }
        }
        writer.join().unwrap();
        assert!(got == data, "the stream arrived changed or out of order");
    });
}

#[test]
fn blocking_byte_stream_across_threads() {
    let len = if cfg!(miri) { 300 } else { 100_000 };
    let mut rng = Rng::new(3);
    let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    for strategy in [WaitStrategy::SPIN_YIELD, WaitStrategy::SPIN_PARK] {
        for capacity in [1, 5, 256] {
            let (tx, rx) = channel_with_wait_strategy::<u8>(capacity, strategy);
            round_trip(tx, rx, &data);
        }
    }
    let mut ring = StaticRing::<u8, 16>::with_wait_strategy(WaitStrategy::SPIN_PARK);
    let (tx, rx) = ring.split();
    round_trip(tx, rx, &data);
}

#[test]
fn a_blocked_write_fails_when_the_consumer_goes() {
    for strategy in [WaitStrategy::SPIN_YIELD, WaitStrategy::SPIN_PARK] {
        let (mut tx, mut rx) = channel_with_wait_strategy::<u8>(2, strategy);
        assert_eq!(tx.write(b"ab"), Ok(2));
        let writer = thread::spawn(move || (tx.write(b"c"), tx));
        let mut first = [0u8; 1];
        rx.read_exact(&mut first).unwrap(); // frees a slot: the writer goes on
        assert_eq!(first, *b"a");
        let (written, mut tx) = join_within_watchdog(writer, "writer with room");
        assert_eq!(written, Ok(1));
        // Full again: the next write waits until the consumer is dropped.
        let writer = thread::spawn(move || tx.write(b"d"));
        drop(rx);
        let result = join_within_watchdog(writer, "writer blocked on a full ring");
        assert_eq!(result, Err(ErrorKind::BrokenPipe), "{strategy:?}");
    }
}

#[test]
fn a_blocked_read_ends_when_the_producer_goes() {
    for strategy in [WaitStrategy::SPIN_YIELD, WaitStrategy::SPIN_PARK] {
        let (mut tx, mut rx) = channel_with_wait_strategy::<u8>(4, strategy);
        let reader = thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 3];
            loop {
                match rx.read(&mut buf).unwrap() {
                    0 => return all,
                    n => all.extend_from_slice(&buf[..n]),
                }
            }
        });
        tx.write_all(b"last words").unwrap();
        drop(tx);
        let all = join_within_watchdog(reader, "reader blocked on an empty ring");
        assert_eq!(all, b"last words", "{strategy:?}");
    }
}

#[test]
fn readiness_and_empty_buffers() {
    let (mut tx, mut rx) = channel::<u8>(2);
    assert_eq!((tx.write_ready(), rx.read_ready()), (Ok(true), Ok(false)));
    // Empty buffers never wait, even on a full or empty ring.
    assert_eq!(rx.read(&mut []), Ok(0));
    assert_eq!(tx.write(b"xy"), Ok(2));
    assert_eq!((tx.write_ready(), rx.read_ready()), (Ok(false), Ok(true)));
    assert_eq!(tx.write(b""), Ok(0));
    let mut buf = [0u8; 8];
    assert_eq!(rx.read(&mut buf), Ok(2));
    assert_eq!(&buf[..2], b"xy");
    tx.flush().unwrap();
    // The end of the stream is ready (read returns at once).
    drop(tx);
    assert_eq!(rx.read_ready(), Ok(true));
    assert_eq!(rx.read(&mut buf), Ok(0));
    // A gone consumer makes the producer ready (write fails at once).
    let (mut tx, rx) = channel::<u8>(1);
    tx.write_all(b"z").unwrap();
    assert_eq!(tx.write_ready(), Ok(false));
    drop(rx);
    assert_eq!(tx.write_ready(), Ok(true));
    assert_eq!(tx.write(b"!"), Err(ErrorKind::BrokenPipe));
}
