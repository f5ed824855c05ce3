//! Items the macros' expansions and the public traits' bounds need. Not a public API:
//! nothing here follows semver.

pub mod array;
pub use crate::types::backend;

pub use array::{ArrayParamFallback, ArrayParamViaPostgres, ArrayProbe};

pub use crate::cache::{Cache, CacheKey, UsesCache};
pub use crate::column::{Column, Direction, MaybeNull, NotNull, Order};
pub use crate::db::Db;
pub use crate::error::{Error, InvalidSortKey};
pub use crate::lock::{LockOptions, Locks, UsesLocks};
pub use crate::row::Row;
pub use crate::select::OrderTerm;
pub use crate::table::{ColumnInfo, PrimaryKey, Table};
pub use crate::transaction::{Isolation, Tx, TxOptions, UsesDb};
pub use crate::types::{Param, Redacted, sql_type_of};
pub use serde;

pub use std::sync::Arc;

/// Whether `name` is a migration file name the migrator accepts: what
/// `embed_migrations!` checks at compile time, by the migrator's own rule.
pub const fn is_migration_file_name(name: &str) -> bool {
    crate::migrate::source::parse_file_name(name).is_some()
}

/// The field's type name, for `ColumnInfo` (nullability, schema checks).
pub fn type_name_of<V>() -> &'static str {
    std::any::type_name::<V>()
}

/// The `Db` behind `db = <expr>` of `#[transactional]`: a `Db`, a reference to one, or
/// anything that [`UsesDb`].
pub fn db_of<S: UsesDb + ?Sized>(source: &S) -> &Db {
    source.db()
}

/// The cache behind `cache = <expr>` of `#[cached]`/`#[cache_evict]`, or `self`: a
/// `Cache`, a reference to one, or anything that [`UsesCache`]; cloned (one `Arc`
/// increment) so the body may move its captures.
pub fn cache_of<S: UsesCache + ?Sized>(source: &S) -> Cache {
    source.cache().clone()
}

/// The locks behind `locks = <expr>` of `#[locked]`, or `self`: `Locks`, a reference
/// to them, or anything that [`UsesLocks`]; cloned so the body may move its captures.
pub fn locks_of<S: UsesLocks + ?Sized>(source: &S) -> Locks {
    source.locks().clone()
}

/// Whether a `#[cache_evict]` function succeeded, so its key is evicted.
#[diagnostic::on_unimplemented(
    message = "#[cache_evict] cannot tell whether `{Self}` means success",
    label = "return `Result<T, E>` (evicts on `Ok`), `Option<T>`, `bool`, `u64` or `()`",
    note = "the key is evicted after the function succeeds, so its return type must say whether it did"
)]
pub trait EvictOutput {
    /// Whether to evict.
    fn succeeded(&self) -> bool;
}

impl<T, E> EvictOutput for Result<T, E> {
    fn succeeded(&self) -> bool {
        self.is_ok()
    }
}

/// A write returning `Option` (the old row, say) succeeded whichever it returned.
impl<T> EvictOutput for Option<T> {
    fn succeeded(&self) -> bool {
        true
    }
}

impl EvictOutput for () {
    fn succeeded(&self) -> bool {
        true
    }
}

/// `false` means nothing was written; there is nothing to evict.
impl EvictOutput for bool {
    fn succeeded(&self) -> bool {
        *self
    }
}

/// Rows affected.
impl EvictOutput for u64 {
    fn succeeded(&self) -> bool {
        true
    }
}
