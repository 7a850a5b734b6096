//! A level meter with `ringway::spsc::overwriting`: an audio thread measures the peak
//! level of every block of samples and pushes it into a small overwriting ring; a
//! display thread, much slower, wakes up once a frame and shows only the newest level.
//!
//! The audio thread must never wait for the display, and the display only cares about
//! the latest value, so a full ring simply displaces its oldest level: `push` hands the
//! displaced level back, and the audio thread counts those. At the end the example
//! checks that every level is accounted for (displaced, popped, or left in the ring)
//! and prints a summary.
//!
//! Run: `cargo run --release --example meter` (about a second).

use std::f32::consts::TAU;
use std::thread;
use std::time::{Duration, Instant};

use ringway::spsc::overwriting;

const SAMPLE_RATE: f32 = 48_000.0;
/// Samples per block: one level per block, 750 levels a second.
const BLOCK: usize = 64;
/// Blocks the audio thread renders: 0.8 s of audio.
const BLOCKS: usize = 600;
/// The display's frame period (25 frames a second).
const FRAME: Duration = Duration::from_millis(40);
/// Levels the ring keeps: a handful is plenty when only the newest is shown.
const CAPACITY: usize = 4;

/// Peak level of a block in dBFS (0 dB is full scale), floored at -60 dB.
fn peak_dbfs(block: &[f32]) -> f32 {
    let peak = block.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    (20.0 * peak.max(1e-3).log10()).max(-60.0)
}

/// A bar of `width` characters for a level in -60 ..= 0 dBFS.
fn bar(db: f32, width: usize) -> String {
    let filled = (((db + 60.0) / 60.0) * width as f32).round() as usize;
    let filled = filled.min(width);
    format!("{}{}", "#".repeat(filled), ".".repeat(width - filled))
}

fn main() {
    let (mut tx, mut rx) = overwriting::channel::<f32>(CAPACITY);
    let start = Instant::now();

    // The audio thread: renders a 440 Hz tone whose loudness swells and fades twice a
    // second, in real time (each block is due 64 / 48000 s after the previous one).
    let audio = thread::spawn(move || {
        let block_time = Duration::from_secs_f32(BLOCK as f32 / SAMPLE_RATE);
        let mut samples = [0.0f32; BLOCK];
        let mut displaced = 0u64;
        let mut n = 0u64; // sample index
        for b in 0..BLOCKS {
            for s in samples.iter_mut() {
                let t = n as f32 / SAMPLE_RATE;
                let envelope = 0.5 - 0.5 * (TAU * 2.0 * t).cos(); // 0 ..= 1, at 2 Hz
                *s = envelope * (TAU * 440.0 * t).sin();
                n += 1;
            }
            // A full ring displaces (and hands back) its oldest level: the display
            // missed it, which is fine for a meter. The audio thread never waits.
            if tx.push(peak_dbfs(&samples)).is_some() {
                displaced += 1;
            }
            // Keep to real time.
            let due = start + block_time * (b as u32 + 1);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
        }
        displaced
        // `tx` is dropped here: the display sees the ring abandoned.
    });

    // The display: once a frame, takes everything in the ring and shows the newest.
    let mut frames = 0u64;
    let mut popped = 0u64;
    loop {
        thread::sleep(FRAME);
        let done = rx.is_abandoned();
        let mut newest = None;
        for level in rx.drain() {
            popped += 1;
            newest = Some(level);
        }
        if let Some(db) = newest {
            frames += 1;
            println!(
                "{:5.0} ms  [{}] {db:6.1} dBFS",
                start.elapsed().as_secs_f64() * 1e3,
                bar(db, 40)
            );
        }
        // Abandoned before the drain: the drain took the last levels.
        if done {
            break;
        }
    }

    let displaced = audio.join().expect("the audio thread panicked");
    let left = rx.len() as u64;
    let pushed = BLOCKS as u64;
    assert_eq!(
        displaced + popped + left,
        pushed,
        "levels neither displaced, popped nor left in the ring"
    );
    println!(
        "{pushed} levels pushed in {:.2} s: {frames} frames drawn from {popped} levels popped \
         ({} not shown: an older level in the same frame), {displaced} displaced by newer ones \
         before the display looked, {left} left",
        start.elapsed().as_secs_f64(),
        popped - frames,
    );
}
