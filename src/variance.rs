//! The variance of every public generic type, pinned by doctests (this module exists
//! only when rustdoc collects doctests, `cfg(doctest)`, so `cargo test` runs them).
//!
//! Each type that holds or reaches a ring of `T` is **invariant** in `T` (see
//! `crate::InvariantIn`): a covariant producer lets safe code shorten
//! `&'static u8` items to `&'a u8`, push a reference that dies, and pop it as
//! `&'static` (a use-after-free). Every item below carries two doctests built from one
//! type written once:
//!
//! * a `compile_fail` test that shortens the item type from `&'static u8` to `&'a u8`,
//!   which only a covariant type allows: it fails to compile, or the type became
//!   covariant;
//! * a control that converts the same type with the same lifetime, which must compile,
//!   so the `compile_fail` test cannot pass because of a typo or a renamed type.
//!
//! (Consumers, drains, read chunks and `mpmc::IntoIter` are invariant too, although
//! covariance would be sound for them: they share the core of the types that push, as
//! in rtrb and crossbeam.)
//!
//! The error types (`PushError<T>`, `Disconnected<T>`, `PushTimeoutError<T>`) are
//! plain values handed back to the caller and stay covariant, as `Option<T>` is.

/// Declares one documented unit struct per type, each with a `compile_fail` doctest
/// that shortens `&'static u8` to `&'a u8` inside the type and a control that must
/// compile. Each type is written as the text around its item type: `["A<", ">"]` is
/// `A<T>`, and `["Q<", ", I<", ">>"]` is `Q<T, I<T>>`. The lifetime `'c` is in scope
/// for types that borrow something (chunks, futures, borrowed halves).
macro_rules! pin_invariant {
    ($($name:ident: [$head:literal $(, $tail:literal)*];)*) => {$(
        #[doc = concat!("`", $head $(, "T", $tail)*, "` is invariant in `T`: shortening the item type does not compile:")]
        #[doc = ""]
        #[doc = "```compile_fail"]
        #[doc = concat!(
            "fn shorten<'a, 'c>(x: ", $head $(, "&'static u8", $tail)*,
            ") -> ", $head $(, "&'a u8", $tail)*, " {"
        )]
        #[doc = "    x"]
        #[doc = "}"]
        #[doc = "```"]
        #[doc = ""]
        #[doc = "Control: the same type, not shortened, compiles."]
        #[doc = ""]
        #[doc = "```"]
        #[doc = concat!(
            "fn keep<'a, 'c>(x: ", $head $(, "&'a u8", $tail)*,
            ") -> ", $head $(, "&'a u8", $tail)*, " {"
        )]
        #[doc = "    x"]
        #[doc = "}"]
        #[doc = "```"]
        #[allow(dead_code)]
        pub(crate) struct $name;
    )*};
}

