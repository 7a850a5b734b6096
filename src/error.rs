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
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushError<T> {
    /// The queue held `capacity` items; the value is handed back.
    Full(T),
}

impl<T> PushError<T> {
    /// Returns the value that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = ringway::PushError::Full(7);
    /// assert_eq!(err.into_inner(), 7);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(value) => value,
        }
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("Full(..)"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("push to a full queue"),
        }
    }
}

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
