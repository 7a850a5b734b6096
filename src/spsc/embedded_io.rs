//! The `embedded-io` traits for a byte ring's halves (feature `embedded-io`), for
//! `no_std` code that moves a byte stream between an interrupt handler or a task and
//! the rest of the firmware (a UART, a USB serial port, a log sink).
//!
//! The traits are blocking: `read` waits for at least one byte and `write` for room
//! for at least one. With the `std` feature they wait as the ring's
//! [`WaitStrategy`](crate::WaitStrategy) says (spinning, yielding or parking, like
//! [`Consumer::pop_blocking`]); without it they spin. Call
//! [`read_ready`](embedded_io::ReadReady::read_ready) /
//! [`write_ready`](embedded_io::WriteReady::write_ready) first to never wait, or use
//! the ring's own slice operations.

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};

use super::{Consumer, Producer, Storage};
use crate::wait::{self, Awaited, Waiters};

/// The waiters of the ring a producer writes to.
fn producer_waiters<S: Storage>(tx: &Producer<u8, S>) -> &Waiters {
    tx.waiters()
}

/// The waiters of the ring a consumer reads from.
fn consumer_waiters<S: Storage>(rx: &Consumer<u8, S>) -> &Waiters {
    rx.waiters()
}

/// Errors are [`ErrorKind`]s: [`ErrorKind::BrokenPipe`] once the [`Consumer`] is gone.
impl<S: Storage> ErrorType for Producer<u8, S> {
    type Error = ErrorKind;
}

/// Writes copy as many bytes as fit ([`Producer::push_slice`]), waiting for room for
/// at least one; an empty `buf` returns `Ok(0)` at once. `flush` does nothing: every
/// write is published when it returns.
///
/// # Errors
///
/// [`ErrorKind::BrokenPipe`] once the [`Consumer`] has been dropped (nothing is
/// written: nobody would read it), also while waiting.
///
/// # Examples
///
/// ```
/// use embedded_io::{ErrorKind, Read, Write};
///
/// let mut ring = ringway::spsc::StaticRing::<u8, 8>::new();
/// let (mut tx, mut rx) = ring.split();
/// assert_eq!(tx.write(b"hello world").unwrap(), 8); // what fits
/// let mut buf = [0; 5];
/// rx.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hello");
/// drop(rx);
/// assert_eq!(tx.write(b"!"), Err(ErrorKind::BrokenPipe));
/// ```
impl<S: Storage> Write for Producer<u8, S> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        if buf.is_empty() {
            return Ok(0);
        }
        wait::until(self, producer_waiters, Awaited::Slot, |tx| {
            if tx.is_abandoned() {
                return Some(Err(ErrorKind::BrokenPipe));
            }
            match tx.push_slice(buf) {
                0 => None,
                n => Some(Ok(n)),
            }
        })
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// Ready when a slot is free, or when the consumer is gone (the next `write` then
/// fails at once).
///
/// # Examples
///
/// ```
/// use embedded_io::{Write, WriteReady};
///
/// let (mut tx, _rx) = ringway::spsc::channel::<u8>(1);
/// assert!(tx.write_ready().unwrap());
/// tx.write(b"x").unwrap();
/// assert!(!tx.write_ready().unwrap()); // full: `write` would wait
/// ```
impl<S: Storage> WriteReady for Producer<u8, S> {
    fn write_ready(&mut self) -> Result<bool, ErrorKind> {
        Ok(self.free_slots() > 0 || self.is_abandoned())
    }
}

/// Reading never fails: the end of the stream is `Ok(0)`.
impl<S: Storage> ErrorType for Consumer<u8, S> {
    type Error = core::convert::Infallible;
}

/// Reads move out as many bytes as are there and fit ([`Consumer::pop_slice`]),
/// waiting for at least one; `Ok(0)` (the end of the stream) once the [`Producer`] has
/// been dropped and every byte it wrote has been read. An empty `buf` returns `Ok(0)`
/// at once.
///
/// # Examples
///
/// ```
/// use embedded_io::{Read, Write};
///
/// let (mut tx, mut rx) = ringway::spsc::channel::<u8>(16);
/// let writer = std::thread::spawn(move || tx.write_all(b"from another thread"));
/// let mut got = Vec::new();
/// let mut buf = [0; 4];
/// loop {
///     match rx.read(&mut buf).unwrap() {
///         0 => break, // the writer is done and gone
///         n => got.extend_from_slice(&buf[..n]),
///     }
/// }
/// writer.join().unwrap().unwrap();
/// assert_eq!(got, b"from another thread");
/// ```
impl<S: Storage> Read for Consumer<u8, S> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, core::convert::Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        Ok(wait::until(
            self,
            consumer_waiters,
            Awaited::Item,
            |rx| match rx.pop_slice(buf) {
                // The producer published every byte before it set the flag, and seeing the
                // flag makes them visible: one more look is final (0 is the end).
                0 if rx.is_abandoned() => Some(rx.pop_slice(buf)),
                0 => None,
                n => Some(n),
            },
        ))
    }
}

/// Ready when a byte is there, or at the end of the stream (the producer is gone).
///
/// # Examples
///
/// ```
/// use embedded_io::ReadReady;
///
/// let (mut tx, mut rx) = ringway::spsc::channel::<u8>(4);
/// assert!(!rx.read_ready().unwrap()); // `read` would wait
/// tx.push(1).unwrap();
/// assert!(rx.read_ready().unwrap());
/// ```
impl<S: Storage> ReadReady for Consumer<u8, S> {
    fn read_ready(&mut self) -> Result<bool, core::convert::Infallible> {
        Ok(!self.is_empty() || self.is_abandoned())
    }
}
