//! Waiting operations of the SPSC halves: blocking, with a time limit (`std`), and
//! async (`async`, with or without `std`; the protocol is in `crate::wait`).

#[cfg(feature = "async")]
use core::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};
#[cfg(feature = "std")]
use std::time::{Duration, Instant};

#[cfg(feature = "async")]
use super::Heap;
use super::{Consumer, Producer, Storage};
#[cfg(feature = "async")]
use crate::wait::Registration;
use crate::wait::{self, Awaited, Waiters};
use crate::{Disconnected, WaitStrategy};
#[cfg(feature = "std")]
use crate::{PopTimeoutError, PushTimeoutError};

fn waiters_of_producer<T, S: Storage>(p: &Producer<T, S>) -> &Waiters {
    p.waiters()
}

fn waiters_of_consumer<T, S: Storage>(c: &Consumer<T, S>) -> &Waiters {
    c.waiters()
}

/// A deadline `timeout` from now; `None` (wait forever) if that overflows `Instant`.
#[cfg(feature = "std")]
fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

impl<T, S: Storage> Producer<T, S> {
    /// One attempt of a waiting push: `Some(Ok)` if pushed, `Some(Err(value))` if the
    /// consumer is gone, `None` (value back in `value`) if the ring is full.
    fn attempt_push(&mut self, value: &mut Option<T>) -> Option<Result<(), T>> {
        let v = value
            .take()
            .expect("ringway: push future polled after completion");
        // Checked first: once the consumer is gone a pushed value could never be popped.
        if self.is_abandoned() {
            return Some(Err(v));
        }
        match self.push(v) {
            Ok(()) => Some(Ok(())),
            Err(full) => {
                *value = Some(full.into_inner());
                None
            }
        }
    }
}

impl<T, S: Storage> Producer<T, S> {
    /// Appends `value`, waiting for a free slot as the ring's [`WaitStrategy`] says.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] with `value` if the [`Consumer`] has been dropped (checked before
    /// pushing and while waiting), so the caller never waits on a peer that is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(1);
    /// tx.push_blocking(1).unwrap();
    /// let t = std::thread::spawn(move || {
    ///     tx.push_blocking(2).unwrap(); // waits until the consumer pops 1
    ///     tx
    /// });
    /// assert_eq!(rx.pop_blocking(), Ok(1));
    /// assert_eq!(rx.pop_blocking(), Ok(2));
    /// t.join().unwrap();
    /// ```
    #[cfg(feature = "std")]
    pub fn push_blocking(&mut self, value: T) -> Result<(), Disconnected<T>> {
        let mut value = Some(value);
        wait::until(self, waiters_of_producer, Awaited::Slot, |p| {
            p.attempt_push(&mut value)
        })
        .map_err(Disconnected)
    }

    /// Appends `value`, waiting at most `timeout` for a free slot.
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`] with `value` if the ring was still full when the
    /// time ran out, [`PushTimeoutError::Disconnected`] with `value` if the
    /// [`Consumer`] has been dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringway::PushTimeoutError;
    ///
    /// let (mut tx, rx) = ringway::spsc::channel(1);
    /// assert_eq!(tx.push_timeout(1, Duration::from_millis(10)), Ok(()));
    /// assert_eq!(tx.push_timeout(2, Duration::from_millis(10)), Err(PushTimeoutError::Timeout(2)));
    /// drop(rx);
    /// assert_eq!(tx.push_timeout(3, Duration::from_millis(10)), Err(PushTimeoutError::Disconnected(3)));
    /// ```
    #[cfg(feature = "std")]
    pub fn push_timeout(&mut self, value: T, timeout: Duration) -> Result<(), PushTimeoutError<T>> {
        let mut value = Some(value);
        let done = wait::block(
            self,
            waiters_of_producer,
            Awaited::Slot,
            deadline(timeout),
            |p| p.attempt_push(&mut value),
        );
        match done {
            Some(result) => result.map_err(PushTimeoutError::Disconnected),
            None => Err(PushTimeoutError::Timeout(
                value.expect("a timed-out push keeps its value"),
            )),
        }
    }

