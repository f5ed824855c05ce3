#![doc = include_str!("../../README.md")]
#![forbid(unsafe_code)]

mod backend;
pub mod cache;
pub mod column;
pub mod config;
pub mod db;
pub mod error;
pub mod executor;
pub mod expr;
pub mod health;
pub mod lock;
pub mod migrate;
pub mod n_plus_one;
pub mod observability;
pub mod page;
pub mod plan;
pub mod query;
pub mod rate_limit;
pub mod resilience;
pub mod row;
pub mod schema;
pub mod select;
pub mod session;
pub mod sql;
pub mod store;
pub mod table;
pub mod testing;
pub mod transaction;
pub mod types;
pub mod write;

#[cfg(test)]
mod layering;
mod seconds;
mod token;

#[doc(hidden)]
pub mod __private;

pub use column::{AnyColumn, Column, Direction, IntoValue, Order};
pub use config::{DatabaseUrl, DbConfig};
pub use db::{
    Connection, Db, DbStats, ListenEvent, Listener, Notification, Prepared, PreparedColumn,
};
pub use error::{AbortCause, Backend, ConfigError, DatabaseError, Error, ErrorKind};
pub use executor::{ExecuteResult, Executor, RowStream};
pub use expr::{Expr, FullJoin, Join, LeftJoin, RightJoin};
pub use migrate::Migrator;
pub use page::{KeysetPage, KeysetRequest, Page, PageRequest};
pub use plan::{Buffers, IndexAdvice, Plan, PlanNode};
pub use query::{Query, query};
pub use row::{ColumnRef, Row};
pub use schema::{SchemaProblem, SchemaReport, TablesReport, verify_schema, verify_tables};
pub use select::{On, Select, avg, count, count_of, exists, max, min, not_exists, scalar, sum};
pub use table::{PrimaryKey, Table};
pub use transaction::{Isolation, RetryPolicy, Transaction, Tx, TxOptions, UsesDb};
pub use types::Redacted;
pub use write::{Delete, Insert, Update};

/// `#[derive(Table)]`: see [`Table`].
pub use txova_db_macros::Table;
// `alias!`'s SQL name, in snake case; not public API.
#[doc(hidden)]
pub use txova_db_macros::__alias_name;

