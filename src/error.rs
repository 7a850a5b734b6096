//! Error types shared by the queues. Each error that refuses a value gives it back.

use core::fmt;

/// The error of a `push` that could not enqueue its value; it carries the value back.
///
/// Its `Debug` output does not need `T: Debug`, so `unwrap()` works for any `T`.
///
/// # Examples
///
/// ```
/// use ringway::PushError;
///
/// let (mut tx, _rx) = ringway::spsc::channel::<String>(1);
/// tx.push("first".to_owned()).unwrap();
/// let err = tx.push("second".to_owned()).unwrap_err();
/// assert!(matches!(err, PushError::Full(_)));
/// assert_eq!(err.into_inner(), "second");
///
/// let q = ringway::mpmc::Queue::new(1);
/// q.close();
/// assert_eq!(q.push(3), Err(PushError::Disconnected(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushError<T> {
    /// The queue held `capacity` items; the value is handed back.
    Full(T),
    /// The queue was closed ([`mpmc::Queue::close`](crate::mpmc::Queue::close)), so the
    /// value could never be popped; it is handed back. The same event as a waiting
    /// push's [`Disconnected`]. An SPSC [`Producer::push`](crate::spsc::Producer::push)
    /// never returns it: it reports a dropped consumer only from its waiting
    /// operations (and [`is_abandoned`](crate::spsc::Producer::is_abandoned)).
    Disconnected(T),
}

impl<T> PushError<T> {
    /// Returns the value that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = ringway::PushError::Full(7);
    /// assert_eq!(err.into_inner(), 7);
    /// assert_eq!(ringway::PushError::Disconnected(8).into_inner(), 8);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(value) | PushError::Disconnected(value) => value,
        }
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("Full(..)"),
            PushError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("push to a full queue"),
            PushError::Disconnected(_) => f.write_str(DISCONNECTED_PUSH),
        }
    }
}

/// What every push error that means "nothing will ever pop this value" says: one
/// message for an SPSC ring whose consumer was dropped and a closed MPMC queue.
const DISCONNECTED_PUSH: &str =
    "the queue is disconnected (its consumer was dropped, or it was closed)";

#[cfg(feature = "std")]
impl<T> std::error::Error for PushError<T> {}

/// The error of a request for a chunk of `n` slots when fewer are available.
///
/// # Examples
///
/// ```
/// use ringway::ChunkError;
///
/// let (mut tx, _rx) = ringway::spsc::channel::<u8>(4);
/// assert_eq!(tx.write_chunk_uninit(5).unwrap_err(), ChunkError::TooFewSlots(4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkError {
    /// Fewer slots (or items) than requested were available; this many were.
    TooFewSlots(usize),
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkError::TooFewSlots(n) => {
                write!(
                    f,
                    "too few slots or items available for the chunk ({n} available)"
                )
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ChunkError {}

/// The error of a waiting operation on a queue that is disconnected: an SPSC ring
/// whose other half was dropped, or an MPMC queue that was
/// [closed](crate::mpmc::Queue::close). A push gives its value back
/// (`Disconnected<T>`); a pop that found the queue empty and disconnected carries
/// nothing (`Disconnected<()>`, the default).
///
/// Its `Debug` output does not need `T: Debug`. The type exists without `std` (an
/// MPMC queue's [`close`](crate::mpmc::Queue::close) does); only its
/// `std::error::Error` impl needs `std`.
///
/// # Examples
///
/// ```
/// use ringway::Disconnected;
///
/// // Without `std` too: a closed MPMC queue's `force_push`.
/// static Q: ringway::mpmc::StaticQueue<u8, 1> = ringway::mpmc::StaticQueue::new();
/// Q.close();
/// assert_eq!(Q.force_push(7), Err(Disconnected(7)));
///
/// # #[cfg(feature = "std")] {
/// // The waiting operations (`std`).
/// let (mut tx, rx) = ringway::spsc::channel::<String>(1);
/// drop(rx);
/// let err = tx.push_blocking("lost?".to_owned()).unwrap_err();
/// assert_eq!(err.into_inner(), "lost?"); // no: handed back
///
/// let (tx, mut rx) = ringway::spsc::channel::<u8>(1);
/// drop(tx);
/// assert_eq!(rx.pop_blocking(), Err(Disconnected(())));
///
/// let q = ringway::mpmc::Queue::<u8>::new(1);
/// q.close();
/// assert_eq!(q.pop_blocking(), Err(Disconnected(())));
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Disconnected<T = ()>(pub T);

impl<T> Disconnected<T> {
    /// Returns the value that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringway::Disconnected(3).into_inner(), 3);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Disconnected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Disconnected(..)")
    }
}

impl<T> fmt::Display for Disconnected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is disconnected (its other half was dropped, or it was closed)")
    }
}

#[cfg(feature = "std")]
impl<T> std::error::Error for Disconnected<T> {}

/// The error of a push that waited with a time limit; it carries the value back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringway::PushTimeoutError;
///
/// let (mut tx, _rx) = ringway::spsc::channel(1);
/// tx.push(1).unwrap();
/// let err = tx.push_timeout(2, Duration::from_millis(1)).unwrap_err();
/// assert!(matches!(err, PushTimeoutError::Timeout(_)));
/// assert_eq!(err.into_inner(), 2);
/// ```
#[cfg(feature = "std")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushTimeoutError<T> {
    /// The queue was still full when the time ran out.
    Timeout(T),
    /// The queue is disconnected (an SPSC consumer was dropped, or an MPMC queue was
    /// [closed](crate::mpmc::Queue::close)): the value could never be popped.
    Disconnected(T),
}

#[cfg(feature = "std")]
impl<T> PushTimeoutError<T> {
    /// Returns the value that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = ringway::PushTimeoutError::Timeout(7);
    /// assert_eq!(err.into_inner(), 7);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        match self {
            PushTimeoutError::Timeout(value) | PushTimeoutError::Disconnected(value) => value,
        }
    }
}

#[cfg(feature = "std")]
impl<T> fmt::Debug for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            PushTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

#[cfg(feature = "std")]
impl<T> fmt::Display for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushTimeoutError::Timeout(_) => f.write_str("timed out waiting for room in the queue"),
            PushTimeoutError::Disconnected(_) => f.write_str(DISCONNECTED_PUSH),
        }
    }
}

#[cfg(feature = "std")]
impl<T> std::error::Error for PushTimeoutError<T> {}

/// The error of a pop that waited with a time limit.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringway::PopTimeoutError;
///
/// let (_tx, mut rx) = ringway::spsc::channel::<u8>(1);
/// assert_eq!(rx.pop_timeout(Duration::from_millis(1)), Err(PopTimeoutError::Timeout));
/// ```
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PopTimeoutError {
    /// The queue was still empty when the time ran out.
    Timeout,
    /// The queue is disconnected (an SPSC producer was dropped, or an MPMC queue was
    /// [closed](crate::mpmc::Queue::close)) and every item pushed before has been
    /// popped.
    Disconnected,
}

#[cfg(feature = "std")]
impl fmt::Display for PopTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopTimeoutError::Timeout => f.write_str("timed out waiting for an item"),
            PopTimeoutError::Disconnected => f.write_str(
                "the queue is empty and disconnected (its producer was dropped, or it was closed)",
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PopTimeoutError {}
