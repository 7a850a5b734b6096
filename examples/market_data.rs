//! Market-data fan-out with `ringway::broadcast`: one feed thread publishes quotes to
//! two reader threads, a strategy and a logger, and each reader gets every quote.
//!
//! The feed publishes in bursts (256 quotes, then a millisecond of quiet), as an
//! exchange feed does; the logger stops now and then to "flush to disk" (5 ms), long
//! enough for more than a ring's worth of quotes to arrive. The same run is made once
//! per slow-reader policy:
//!
//! * `Policy::Backpressure`: the feed waits (`push_blocking`) whenever the logger is a
//!   full ring behind, so both readers see every quote, in order, and the feed is
//!   held up by each flush.
//! * `Policy::Lossy`: the feed never waits. The logger falls behind at each flush, gets
//!   `PopError::Lagged(n)` for the quotes it missed and goes on from the oldest quote
//!   still held; the strategy, which keeps up, is not affected (it typically sees
//!   every quote; on a busy machine it may lag too, and says so).
//!
//! Each reader checks the sequence numbers it gets and accounts for every quote
//! (seen, or reported as missed); the example prints a short summary and panics if
//! anything does not add up.
//!
//! Run: `cargo run --release --example market_data`.

use std::fmt::Write as _;
use std::thread;
use std::time::{Duration, Instant};

use ringway::broadcast::{self, Consumer, Policy, PopError};
use ringway::WaitStrategy;

const SYMBOLS: [&str; 4] = ["AAPL", "MSFT", "NVDA", "TSLA"];
/// Quotes the feed publishes per run.
const QUOTES: u64 = 100_000;
/// Quotes per burst of the feed; a millisecond of quiet follows each burst.
const BURST: u64 = 256;
/// The logger flushes this many bytes at a time ...
const FLUSH_BYTES: usize = 64 * 1024;
/// ... and each flush takes this long.
const FLUSH_TIME: Duration = Duration::from_millis(5);
/// Ring capacity (a power of two; `broadcast::channel` would round up anyway).
const CAPACITY: usize = 1024;

/// One top-of-book update; prices in cents.
#[derive(Clone, Copy, Debug)]
struct Quote {
    seq: u64,
    symbol: usize,
    bid: i64,
    ask: i64,
}

impl Quote {
    fn mid(&self) -> f64 {
        (self.bid + self.ask) as f64 / 200.0
    }
}

/// A deterministic random walk of the four symbols' prices (xorshift64*).
struct Feed {
    state: u64,
    mids: [i64; 4],
    seq: u64,
}

impl Feed {
    fn new() -> Self {
        Feed {
            state: 0x9E37_79B9_7F4A_7C15,
            mids: [19_000, 41_000, 12_000, 25_000],
            seq: 0,
        }
    }

    fn next(&mut self) -> Quote {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let symbol = (r % 4) as usize;
        let step = ((r >> 8) % 5) as i64 - 2; // -2 ..= 2 cents
        self.mids[symbol] = (self.mids[symbol] + step).max(100);
        let spread = 1 + ((r >> 16) % 3) as i64;
        let q = Quote {
            seq: self.seq,
            symbol,
            bid: self.mids[symbol] - spread,
            ask: self.mids[symbol] + spread,
        };
        self.seq += 1;
        q
    }
}

/// What a reader ends with.
#[derive(Debug, Default)]
struct Tally {
    /// Quotes received.
    seen: u64,
    /// Quotes reported missed (`Lagged`), `Lossy` only.
    missed: u64,
    /// Times it was told it had lagged.
    lags: u64,
}