    #[cfg(feature = "async")]
    /// Returns a future that appends `value` once a slot is free, resolving to
    /// `Err(Disconnected(value))` if the [`Consumer`] has been dropped.
    ///
    /// With [`WaitStrategy::SpinPark`] the future sleeps until the consumer frees a
    /// slot or goes away; with the other strategies it asks to be polled again at once.
    /// The future is cancel-safe: dropping it before it completes pushes nothing (its
    /// value is dropped with it), and no item in the ring is lost or duplicated. It is
    /// `Send` when `T: Send`.
    ///
    /// # Errors
    ///
    /// The future resolves to [`Disconnected`] with `value` if the consumer is gone.
    ///
    /// # Panics
    ///
    /// If polled again after it completed.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     // A minimal executor: park until woken.
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
    /// let (mut tx, mut rx) = ringway::spsc::channel(1);
    /// let t = std::thread::spawn(move || block_on(async {
    ///     for i in 0..10 {
    ///         tx.push_async(i).await.unwrap();
    ///     }
    /// }));
    /// let got: Vec<i32> = block_on(async {
    ///     let mut got = Vec::new();
    ///     while let Ok(v) = rx.pop_async().await {
    ///         got.push(v);
    ///     }
    ///     got
    /// });
    /// t.join().unwrap();
    /// assert_eq!(got, (0..10).collect::<Vec<_>>());
    /// ```
    pub fn push_async(&mut self, value: T) -> PushFuture<'_, T, S> {
        PushFuture {
            producer: self,
            value: Some(value),
            registration: Registration::None,
        }
    }

    /// The [`WaitStrategy`] the ring was built with.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = ringway::spsc::channel::<u8>(1);
    /// assert_eq!(tx.wait_strategy(), ringway::WaitStrategy::SPIN_YIELD);
    /// ```
    pub fn wait_strategy(&self) -> WaitStrategy {
        waiters_of_producer(self).strategy()
    }
}

impl<T, S: Storage> Consumer<T, S> {
    /// One attempt of a waiting pop: `Some(Ok(item))`, `Some(Err(Disconnected(())))`
    /// once the producer is gone and everything it pushed has been popped, or `None`.
    fn attempt_pop(&mut self) -> Option<Result<T, Disconnected>> {
        // The producer publishes everything before it sets the flag.
        wait::pop_or_disconnected(self, Self::pop, Self::is_abandoned)
    }
}

impl<T, S: Storage> Consumer<T, S> {
    /// Removes and returns the oldest item, waiting for one as the ring's
    /// [`WaitStrategy`] says.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] once the [`Producer`] has been dropped and every item it pushed
    /// has been popped, so the caller never waits on a peer that is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::Disconnected;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// std::thread::spawn(move || {
    ///     tx.push_blocking("a").unwrap();
    ///     tx.push_blocking("b").unwrap();
    /// });
    /// assert_eq!(rx.pop_blocking(), Ok("a"));
    /// assert_eq!(rx.pop_blocking(), Ok("b"));
    /// assert_eq!(rx.pop_blocking(), Err(Disconnected(())));
    /// ```
    #[cfg(feature = "std")]
    pub fn pop_blocking(&mut self) -> Result<T, Disconnected> {
        wait::until(
            self,
            waiters_of_consumer,
            Awaited::Item,
            Consumer::attempt_pop,
        )
    }

    /// Removes and returns the oldest item, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`PopTimeoutError::Timeout`] if the ring was still empty when the time ran out,
    /// [`PopTimeoutError::Disconnected`] once the [`Producer`] has been dropped and
    /// every item it pushed has been popped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringway::PopTimeoutError;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::channel(1);
    /// assert_eq!(rx.pop_timeout(Duration::from_millis(10)), Err(PopTimeoutError::Timeout));
    /// tx.push(9).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.pop_timeout(Duration::from_millis(10)), Ok(9));
    /// assert_eq!(rx.pop_timeout(Duration::from_millis(10)), Err(PopTimeoutError::Disconnected));
    /// ```
    #[cfg(feature = "std")]
    pub fn pop_timeout(&mut self, timeout: Duration) -> Result<T, PopTimeoutError> {
        match wait::block(
            self,
            waiters_of_consumer,
            Awaited::Item,
            deadline(timeout),
            Consumer::attempt_pop,
        ) {
            Some(Ok(v)) => Ok(v),
            Some(Err(Disconnected(()))) => Err(PopTimeoutError::Disconnected),
            None => Err(PopTimeoutError::Timeout),
        }
    }

