#![doc = include_str!("../../README.md")]
#![forbid(unsafe_code)]

pub mod column;
pub mod config;
pub mod db;
pub mod error;
pub mod executor;
pub mod expr;
pub mod page;
pub mod query;
pub mod row;
pub mod schema;
pub mod select;
pub mod sql;
pub mod table;
pub mod transaction;
pub mod types;
pub mod write;

#[doc(hidden)]
pub mod __private;

pub use column::{AnyColumn, Column, Direction, IntoValue, Order};
pub use config::{DatabaseUrl, DbConfig};
pub use db::{Db, DbStats};
pub use error::{Backend, ConfigError, DatabaseError, Error, ErrorKind};
pub use executor::Executor;
pub use expr::{Expr, Join};
pub use page::{KeysetPage, KeysetRequest, Page, PageRequest};
pub use query::{Query, query};
pub use row::{ColumnRef, Row};
pub use schema::{SchemaProblem, SchemaReport, verify_schema};
pub use select::{Select, avg, count, count_of, max, min, sum};
pub use table::{PrimaryKey, Table};
pub use transaction::{Isolation, RetryPolicy, Tx, TxOptions};
pub use write::{Delete, Insert, Update};

/// `#[derive(Table)]`: see [`Table`].
pub use txova_db_macros::Table;

/// The sqlx version txova-db drives, for code that needs the driver directly (a
/// [`Db`] can also be built from an `sqlx` pool with `From`).
pub use sqlx;

/// `Result<T, txova_db::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
