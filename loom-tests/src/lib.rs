//! Helpers shared by the loom models (see `tests/`).
