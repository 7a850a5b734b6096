//! A `static` SPSC ring, fed by a thread that stands in for an interrupt handler and
//! drained by the main loop: the embedded pattern of `ringway::spsc::StaticRing`.
//!
//! ```sh
//! cargo run --release --example static_ring
//! ```
//!
//! # How this maps to firmware
//!
//! * `SAMPLES` is an ordinary `static`: `StaticRing::new` is a `const fn`, so the ring
//!   is built at compile time, lives in `.bss`/`.data`, and nothing ever allocates
//!   (the crate builds without `std` and without `alloc`).
//! * The "interrupt handler" thread is the ISR (an ADC or UART interrupt): it owns the
//!   `Producer` and calls `push`, which is wait-free (a bounded number of loads and
//!   stores, no lock, no compare-and-swap), so it is safe in an interrupt that may
//!   preempt the main loop at any instruction. When the ring is full it counts an
//!   overrun and drops the sample instead of waiting, as an ISR must.
//! * The main loop owns the `Consumer` and drains what has arrived, in batches
//!   (`read_chunk` hands out the items in place; one index store releases them).
//! * Splitting: here `try_split` hands the halves out once, from `&'static`. In
//!   firmware, split in `main` before enabling the interrupt and move the `Producer`
//!   to the ISR through its usual home (an RTIC resource, or a
//!   `critical_section::Mutex<RefCell<Option<Producer<..>>>>` static). `try_split`
//!   needs an atomic swap; on Cortex-M0 (`thumbv6m-none-eabi`, no compare-and-swap)
//!   get a `&'static mut StaticRing` instead (`cortex_m::singleton!`, the
//!   `static_cell` crate) and call `split`.
//! * On a single core the two sides never run at the same time, but the ISR may
//!   interrupt the consumer between any two instructions: exactly the interleavings
//!   the crate's loom models check.

use std::thread;
use std::time::{Duration, Instant};

use ringway::spsc::StaticRing;

/// One reading from the "ADC": a sequence number and a value.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    seq: u32,
    value: i16,
}

/// The ring the ISR fills and the main loop drains: 256 samples, built at compile time.
static SAMPLES: StaticRing<Sample, 256> = StaticRing::new();

/// "Interrupts" the example fires, and samples per interrupt (a DMA half-transfer's
/// worth, say).
const TICKS: u32 = 1_000;
const BURST: u32 = 16;

fn main() {
    // Start-up, before the interrupt is enabled: hand out the two halves once.
    let (mut tx, mut rx) = SAMPLES.try_split().expect("SAMPLES is split once");

    // The "interrupt handler": fires every 200 us and pushes a burst of samples, never
    // waiting for room.
    let isr = thread::spawn(move || {
        let mut overruns = 0u32;
        for tick in 0..TICKS {
            for i in 0..BURST {
                let seq = tick * BURST + i;
                let value = ((seq * 37) % 4096) as i16 - 2048;
                if tx.push(Sample { seq, value }).is_err() {
                    overruns += 1; // full: the main loop fell behind; drop the sample
                }
            }
            thread::sleep(Duration::from_micros(200)); // until the next interrupt
        }
        overruns
        // `tx` is dropped here: the consumer sees `is_abandoned()`.
    });

    // The main loop: drain whatever has arrived, in place, one batch at a time.
    let start = Instant::now();
    let (mut received, mut batches, mut largest, mut sum) = (0u32, 0u32, 0usize, 0i64);
    let mut last_seq = None;
    loop {
        // Checked before looking, so that a `true` means everything pushed is visible.
        let done = rx.is_abandoned();
        let available = rx.len();
        if available > 0 {
            let chunk = rx.read_chunk(available).expect("only the ISR adds items");
            let (first, wrapped) = chunk.as_slices();
            for sample in first.iter().chain(wrapped) {
                assert!(last_seq < Some(sample.seq), "samples arrive in order");
                last_seq = Some(sample.seq);
                sum += i64::from(sample.value);
            }
            received += available as u32;
            batches += 1;
            largest = largest.max(available);
            chunk.commit_all(); // one index store hands the slots back to the ISR
        } else if done {
            break;
        } else {
            // Firmware would `wfi` (sleep until the next interrupt) here.
            thread::yield_now();
        }
    }
    let overruns = isr.join().unwrap();

    let total = TICKS * BURST;
    assert_eq!(
        received + overruns,
        total,
        "every sample received or counted"
    );
    println!(
        "received {received} of {total} samples in {batches} batches (largest {largest}, \
         capacity {}), {overruns} overruns, sum {sum}, {:.1} ms",
        SAMPLES.capacity(),
        start.elapsed().as_secs_f64() * 1e3
    );
}
