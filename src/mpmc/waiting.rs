//! Waiting operations of the MPMC queue: blocking, with a time limit (`std`), and
//! async (`async`, with or without `std`; the protocol is in `crate::wait`). They wait for room or items until the queue is
//! [closed](Queue::close), which wakes them all and ends the wait with SPSC's
//! disconnection errors.

#[cfg(feature = "async")]
use core::{
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    task::{Context, Poll},
};
#[cfg(feature = "std")]
use std::time::{Duration, Instant};

#[cfg(feature = "async")]
use super::Heap;
use super::{Queue, Storage};
#[cfg(feature = "async")]
use crate::wait::Registration;
use crate::wait::{self, Awaited, Waiters};
use crate::{Disconnected, PushError, WaitStrategy};
#[cfg(feature = "std")]
use crate::{PopTimeoutError, PushTimeoutError};

fn waiters_of<'a, T, S: Storage<T>>(q: &'a &Queue<T, S>) -> &'a Waiters {
    &q.waiters
}

/// One attempt of a waiting push: `Some(Ok)` if pushed, `Some(Err(value))` if the
/// queue is closed, `None` (value back in `value`) if it is full.
fn attempt_push<T, S: Storage<T>>(q: &Queue<T, S>, value: &mut Option<T>) -> Option<Result<(), T>> {
    let v = value
        .take()
        .expect("ringway: push future polled after completion");
    match q.push(v) {
        Ok(()) => Some(Ok(())),
        Err(PushError::Disconnected(v)) => Some(Err(v)),
        Err(PushError::Full(v)) => {
            *value = Some(v);
            None
        }
    }
}

/// One attempt of a waiting pop: `Some(Ok(item))`, `Some(Err(Disconnected(())))` once
/// the queue is closed and drained, or `None` (empty, open).
fn attempt_pop<T, S: Storage<T>>(q: &Queue<T, S>) -> Option<Result<T, Disconnected>> {
    if let Some(v) = q.pop() {
        return Some(Ok(v));
    }
    if q.is_closed() {
        // A pop of a closed queue waits for a push that claimed `head`, and seals the
        // slot at `head` if none has, so no push claims it or a later position: one
        // more look is final.
        return Some(q.pop().ok_or(Disconnected(())));
    }
    None
}

impl<T, S: Storage<T>> Queue<T, S> {
    /// Appends `value`, waiting for a free slot as the queue's [`WaitStrategy`] says.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] with `value` if the queue is [closed](Self::close) (checked
    /// at every attempt; `close` wakes a waiting push), so the caller never waits on
    /// a queue nobody will pop for good.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let q = Arc::new(ringway::mpmc::Queue::new(2));
    /// let producers: Vec<_> = (0..3)
    ///     .map(|p| {
    ///         let q = Arc::clone(&q);
    ///         std::thread::spawn(move || {
    ///             (0..100).for_each(|i| q.push_blocking(p * 1000 + i).unwrap())
    ///         })
    ///     })
    ///     .collect();
    /// let mut sum = 0;
    /// for _ in 0..300 {
    ///     sum += q.pop_blocking().unwrap();
    /// }
    /// producers.into_iter().for_each(|t| t.join().unwrap());
    /// assert_eq!(sum, (0..3).map(|p| p * 1000 * 100 + 4950).sum::<i32>());
    /// ```
    #[cfg(feature = "std")]
    pub fn push_blocking(&self, value: T) -> Result<(), Disconnected<T>> {
        let mut value = Some(value);
        let mut q = self;
        wait::until(&mut q, waiters_of, Awaited::Slot, |q| {
            attempt_push(q, &mut value)
        })
        .map_err(Disconnected)
    }

    /// Appends `value`, waiting at most `timeout` for a free slot.
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`] with `value` if the queue was still full when the
    /// time ran out, [`PushTimeoutError::Disconnected`] with `value` if the queue is
    /// [closed](Self::close) (the same errors as an SPSC producer's
    /// [`push_timeout`](crate::spsc::Producer::push_timeout)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringway::PushTimeoutError;
    ///
    /// let q = ringway::mpmc::Queue::new(1);
    /// assert_eq!(q.push_timeout(1, Duration::from_millis(10)), Ok(()));
    /// assert_eq!(q.push_timeout(2, Duration::from_millis(10)), Err(PushTimeoutError::Timeout(2)));
    /// q.close();
    /// assert_eq!(q.push_timeout(3, Duration::from_millis(10)), Err(PushTimeoutError::Disconnected(3)));
    /// ```
    #[cfg(feature = "std")]
    pub fn push_timeout(&self, value: T, timeout: Duration) -> Result<(), PushTimeoutError<T>> {
        let mut value = Some(value);
        let mut q = self;
        match wait::block(&mut q, waiters_of, Awaited::Slot, deadline(timeout), |q| {
            attempt_push(q, &mut value)
        }) {
            Some(result) => result.map_err(PushTimeoutError::Disconnected),
            None => Err(PushTimeoutError::Timeout(
                value.expect("a timed-out push keeps its value"),
            )),
        }
    }

