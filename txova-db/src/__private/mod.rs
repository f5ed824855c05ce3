//! Items the macros' expansions and the public traits' bounds need. Not a public API:
//! nothing here follows semver.

pub mod array;
pub mod backend;

pub use array::{ArrayParamFallback, ArrayParamViaPostgres, ArrayProbe};

pub use crate::column::{Column, Direction, Order};
pub use crate::db::Db;
pub use crate::error::{Error, InvalidSortKey};
pub use crate::row::Row;
pub use crate::select::OrderTerm;
pub use crate::table::{ColumnInfo, PrimaryKey, Table};
pub use crate::transaction::{Isolation, Tx, TxOptions, UsesDb};
pub use crate::types::{Param, sql_type_of};
pub use serde;

pub use std::sync::Arc;

/// The field's type name, for `ColumnInfo` (nullability, schema checks).
pub fn type_name_of<V>() -> &'static str {
    std::any::type_name::<V>()
}

/// The `Db` behind `db = <expr>` of `#[transactional]`: a `Db`, a reference to one, or
/// anything that [`UsesDb`].
pub fn db_of<S: UsesDb + ?Sized>(source: &S) -> &Db {
    source.db()
}