/// Caches an async function's `Ok` or `Some` value in a [`cache::Cache`], keyed by a
/// template over its parameters; see [`cache::Cache::get_or_set`] for what happens on a
/// hit, a miss, concurrent misses and a cache outage.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use txova_db::cache::{Cache, UsesCache};
/// use txova_db::{Error, cache_evict, cached};
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct Profile {
///     id: i64,
///     name: String,
/// }
///
/// struct Profiles {
///     cache: Cache,
/// }
///
/// impl UsesCache for Profiles {
///     fn cache(&self) -> &Cache {
///         &self.cache
///     }
/// }
///
/// impl Profiles {
///     #[cached(key = "user:profile:<id>", ttl = "15m")]
///     async fn profile(&self, id: i64) -> Result<Profile, Error> {
///         Ok(Profile { id, name: "Ana".into() }) // a database read, in real code
///     }
///
///     #[cache_evict(key = "user:profile:<id>")]
///     async fn rename(&self, id: i64, name: &str) -> Result<(), Error> {
///         Ok(()) // a database write, in real code
///     }
/// }
/// ```
///
/// Placeholders name parameters (`<id>`) or their fields (`<req.user_id>`, `<self.tenant>`)
/// and are escaped with [`cache::CacheKey`]; a placeholder naming no parameter, a bad
/// `ttl`, a non-async function or a return type that cannot be cached is a compile
/// error. Inside a transaction the cache is bypassed.
pub use txova_db_macros::cached;

/// Evicts a cache key (same template as [`cached`]) after the function succeeds — after
/// the commit, when it runs inside a transaction. Stack it to evict several keys.
pub use txova_db_macros::cache_evict;

/// Runs an async method under a distributed lock ([`lock::Locks::run_locked`]): the
/// name template is that of [`cached`], and the lock `lock:{ride:assign:42}` is held
/// (extended by the watchdog) until the body's future completes.
///
/// ```
/// use txova_db::lock::{Locks, UsesLocks};
/// use txova_db::{Error, locked};
///
/// struct Dispatch {
///     locks: Locks,
/// }
///
/// impl UsesLocks for Dispatch {
///     fn locks(&self) -> &Locks {
///         &self.locks
///     }
/// }
///
/// impl Dispatch {
///     #[locked("ride:assign:<ride_id>", ttl = "30s", wait = "5s")]
///     async fn assign(&self, ride_id: i64, driver_id: i64) -> Result<u64, Error> {
///         // Only one process assigns ride `ride_id` at a time; the fencing token
///         // orders the assignments for the storage that records them.
///         let lease = txova_db::lock::current().expect("inside #[locked]");
///         Ok(lease.fencing_token())
///     }
/// }
/// # let dispatch = Dispatch { locks: Locks::new(txova_db::store::Store::embedded()) };
/// # let token = tokio::runtime::Runtime::new().unwrap().block_on(dispatch.assign(7, 1)).unwrap();
/// # assert!(token > 0);
/// ```
///
/// Arguments after the name: `ttl`, `wait` (a lock still held after it is
/// `Err(Error::LockNotAcquired)`, converted by `From`), `watchdog = false`, and
/// `locks = <expr>` for free functions. The function must return `Result<T, E>` with
/// `E: From<txova_db::Error>`.
pub use txova_db_macros::locked;

/// Builds a [`Migrator`] from a directory of migrations embedded in the binary at
/// compile time (path relative to the crate's `Cargo.toml`); file names are checked
/// while compiling.
///
/// ```
/// # fn demo() -> txova_db::Result<()> {
/// let migrator = txova_db::embed_migrations!("../migrations/sqlite")?;
/// assert!(!migrator.migrations().is_empty());
/// # Ok(()) }
/// # demo().unwrap();
/// ```
pub use txova_db_macros::embed_migrations;

/// Runs an async function's body in a transaction (see [`Db::transaction`]).
///
/// ```
/// use txova_db::{Db, Error, UsesDb, transactional};
///
/// struct Rides {
///     db: Db,
/// }
///
/// impl UsesDb for Rides {
///     fn db(&self) -> &Db {
///         &self.db
///     }
/// }
///
/// impl Rides {
///     #[transactional(isolation = "serializable", retries = 5)]
///     async fn assign(&self, ride: i64, driver: i64) -> Result<(), Error> {
///         txova_db::query("UPDATE rides SET driver_id = $1 WHERE id = $2")
///             .bind(driver)
///             .bind(ride)
///             .execute(&self.db)
///             .await?;
///         Ok(())
///     }
/// }
///
/// #[transactional(db = db, read_only)]
/// async fn count_rides(db: &Db) -> Result<i64, Error> {
///     txova_db::query("SELECT count(*) FROM rides").fetch_one(db).await?.try_get(0)
/// }
/// ```
///
/// The body may run more than once (retries), so it cannot move its arguments out;
/// clone what it needs to own.
pub use txova_db_macros::transactional;

/// The redis-rs version txova-db drives, for commands built with `redis::cmd` and run
/// through [`store::RedisClient::query`].
#[cfg(feature = "redis")]
pub use redis;

/// The sqlx version txova-db drives, for code that needs the driver directly (a
/// [`Db`] can also be built from an `sqlx` pool with `From`).
pub use sqlx;

/// `Result<T, txova_db::Error>`.
///
/// ```
/// async fn count_users(db: &txova_db::Db) -> txova_db::Result<i64> {
///     txova_db::query("SELECT count(*) FROM users").fetch_one(db).await?.try_get(0)
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The task-oriented guide, `docs/USAGE.md`: its examples are compiled and run as doc
/// tests, so the guide cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../docs/USAGE.md")]
pub struct UsageGuide;