    /// Removes and returns the oldest item, waiting for one as the queue's
    /// [`WaitStrategy`] says.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] once the queue is [closed](Self::close) and every item pushed
    /// before has been popped (`close` wakes a waiting pop), so a consumer of a queue
    /// that nobody will fill again has a way out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ringway::Disconnected;
    ///
    /// let q = Arc::new(ringway::mpmc::Queue::new(4));
    /// let q2 = Arc::clone(&q);
    /// let consumer = std::thread::spawn(move || (q2.pop_blocking(), q2.pop_blocking()));
    /// q.push_blocking("hi").unwrap();
    /// q.close();
    /// assert_eq!(consumer.join().unwrap(), (Ok("hi"), Err(Disconnected(()))));
    /// ```
    #[cfg(feature = "std")]
    pub fn pop_blocking(&self) -> Result<T, Disconnected> {
        let mut q = self;
        wait::until(&mut q, waiters_of, Awaited::Item, |q| attempt_pop(q))
    }

    /// Removes and returns the oldest item, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`PopTimeoutError::Timeout`] if the queue was still empty when the time ran out,
    /// [`PopTimeoutError::Disconnected`] once the queue is [closed](Self::close) and
    /// every item pushed before has been popped (the same errors as an SPSC
    /// consumer's [`pop_timeout`](crate::spsc::Consumer::pop_timeout)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringway::PopTimeoutError;
    ///
    /// let q = ringway::mpmc::Queue::<u8>::new(1);
    /// assert_eq!(q.pop_timeout(Duration::from_millis(10)), Err(PopTimeoutError::Timeout));
    /// q.push(3).unwrap();
    /// q.close();
    /// assert_eq!(q.pop_timeout(Duration::from_millis(10)), Ok(3));
    /// assert_eq!(q.pop_timeout(Duration::from_millis(10)), Err(PopTimeoutError::Disconnected));
    /// ```
    #[cfg(feature = "std")]
    pub fn pop_timeout(&self, timeout: Duration) -> Result<T, PopTimeoutError> {
        let mut q = self;
        match wait::block(&mut q, waiters_of, Awaited::Item, deadline(timeout), |q| {
            attempt_pop(q)
        }) {
            Some(Ok(v)) => Ok(v),
            Some(Err(Disconnected(()))) => Err(PopTimeoutError::Disconnected),
            None => Err(PopTimeoutError::Timeout),
        }
    }

    /// Returns a future that appends `value` once a slot is free, resolving to
    /// `Err(Disconnected(value))` if the queue is [closed](Self::close).
    ///
    /// With [`WaitStrategy::SpinPark`] the future sleeps until a consumer frees a slot
    /// or the queue is closed; with the other strategies it asks to be polled again at
    /// once. The future is cancel-safe: dropping it before it completes pushes nothing
    /// (its value is dropped with it), and no queued item is lost or duplicated. It is
    /// `Send` when `T: Send`.
    ///
    /// # Errors
    ///
    /// The future resolves to [`Disconnected`] with `value` if the queue is closed.
    ///
    /// # Panics
    ///
    /// If polled again after it completed.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl std::task::Wake for Unpark {
    /// #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
    /// #     }
    /// #     let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// use std::sync::Arc;
    ///
    /// let q = Arc::new(ringway::mpmc::Queue::new(1));
    /// let q2 = Arc::clone(&q);
    /// let producer = std::thread::spawn(move || block_on(async {
    ///     for i in 0..10 {
    ///         q2.push_async(i).await.unwrap();
    ///     }
    /// }));
    /// let sum: i32 = block_on(async {
    ///     let mut sum = 0;
    ///     for _ in 0..10 {
    ///         sum += q.pop_async().await.unwrap();
    ///     }
    ///     sum
    /// });
    /// producer.join().unwrap();
    /// assert_eq!(sum, 45);
    /// ```
    #[cfg(feature = "async")]
    pub fn push_async(&self, value: T) -> PushFuture<'_, T, S> {
        PushFuture {
            queue: self,
            value: Some(value),
            registration: Registration::None,
        }
    }

    /// Returns a future that removes the oldest item once there is one, resolving to
    /// `Err(Disconnected(()))` once the queue is [closed](Self::close) and drained.
    ///
    /// With [`WaitStrategy::SpinPark`] the future sleeps until a producer publishes or
    /// the queue is closed; with the other strategies it asks to be polled again at
    /// once. The future is cancel-safe: it takes an item only in the poll that returns
    /// it, so dropping it loses nothing. It is `Send` when `T: Send`.
    ///
    /// # Errors
    ///
    /// The future resolves to [`Disconnected`] once the queue is closed and every item
    /// pushed before has been popped.
    ///
    /// # Panics
    ///
    /// If polled again after it completed (it never pops a second item).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl std::task::Wake for Unpark {
    /// #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
    /// #     }
    /// #     let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// let q = ringway::mpmc::Queue::new(2);
    /// q.push(7).unwrap();
    /// q.close();
    /// assert_eq!(block_on(q.pop_async()), Ok(7));
    /// assert_eq!(block_on(q.pop_async()), Err(ringway::Disconnected(())));
    /// ```
    #[cfg(feature = "async")]
    pub fn pop_async(&self) -> PopFuture<'_, T, S> {
        PopFuture {
            queue: self,
            registration: Registration::None,
            _item: PhantomData,
        }
    }

    /// The [`WaitStrategy`] the queue was built with.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::<u8>::new(1);
    /// assert_eq!(q.wait_strategy(), ringway::WaitStrategy::SPIN_YIELD);
    /// ```
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.waiters.strategy()
    }
}

