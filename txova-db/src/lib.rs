#![doc = include_str!("../../README.md")]
#![forbid(unsafe_code)]

pub mod config;
pub mod db;
pub mod error;
pub mod query;
pub mod row;
pub mod types;

#[doc(hidden)]
pub mod __private;

pub use config::{DatabaseUrl, DbConfig};
pub use db::{Db, DbStats};
pub use error::{Backend, ConfigError, DatabaseError, Error, ErrorKind};
pub use query::{Query, query};
pub use row::{ColumnRef, Row};

/// The sqlx version txova-db drives, for code that needs the driver directly (a
/// [`Db`] can also be built from an `sqlx` pool with `From`).
pub use sqlx;

/// `Result<T, txova_db::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
