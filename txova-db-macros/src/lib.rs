//! Procedural macros for [txova-db](https://docs.rs/txova-db): `#[derive(Table)]`,
//! `#[transactional]`, `#[cached]`, `#[cache_evict]` and `#[locked]`.
//!
//! Depend on `txova-db` and use the macros through its re-exports; the expansions name
//! runtime items through `::txova_db::__private`, so this crate is not usable alone.

mod alias;
mod attr;
mod body;
mod cache;
mod ctxt;
mod embed;
mod item_fn;
mod key_template;
mod locked;
mod table;
mod transactional;

use proc_macro::TokenStream;

/// Derives `txova_db::Table`; see the trait's documentation in `txova-db`.
#[proc_macro_derive(Table, attributes(table, column))]
pub fn derive_table(input: TokenStream) -> TokenStream {
    table::derive(input.into()).into()
}

/// Runs an async function's body in a transaction; see `txova_db::transaction`.
///
/// Arguments: `isolation = "read_committed" | "repeatable_read" | "serializable"`,
/// `read_only`, `retries = N`, `savepoint`, and `db = <expr>` (methods take the `Db`
/// from `self` through `txova_db::UsesDb`).
#[proc_macro_attribute]
pub fn transactional(args: TokenStream, item: TokenStream) -> TokenStream {
    transactional::transactional(args.into(), item.into()).into()
}

/// Caches an async function's `Ok` or `Some` value; see `txova_db::cache`.
///
/// Arguments: `key = "user:profile:<id>"` (placeholders name parameters or their
/// fields, and are escaped), `ttl = "15m"` (default: the cache's), and `cache = <expr>`
/// (methods take the cache from `self` through `txova_db::cache::UsesCache`).
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    cache::attribute(cache::Kind::Cached, args.into(), item.into()).into()
}

/// Evicts a cache key after an async function succeeds (after the commit when called
/// inside a transaction); see `txova_db::cache`.
///
/// Arguments: `key = "user:profile:<id>"` and `cache = <expr>`. Stack the attribute to
/// evict several keys.
#[proc_macro_attribute]
pub fn cache_evict(args: TokenStream, item: TokenStream) -> TokenStream {
    cache::attribute(cache::Kind::CacheEvict, args.into(), item.into()).into()
}

/// Runs an async method's body under a distributed lock; see `txova_db::lock`.
///
/// Arguments: the lock name first (`"ride:assign:<id>"`: placeholders name parameters
/// or their fields, and are escaped), then `ttl = "30s"`, `wait = "5s"` (defaults: the
/// `LockConfig`'s), `watchdog = false`, and `locks = <expr>` (methods take the locks
/// from `self` through `txova_db::lock::UsesLocks`).
#[proc_macro_attribute]
pub fn locked(args: TokenStream, item: TokenStream) -> TokenStream {
    locked::attribute(args.into(), item.into()).into()
}

/// Embeds a migrations directory (relative to the crate's `Cargo.toml`) and builds a
/// `txova_db::Migrator` from it: `embed_migrations!("migrations")?`.
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    embed::embed_migrations(input.into()).into()
}

/// The SQL name of `txova_db::alias!(Name)`: `Name` in snake case. Not public API.
#[doc(hidden)]
#[proc_macro]
pub fn __alias_name(input: TokenStream) -> TokenStream {
    alias::alias_name(input.into()).into()
}
