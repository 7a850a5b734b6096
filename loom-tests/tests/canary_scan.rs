//! Fails if a loom model file has a model without a coverage canary.
//!
//! Every `#[test]` in `loom-tests/tests/*.rs` (other than this file) must run its model
//! through `loom_tests::explore`, which asserts the canary; calling `loom::model` (or
//! `loom::model::Builder`) directly would skip it. A plain source scan: it runs with
//! and without `--cfg ringway_loom`.

use std::fs;
use std::path::Path;

#[test]
fn every_loom_model_asserts_a_canary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files = 0;
    let mut models = 0;
    let mut problems = Vec::new();
    for entry in fs::read_dir(&dir).expect("loom-tests/tests") {
        let path = entry.expect("dir entry").path();
        if path.extension() != Some("rs".as_ref())
            || path.file_name() == Some("canary_scan.rs".as_ref())
        {
            continue;
        }
        files += 1;
        let source = fs::read_to_string(&path).expect("readable model file");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !source.trim_start().starts_with("#![cfg(ringway_loom)]") {
            problems.push(format!("{name}: does not start with #![cfg(ringway_loom)]"));
        }
        for needle in ["loom::model(", "loom::model::Builder", "model::Builder"] {
            if source.contains(needle) {
                problems.push(format!(
                    "{name}: calls `{needle}` directly, bypassing the canary"
                ));
            }
        }
        // Each test body runs from its `#[test]` to the next one (or the end of the file).
        for (i, body) in source.split("#[test]").enumerate().skip(1) {
            models += 1;
            let fn_name = body
                .split("fn ")
                .nth(1)
                .and_then(|s| s.split('(').next())
                .unwrap_or("?")
                .trim()
                .to_owned();
            // A test may delegate to a helper in the same file that calls `explore`, or
            // that calls such a helper (the helpers are found transitively).
            let calls_explore = body.contains("explore(")
                || explorers(&source).iter().any(|helper| {
                    // A plain call, or one with a turbofish (`model::<Stamped>(`).
                    body.contains(&format!("{helper}(")) || body.contains(&format!("{helper}::<"))
                });
            if !calls_explore {
                problems.push(format!(
                    "{name}: test #{i} `{fn_name}` has no coverage canary (explore)"
                ));
            }
        }
    }
    assert!(files > 0, "no model files found in {}", dir.display());
    assert!(models > 0, "no #[test] models found in {}", dir.display());
    assert!(
        problems.is_empty(),
        "models without a canary:\n{}",
        problems.join("\n")
    );
}

/// The functions of `source` that call `explore`, directly or through each other.
fn explorers(source: &str) -> Vec<String> {
    let helpers: Vec<(String, &str)> = source
        .split("\nfn ")
        .skip(1)
        .filter_map(|f| Some((f.split(['(', '<']).next()?.trim().to_owned(), f)))
        .collect();
    let calls =
        |f: &str, name: &str| f.contains(&format!("{name}(")) || f.contains(&format!("{name}::<"));
    let mut found: Vec<String> = helpers
        .iter()
        .filter(|(_, f)| f.contains("explore("))
        .map(|(name, _)| name.clone())
        .collect();
    loop {
        let more: Vec<String> = helpers
            .iter()
            .filter(|(name, f)| !found.contains(name) && found.iter().any(|e| calls(f, e)))
            .map(|(name, _)| name.clone())
            .collect();
        if more.is_empty() {
            return found;
        }
        found.extend(more);
    }
}
