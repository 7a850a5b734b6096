//! Helpers shared by the loom models (see `tests/`).
//!
//! The models run only with `RUSTFLAGS="--cfg ringway_loom"`:
//!
//! ```text
//! CARGO_TARGET_DIR=target/loom RUSTFLAGS="--cfg ringway_loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p loom-tests --profile loom
//! ```
//!
//! # Coverage canaries
//!
//! A loom model that passes is only evidence if loom really explored it: loom 0.7 can
//! silently stop branching (tokio-rs/loom#392), and a model whose threads never
//! overlap proves nothing. Every model therefore goes through [`explore`], which runs
//! the body under [`loom::model`], records the *outcome* each execution returns, and
//! after exploration asserts that
//!
//! * more than one execution (interleaving) ran, and
//! * every outcome in the `expected` list was observed at least once.
//!
//! The expected outcomes are chosen so that each needs a different interleaving (for
//! example "the consumer's first look saw 0 items", "... saw 1", "... saw 2"), so a
//! model that explored only one schedule, or never let the threads overlap, fails.
//! Outcomes that are *impossible* are rejected inside the body with `assert!`, so a
//! correctness bug fails in the iteration that shows it, with loom's trace.
//!
//! `tests/canary_scan.rs` checks that every `#[test]` in the model files goes through
//! [`explore`].

#[cfg(ringway_loom)]
mod canary {
    use std::collections::BTreeSet;
    use std::fmt::Debug;
    use std::sync::{Arc, Mutex};

    /// Runs `body` under [`loom::model`] and asserts its coverage canary: more than one
    /// execution ran, and every outcome in `expected` was returned by at least one
    /// execution.
    ///
    /// The outcome store is a plain `std` mutex: loom runs a model's threads one at a
    /// time on one OS thread, so it is never contended, and it is deliberately outside
    /// loom's view (it records, it does not synchronise the model).
    ///
    /// # Panics
    ///
    /// If a model iteration panics (loom reports the failing execution), or the canary
    /// fails.
    pub fn explore<O, F>(name: &str, expected: &[O], body: F)
    where
        O: Ord + Clone + Debug + Send + 'static,
        F: Fn() -> O + Send + Sync + 'static,
    {
        check_canary(name, expected, body, loom::model);
    }

    /// [`explore`] with loom's preemption bound capped at `max_preemptions` (the
    /// smaller of it and `LOOM_MAX_PREEMPTIONS`, if set).
    ///
    /// For models where two threads can both wait, through the facade's yield, on a
    /// third that loom pre-empted between claiming and publishing a slot: loom then
    /// alternates between the two waiters without bound once a second pre-emption is
    /// allowed, and the model fails with "exceeded maximum number of branches"
    /// whatever `LOOM_MAX_BRANCHES` is. The canary and the mutation check show what
    /// the bounded exploration still covers.
    pub fn bounded_explore<O, F>(max_preemptions: usize, name: &str, expected: &[O], body: F)
    where
        O: Ord + Clone + Debug + Send + 'static,
        F: Fn() -> O + Send + Sync + 'static,
    {
        check_canary(name, expected, body, move |f| {
            let mut builder = loom::model::Builder::new();
            builder.preemption_bound = Some(
                builder
                    .preemption_bound
                    .map_or(max_preemptions, |env| env.min(max_preemptions)),
            );
            builder.check(f);
        });
    }

    /// Runs `body` through `run` (a loom model checker), recording outcomes, then
    /// asserts the canary (see [`explore`]).
    fn check_canary<O, F>(
        name: &str,
        expected: &[O],
        body: F,
        run: impl FnOnce(Box<dyn Fn() + Send + Sync>),
    ) where
        O: Ord + Clone + Debug + Send + 'static,
        F: Fn() -> O + Send + Sync + 'static,
    {
        let seen: Arc<Mutex<(BTreeSet<O>, usize)>> = Arc::default();
        let record = Arc::clone(&seen);
        run(Box::new(move || {
            let outcome = body();
            let mut guard = record.lock().unwrap_or_else(|e| e.into_inner());
            guard.0.insert(outcome);
            guard.1 += 1;
        }));
        let (outcomes, executions) = {
            let guard = seen.lock().unwrap_or_else(|e| e.into_inner());
            (guard.0.clone(), guard.1)
        };
        eprintln!(
            "[canary] {name}: {executions} executions, {} distinct outcomes: {outcomes:?}",
            outcomes.len()
        );
        assert!(
            executions > 1,
            "coverage canary `{name}`: loom explored only {executions} execution(s); \
             the model is not exploring interleavings"
        );
        let missing: Vec<&O> = expected.iter().filter(|o| !outcomes.contains(o)).collect();
        assert!(
            missing.is_empty(),
            "coverage canary `{name}`: expected outcomes never observed: {missing:?}\n\
             observed in {executions} executions: {outcomes:?}"
        );
    }
}

#[cfg(ringway_loom)]
pub use canary::{bounded_explore, explore};
