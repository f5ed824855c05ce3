//! The SQL engines txova-db speaks: the ground every layer above names, and the one
//! place that lists them.
//!
//! An engine is a sqlx driver txova-db knows. Everything that differs per engine is
//! reached through the macros of this module, so an engine is added in three places
//! under two folders: its variant in [`Backend`] and in the four macros below, its
//! [`Engine`] impl in `backend/<engine>.rs` (how its errors read), and its `Driver` impl
//! in `db/driver/<engine>.rs` (how its sessions connect, run, cancel and end).
//!
//! - [`per_engine!`] declares an enum with one variant per enabled engine (the pool, a
//!   transaction's connection, a row), each holding a type alias applied to the
//!   engine's sqlx database type, with a `From` for each.
//! - [`with_engine!`] matches such an enum, running one generic body with the variant's
//!   value and the engine's type.
//! - [`for_backend!`] runs a generic body for the engine a [`Backend`] value names.
//! - [`each_engine!`] runs a body once for every enabled engine.

use std::fmt;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use crate::error::ErrorKind;
/// Which engine reported a [`DatabaseError`](crate::DatabaseError), and so how to read its code.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Backend, Db};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// assert_eq!(db.backend(), Backend::Sqlite);
/// assert_eq!(Backend::Postgres.to_string(), "postgres");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// PostgreSQL (and wire-compatible servers such as CockroachDB): codes are SQLSTATEs.
    Postgres,
    /// SQLite: codes are extended result codes.
    Sqlite,
    /// MySQL / MariaDB: codes are server error numbers.
    MySql,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
            Self::MySql => "mysql",
        })
    }
}

/// A sqlx driver txova-db speaks: what the ground floor needs of it.
pub(crate) trait Engine: sqlx::Database {
    /// Which engine this is.
    const BACKEND: Backend;

    /// Reads `error` if this engine's driver reported it.
    fn read_error(error: &dyn sqlx::error::DatabaseError) -> Option<ServerError>;
}

/// What a database error says, read by the engine that reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerError {
    pub(crate) backend: Backend,
    pub(crate) kind: ErrorKind,
    /// The engine's own code: a SQLSTATE, an extended result code, an error number.
    pub(crate) code: String,
    pub(crate) constraint: Option<String>,
    pub(crate) table: Option<String>,
    /// The server's message without the values of rows it may quote: what errors show.
    pub(crate) message: String,
}

/// How an engine's `Value` goes into the enum [`per_engine!`] declared for its kind.
/// (Implemented on the engine, not the value: the value types are projections such as
/// `<Postgres as Database>::Row`, which coherence cannot tell apart.)
pub(crate) trait Wrap<PerEngine, Value> {
    fn wrap(value: Value) -> PerEngine;
}

/// Declares `enum $name` with one variant per enabled engine, each holding
/// `$of<engine>` (a type alias, so it may name a type whose parameter needs more than
/// [`Engine`]), and a [`Wrap`] into it for each.
///
/// ```text
/// type PoolOf<D> = ConnPool<D>;
/// per_engine! {
///     /// The pool, per engine.
///     pub(crate) enum Pool = PoolOf;
/// }
/// ```
macro_rules! per_engine {
    ($(#[$attr:meta])* $vis:vis enum $name:ident = $of:ident;) => {
        $(#[$attr])*
        $vis enum $name {
            #[cfg(feature = "postgres")]
            Postgres($of<sqlx::Postgres>),
            #[cfg(feature = "sqlite")]
            Sqlite($of<sqlx::Sqlite>),
            #[cfg(feature = "mysql")]
            MySql($of<sqlx::MySql>),
        }

        #[cfg(feature = "postgres")]
        impl $crate::backend::Wrap<$name, $of<sqlx::Postgres>> for sqlx::Postgres {
            fn wrap(value: $of<sqlx::Postgres>) -> $name {
                $name::Postgres(value)
            }
        }

        #[cfg(feature = "sqlite")]
        impl $crate::backend::Wrap<$name, $of<sqlx::Sqlite>> for sqlx::Sqlite {
            fn wrap(value: $of<sqlx::Sqlite>) -> $name {
                $name::Sqlite(value)
            }
        }

        #[cfg(feature = "mysql")]
        impl $crate::backend::Wrap<$name, $of<sqlx::MySql>> for sqlx::MySql {
            fn wrap(value: $of<sqlx::MySql>) -> $name {
                $name::MySql(value)
            }
        }
    };
}

/// Matches `$value` (an enum declared by [`per_engine!`], or a reference to one) and
/// runs `$body` with `$x` bound to the variant's value and `$engine` naming the
/// engine's sqlx database type.
macro_rules! with_engine {
    ($value:expr, $enum:ty, |$x:ident, $engine:ident| $body:expr) => {{
        type PerEngine = $enum;
        match $value {
            #[cfg(feature = "postgres")]
            PerEngine::Postgres($x) => {
                #[allow(dead_code)]
                type $engine = sqlx::Postgres;
                $body
            }
            #[cfg(feature = "sqlite")]
            PerEngine::Sqlite($x) => {
                #[allow(dead_code)]
                type $engine = sqlx::Sqlite;
                $body
            }
            #[cfg(feature = "mysql")]
            PerEngine::MySql($x) => {
                #[allow(dead_code)]
                type $engine = sqlx::MySql;
                $body
            }
        }
    }};
}

/// Runs `$body` with `$engine` naming the sqlx database type of the engine `$backend`
/// names, or `$disabled` when that engine's feature is off.
macro_rules! for_backend {
    ($backend:expr, |$engine:ident| $body:expr, else $disabled:expr) => {
        match $backend {
            #[cfg(feature = "postgres")]
            $crate::Backend::Postgres => {
                #[allow(dead_code)]
                type $engine = sqlx::Postgres;
                $body
            }
            #[cfg(feature = "sqlite")]
            $crate::Backend::Sqlite => {
                #[allow(dead_code)]
                type $engine = sqlx::Sqlite;
                $body
            }
            #[cfg(feature = "mysql")]
            $crate::Backend::MySql => {
                #[allow(dead_code)]
                type $engine = sqlx::MySql;
                $body
            }
            #[allow(unreachable_patterns)]
            _ => $disabled,
        }
    };
}

/// Runs `$body` once for every enabled engine, with `$engine` naming its sqlx database
/// type.
macro_rules! each_engine {
    (|$engine:ident| $body:block) => {
        #[cfg(feature = "postgres")]
        {
            #[allow(dead_code)]
            type $engine = sqlx::Postgres;
            $body
        }
        #[cfg(feature = "sqlite")]
        {
            #[allow(dead_code)]
            type $engine = sqlx::Sqlite;
            $body
        }
        #[cfg(feature = "mysql")]
        {
            #[allow(dead_code)]
            type $engine = sqlx::MySql;
            $body
        }
    };
}

pub(crate) use {for_backend, per_engine, with_engine};

/// Reads a database error with whichever enabled engine reported it; `None` for a
/// driver txova-db does not know (sqlx's `Any`).
pub(crate) fn read_error(error: &dyn sqlx::error::DatabaseError) -> Option<ServerError> {
    each_engine!(|E| {
        if let Some(read) = <E as Engine>::read_error(error) {
            return Some(read);
        }
    });
    None
}