    #[cfg(feature = "async")]
    /// Returns a future that removes the oldest item once there is one, resolving to
    /// `Err(Disconnected(()))` once the [`Producer`] has been dropped and the ring is
    /// empty.
    ///
    /// With [`WaitStrategy::SpinPark`] the future sleeps until the producer publishes or
    /// goes away; with the other strategies it asks to be polled again at once. The
    /// future is cancel-safe: it takes an item only in the poll that returns it, so
    /// dropping it loses nothing. It is `Send` when `T: Send`.
    ///
    /// # Errors
    ///
    /// The future resolves to [`Disconnected`] once the producer is gone and every item
    /// it pushed has been popped.
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
    /// let (mut tx, mut rx) = ringway::spsc::channel(2);
    /// std::thread::spawn(move || tx.push_blocking(42).unwrap());
    /// assert_eq!(block_on(rx.pop_async()), Ok(42));
    /// assert_eq!(block_on(rx.pop_async()), Err(ringway::Disconnected(())));
    /// ```
    pub fn pop_async(&mut self) -> PopFuture<'_, T, S> {
        PopFuture {
            consumer: self,
            registration: Registration::None,
        }
    }

    /// The [`WaitStrategy`] the ring was built with.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::WaitStrategy;
    ///
    /// let (_tx, rx) = ringway::spsc::channel_with_wait_strategy::<u8>(1, WaitStrategy::BusySpin);
    /// assert_eq!(rx.wait_strategy(), WaitStrategy::BusySpin);
    /// ```
    pub fn wait_strategy(&self) -> WaitStrategy {
        waiters_of_consumer(self).strategy()
    }
}

#[cfg(feature = "async")]
/// The future of [`Producer::push_async`].
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
#[must_use = "futures do nothing unless polled"]
pub struct PushFuture<'a, T, S: Storage = Heap<T>> {
    producer: &'a mut Producer<T, S>,
    /// The value to push; `None` once pushed or handed back.
    value: Option<T>,
    /// Its entry among the producer's waiters, withdrawn when it completes or is
    /// dropped.
    registration: Registration,
}

#[cfg(feature = "async")]
// The future never pins `T` (it moves the value in and out of its `Option`), so it is
// `Unpin` whatever `T` is.
impl<T, S: Storage> Unpin for PushFuture<'_, T, S> {}

#[cfg(feature = "async")]
impl<T, S: Storage> Future for PushFuture<'_, T, S> {
    type Output = Result<(), Disconnected<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let value = &mut this.value;
        wait::poll(
            this.producer,
            waiters_of_producer,
            Awaited::Slot,
            &mut this.registration,
            cx,
            |p| p.attempt_push(value),
        )
        .map(|result| result.map_err(Disconnected))
    }
}

#[cfg(feature = "async")]
impl<T, S: Storage> Drop for PushFuture<'_, T, S> {
    /// Withdraws the future's waker, so a cancelled future leaves nothing registered.
    fn drop(&mut self) {
        waiters_of_producer(self.producer).withdraw(Awaited::Slot, &mut self.registration);
    }
}

#[cfg(feature = "async")]
impl<T, S: Storage> fmt::Debug for PushFuture<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushFuture")
            .field("pending", &self.value.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "async")]
/// The future of [`Consumer::pop_async`].
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics (it does not pop a second item).
#[must_use = "futures do nothing unless polled"]
pub struct PopFuture<'a, T, S: Storage = Heap<T>> {
    consumer: &'a mut Consumer<T, S>,
    /// Its entry among the consumer's waiters, withdrawn when it completes or is
    /// dropped.
    registration: Registration,
}

#[cfg(feature = "async")]
impl<T, S: Storage> Future for PopFuture<'_, T, S> {
    type Output = Result<T, Disconnected>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        wait::poll(
            this.consumer,
            waiters_of_consumer,
            Awaited::Item,
            &mut this.registration,
            cx,
            Consumer::attempt_pop,
        )
    }
}

#[cfg(feature = "async")]
impl<T, S: Storage> Drop for PopFuture<'_, T, S> {
    /// Withdraws the future's waker, so a cancelled future leaves nothing registered.
    fn drop(&mut self) {
        waiters_of_consumer(self.consumer).withdraw(Awaited::Item, &mut self.registration);
    }
}

#[cfg(feature = "async")]
impl<T, S: Storage> fmt::Debug for PopFuture<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopFuture").finish_non_exhaustive()
    }
}