/// Reads until the feed is gone, checking that every quote is the next sequence
/// number (after the ones reported missed), and hands each one to `on_quote`.
fn read_feed(mut rx: Consumer<Quote>, mut on_quote: impl FnMut(&Quote)) -> Tally {
    let mut tally = Tally::default();
    let mut expected = 0;
    loop {
        match rx.pop_blocking() {
            Ok(q) => {
                assert_eq!(q.seq, expected, "a quote out of order");
                expected += 1;
                tally.seen += 1;
                on_quote(&q);
            }
            Err(PopError::Lagged(n)) => {
                expected += n;
                tally.missed += n;
                tally.lags += 1;
            }
            Err(PopError::Disconnected) => break,
            Err(PopError::Timeout) => unreachable!("pop_blocking does not time out"),
        }
    }
    assert_eq!(expected, QUOTES, "quotes neither seen nor reported missed");
    tally
}

/// The strategy: an exponential moving average of each symbol's mid, and a signal
/// whenever the mid crosses it.
fn strategy(rx: Consumer<Quote>) -> (Tally, u64) {
    let mut ema = [None::<f64>; 4];
    let mut above = [false; 4];
    let mut signals = 0;
    let tally = read_feed(rx, |q| {
        let mid = q.mid();
        let avg = ema[q.symbol].map_or(mid, |e| e + 0.05 * (mid - e));
        ema[q.symbol] = Some(avg);
        let now_above = mid > avg;
        if now_above != above[q.symbol] {
            signals += 1;
            above[q.symbol] = now_above;
        }
    });
    (tally, signals)
}

/// The logger: formats every quote into a line of a buffer, and "flushes" the buffer
/// every `FLUSH_BYTES`, which takes `FLUSH_TIME`.
fn logger(rx: Consumer<Quote>) -> (Tally, u64) {
    let mut buf = String::with_capacity(FLUSH_BYTES + 64);
    let mut flushed = 0u64;
    let tally = read_feed(rx, |q| {
        let _ = writeln!(
            buf,
            "{:>8} {} {}.{:02} / {}.{:02}",
            q.seq,
            SYMBOLS[q.symbol],
            q.bid / 100,
            q.bid % 100,
            q.ask / 100,
            q.ask % 100
        );
        if buf.len() >= FLUSH_BYTES {
            flushed += buf.len() as u64;
            buf.clear();
            thread::sleep(FLUSH_TIME);
        }
    });
    (tally, flushed + buf.len() as u64)
}

fn run(policy: Policy) {
    let (mut tx, strategy_rx) =
        broadcast::channel_with_wait_strategy(CAPACITY, policy, WaitStrategy::SPIN_PARK);
    // Subscribe before the first push, so that the logger sees the feed from the start.
    let logger_rx = strategy_rx.subscribe();
    let start = Instant::now();
    let strategy = thread::spawn(move || strategy(strategy_rx));
    let logger = thread::spawn(move || logger(logger_rx));
    let mut feed = Feed::new();
    for i in 0..QUOTES {
        // Backpressure: waits while the slower reader is `CAPACITY` quotes behind.
        // Lossy: never waits.
        tx.push_blocking(feed.next());
        if i % BURST == BURST - 1 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    let feed_time = start.elapsed();
    drop(tx); // the readers drain what is left, then see `Disconnected`
    let (s, signals) = strategy.join().expect("the strategy thread panicked");
    let (l, bytes) = logger.join().expect("the logger thread panicked");
    let elapsed = start.elapsed();

    println!(
        "{policy:?}: {QUOTES} quotes through a ring of {CAPACITY}: the feed took {:.0} ms, \
         the readers {:.0} ms",
        feed_time.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e3
    );
    println!(
        "  strategy: saw {:>7}, missed {:>7} ({} lags); {signals} signals",
        s.seen, s.missed, s.lags
    );
    println!(
        "  logger:   saw {:>7}, missed {:>7} ({} lags); {} KiB logged",
        l.seen,
        l.missed,
        l.lags,
        bytes / 1024
    );
    if policy == Policy::Backpressure {
        assert_eq!(
            (s.seen, l.seen),
            (QUOTES, QUOTES),
            "Backpressure loses nothing"
        );
    }
}

fn main() {
    // The feed waits for the logger's flushes; nobody misses a quote.
    run(Policy::Backpressure);
    // The feed does not wait; the logger misses what arrives during its flushes.
    run(Policy::Lossy);
}
