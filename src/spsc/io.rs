//! Byte streams: [`std::io::Write`] for a [`Producer<u8, S>`](Producer) and
//! [`std::io::Read`] for a [`Consumer<u8, S>`](Consumer) (feature `std`), as rtrb and
//! ringbuf have, for a byte ring between a thread that produces a stream (audio, a
//! serial line, a log) and one that consumes it. Both are the slice operations
//! underneath: one index store per call, never a wait.

use std::io;

use super::{Consumer, Producer, Storage};

/// Writes copy as many bytes as fit ([`Producer::push_slice`]) and never wait.
///
/// * `write` returns the number of bytes copied, at least 1 when `buf` is not empty;
///   an [`io::ErrorKind::WouldBlock`] error when the ring is full (nothing written),
///   and an [`io::ErrorKind::BrokenPipe`] error once the [`Consumer`] has been dropped
///   (nothing written: nobody would read it). An empty `buf` returns `Ok(0)`.
/// * `flush` does nothing: every write is published when it returns.
///
/// Helpers that treat `WouldBlock` as a failure (`write_all`, `io::copy`) fail on a
/// full ring; retry `write` instead, or wait with
/// [`push_blocking`](Producer::push_blocking) first.
///
/// # Examples
///
/// ```
/// use std::io::{ErrorKind, Write};
///
/// let (mut tx, rx) = ringway::spsc::channel::<u8>(4);
/// assert_eq!(tx.write(b"hello").unwrap(), 4); // what fits
/// assert_eq!(tx.write(b"o").unwrap_err().kind(), ErrorKind::WouldBlock);
/// drop(rx);
/// assert_eq!(tx.write(b"o").unwrap_err().kind(), ErrorKind::BrokenPipe);
/// ```
impl<S: Storage> io::Write for Producer<u8, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.is_abandoned() {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        match self.push_slice(buf) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads move out as many bytes as are there and fit ([`Consumer::pop_slice`]) and
/// never wait.
///
/// `read` returns the number of bytes copied, at least 1 when `buf` is not empty and
/// the ring is not; `Ok(0)` (end of stream) once the [`Producer`] has been dropped
/// and every byte it wrote has been read; an [`io::ErrorKind::WouldBlock`] error when
/// the ring is empty but the producer is still there. An empty `buf` returns `Ok(0)`.
///
/// `read_to_end` and `io::copy` fail on an empty ring whose producer is still
/// writing; retry `read` instead, or wait with
/// [`pop_blocking`](Consumer::pop_blocking) first.
///
/// # Examples
///
/// ```
/// use std::io::{ErrorKind, Read, Write};
///
/// let (mut tx, mut rx) = ringway::spsc::channel::<u8>(16);
/// let mut buf = [0; 8];
/// assert_eq!(rx.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
/// tx.write_all(b"bytes").unwrap();
/// drop(tx);
/// let mut all = String::new();
/// rx.read_to_string(&mut all).unwrap(); // the producer is gone: reads to the end
/// assert_eq!(all, "bytes");
/// assert_eq!(rx.read(&mut buf).unwrap(), 0);
/// ```
impl<S: Storage> io::Read for Consumer<u8, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.pop_slice(buf) {
            // The producer published every byte before it set the flag, and seeing
            // the flag makes them visible: one more look is final (0 is the end).
            0 if self.is_abandoned() => Ok(self.pop_slice(buf)),
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}
