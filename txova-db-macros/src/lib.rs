//! Procedural macros for [txova-db](https://docs.rs/txova-db): `#[derive(Table)]`,
//! `#[transactional]`, `#[cached]`, `#[cache_evict]` and `#[locked]`.
//!
//! Depend on `txova-db` and use the macros through its re-exports; the expansions name
//! runtime items through `::txova_db::__private`, so this crate is not usable alone.
