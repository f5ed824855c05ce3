//! Compile-fail and compile-pass cases for txova-db; see `tests/ui.rs`.