pin_invariant! {
    SpscProducerHeap: ["ringway::spsc::Producer<", ">"];
    SpscProducerBorrowed: ["ringway::spsc::Producer<", ", ringway::spsc::Borrowed<'c>>"];
    SpscConsumerHeap: ["ringway::spsc::Consumer<", ">"];
    SpscConsumerBorrowed: ["ringway::spsc::Consumer<", ", ringway::spsc::Borrowed<'c>>"];
    SpscHeap: ["ringway::spsc::Heap<", ">"];
    SpscStaticRing: ["ringway::spsc::StaticRing<", ", 4>"];
    SpscWriteChunkUninit: ["ringway::spsc::WriteChunkUninit<'c, ", ">"];
    SpscReadChunk: ["ringway::spsc::ReadChunk<'c, ", ">"];
    SpscDrain: ["ringway::spsc::Drain<'c, ", ">"];
    SpscPushFuture: ["ringway::spsc::PushFuture<'c, ", ">"];
    SpscPopFuture: ["ringway::spsc::PopFuture<'c, ", ">"];
    StampedProducer: ["ringway::spsc::stamped::Producer<", ">"];
    StampedConsumer: ["ringway::spsc::stamped::Consumer<", ">"];
    StampedHeap: ["ringway::spsc::Heap<", ", ringway::spsc::Stamped>"];
    StampedProducerBorrowed: ["ringway::spsc::Producer<", ", ringway::spsc::Borrowed<'c, ringway::spsc::Stamped>>"];
    StampedStaticRing: ["ringway::spsc::stamped::StaticRing<", ", 4>"];
    StampedDrain: ["ringway::spsc::Drain<'c, ", ", ringway::spsc::Heap<", ", ringway::spsc::Stamped>>"];
    OverwritingProducer: ["ringway::spsc::overwriting::Producer<", ">"];
    OverwritingConsumer: ["ringway::spsc::overwriting::Consumer<", ">"];
    OverwritingDrain: ["ringway::spsc::overwriting::Drain<'c, ", ">"];
    OverwritingProducerBorrowed: ["ringway::spsc::overwriting::Producer<", ", ringway::spsc::overwriting::Borrowed<'c>>"];
    OverwritingHeap: ["ringway::spsc::overwriting::Heap<", ">"];
    OverwritingStaticRing: ["ringway::spsc::overwriting::StaticRing<", ", 3>"];
    OverwritingPopFuture: ["ringway::spsc::overwriting::PopFuture<'c, ", ">"];
    BroadcastProducer: ["ringway::broadcast::Producer<", ">"];
    BroadcastConsumer: ["ringway::broadcast::Consumer<", ">"];
    BroadcastPopFuture: ["ringway::broadcast::PopFuture<'c, ", ">"];
    BroadcastPushFuture: ["ringway::broadcast::PushFuture<'c, ", ">"];
    MpmcQueueHeap: ["ringway::mpmc::Queue<", ">"];
    MpmcQueueInline: ["ringway::mpmc::Queue<", ", ringway::mpmc::Inline<", ", 3>>"];
    MpmcHeap: ["ringway::mpmc::Heap<", ">"];
    MpmcInline: ["ringway::mpmc::Inline<", ", 3>"];
    MpmcStaticQueue: ["ringway::mpmc::StaticQueue<", ", 3>"];
    MpmcPushFuture: ["ringway::mpmc::PushFuture<'c, ", ">"];
    MpmcPopFuture: ["ringway::mpmc::PopFuture<'c, ", ">"];
    MpmcIntoIter: ["ringway::mpmc::IntoIter<", ">"];
}

/// The use-after-free that a covariant producer allowed (issue #12), as a doctest: it
/// must not compile. (With `Producer` covariant it compiled, and Miri reported a
/// dangling reference in `Slots::read` at the `pop`.)
///
/// ```compile_fail
/// fn shorten<'a>(
///     p: ringway::spsc::Producer<&'static String>,
/// ) -> ringway::spsc::Producer<&'a String> {
///     p
/// }
///
/// let (tx, mut rx) = ringway::spsc::channel::<&'static String>(1);
/// {
///     let s = String::from("short-lived");
///     let mut tx = shorten(tx);
///     tx.push(&s).unwrap();
/// } // `s` is freed here
/// let r: &'static String = rx.pop().unwrap(); // would be dangling
/// assert_eq!(r, "short-lived");
/// ```
#[allow(dead_code)]
pub(crate) struct ShortenedProducerUseAfterFree;

/// The shared-memory ring's types (feature `shm`); its doctests run in CI's
/// `cargo test --features shm --doc shm`.
#[cfg(all(feature = "shm", target_os = "linux", target_pointer_width = "64"))]
mod shm {
    pin_invariant! {
        ShmRing: ["ringway::shm::Ring<", ">"];
        ShmProducer: ["ringway::spsc::Producer<", ", ringway::shm::Shm>"];
        ShmConsumer: ["ringway::spsc::Consumer<", ", ringway::shm::Shm>"];
    }
}
