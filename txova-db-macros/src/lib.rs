//! Procedural macros for [txova-db](https://docs.rs/txova-db): `#[derive(Table)]`,
//! `#[transactional]`, `#[cached]`, `#[cache_evict]` and `#[locked]`.
//!
//! Depend on `txova-db` and use the macros through its re-exports; the expansions name
//! runtime items through `::txova_db::__private`, so this crate is not usable alone.

mod ctxt;
mod table;

use proc_macro::TokenStream;

/// Derives `txova_db::Table`; see the trait's documentation in `txova-db`.
#[proc_macro_derive(Table, attributes(table, column))]
pub fn derive_table(input: TokenStream) -> TokenStream {
    table::derive(input.into()).into()
}