/// A deadline `timeout` from now; `None` (wait forever) if that overflows `Instant`.
#[cfg(feature = "std")]
fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The future of [`Queue::push_async`].
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
#[cfg(feature = "async")]
#[must_use = "futures do nothing unless polled"]
pub struct PushFuture<'a, T, S: Storage<T> = Heap<T>> {
    queue: &'a Queue<T, S>,
    /// The value to push; `None` once pushed or handed back.
    value: Option<T>,
    /// Its entry among the queue's waiters, withdrawn when it completes or is dropped.
    registration: Registration,
}

// The future never pins `T` (it moves the value in and out of its `Option`), so it is
// `Unpin` whatever `T` is.
#[cfg(feature = "async")]
impl<T, S: Storage<T>> Unpin for PushFuture<'_, T, S> {}

#[cfg(feature = "async")]
impl<T, S: Storage<T>> Future for PushFuture<'_, T, S> {
    type Output = Result<(), Disconnected<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let value = &mut this.value;
        let mut q = this.queue;
        wait::poll(
            &mut q,
            waiters_of,
            Awaited::Slot,
            &mut this.registration,
            cx,
            |q| attempt_push(q, value),
        )
        .map(|result| result.map_err(Disconnected))
    }
}

#[cfg(feature = "async")]
impl<T, S: Storage<T>> Drop for PushFuture<'_, T, S> {
    /// Withdraws the future's waker, so a cancelled future leaves nothing registered.
    fn drop(&mut self) {
        self.queue
            .waiters
            .withdraw(Awaited::Slot, &mut self.registration);
    }
}

#[cfg(feature = "async")]
impl<T, S: Storage<T>> fmt::Debug for PushFuture<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushFuture")
            .field("pending", &self.value.is_some())
            .finish_non_exhaustive()
    }
}

/// The future of [`Queue::pop_async`].
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics (it does not pop a second item).
#[cfg(feature = "async")]
#[must_use = "futures do nothing unless polled"]
pub struct PopFuture<'a, T, S: Storage<T> = Heap<T>> {
    queue: &'a Queue<T, S>,
    /// Its entry among the queue's waiters, withdrawn when it completes or is dropped.
    registration: Registration,
    /// The future yields a `T` (the queue's bound names `T` only through `S`).
    _item: PhantomData<fn() -> T>,
}

#[cfg(feature = "async")]
impl<T, S: Storage<T>> Future for PopFuture<'_, T, S> {
    type Output = Result<T, Disconnected>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut q = this.queue;
        wait::poll(
            &mut q,
            waiters_of,
            Awaited::Item,
            &mut this.registration,
            cx,
            |q| attempt_pop(q),
        )
    }
}

#[cfg(feature = "async")]
impl<T, S: Storage<T>> Drop for PopFuture<'_, T, S> {
    /// Withdraws the future's waker, so a cancelled future leaves nothing registered.
    fn drop(&mut self) {
        self.queue
            .waiters
            .withdraw(Awaited::Item, &mut self.registration);
    }
}

#[cfg(feature = "async")]
impl<T, S: Storage<T>> fmt::Debug for PopFuture<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopFuture").finish_non_exhaustive()
    }
}
