//! Per-backend halves of [`Bind`](crate::types::Bind) and [`Decode`](crate::types::Decode),
//! and the one place a parameter meets a backend's argument buffer ([`Arguments`](crate::types::backend::Arguments)).
//!
//! Each trait asks for the sqlx encode/decode impls of one backend when its feature is
//! on, and is implemented for every type when it is off, so the public traits require
//! exactly the enabled backends.

#[cfg(feature = "postgres")]
mod postgres {
    use sqlx::Postgres;

    /// Encodable by the Postgres driver.
    pub trait EncodePostgres: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> {}
    impl<T: ?Sized + for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres>> EncodePostgres for T {}

    /// Decodable by the Postgres driver.
    pub trait DecodePostgres: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres> {}
    impl<T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>> DecodePostgres for T {}
}
#[cfg(not(feature = "postgres"))]
mod postgres {
    /// Postgres is not enabled: no requirement.
    pub trait EncodePostgres {}
    impl<T: ?Sized> EncodePostgres for T {}
    /// Postgres is not enabled: no requirement.
    pub trait DecodePostgres {}
    impl<T> DecodePostgres for T {}
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use sqlx::Sqlite;

    /// Encodable by the SQLite driver.
    pub trait EncodeSqlite: for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite> {}
    impl<T: ?Sized + for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite>> EncodeSqlite for T {}

    /// Decodable by the SQLite driver.
    pub trait DecodeSqlite: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite> {}
    impl<T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>> DecodeSqlite for T {}
}
#[cfg(not(feature = "sqlite"))]
mod sqlite {
    /// SQLite is not enabled: no requirement.
    pub trait EncodeSqlite {}
    impl<T: ?Sized> EncodeSqlite for T {}
    /// SQLite is not enabled: no requirement.
    pub trait DecodeSqlite {}
    impl<T> DecodeSqlite for T {}
}

#[cfg(feature = "mysql")]
mod mysql {
    use sqlx::MySql;

    /// Encodable by the MySQL driver.
    pub trait EncodeMySql: for<'q> sqlx::Encode<'q, MySql> + sqlx::Type<MySql> {}
    impl<T: ?Sized + for<'q> sqlx::Encode<'q, MySql> + sqlx::Type<MySql>> EncodeMySql for T {}

    /// Decodable by the MySQL driver.
    pub trait DecodeMySql: for<'r> sqlx::Decode<'r, MySql> + sqlx::Type<MySql> {}
    impl<T: for<'r> sqlx::Decode<'r, MySql> + sqlx::Type<MySql>> DecodeMySql for T {}
}
#[cfg(not(feature = "mysql"))]
mod mysql {
    /// MySQL is not enabled: no requirement.
    pub trait EncodeMySql {}
    impl<T: ?Sized> EncodeMySql for T {}
    /// MySQL is not enabled: no requirement.
    pub trait DecodeMySql {}
    impl<T> DecodeMySql for T {}
}

pub use mysql::{DecodeMySql, EncodeMySql};
pub use postgres::{DecodePostgres, EncodePostgres};
pub use sqlite::{DecodeSqlite, EncodeSqlite};

/// One backend's argument buffer, which a [`Param`](crate::types::Param) adds itself to:
/// the only per-backend choice a parameter makes, so a new backend is a new variant.
#[non_exhaustive]
pub enum Arguments<'a> {
    /// Postgres' buffer.
    #[cfg(feature = "postgres")]
    Postgres(&'a mut sqlx::postgres::PgArguments),
    /// SQLite's buffer.
    #[cfg(feature = "sqlite")]
    Sqlite(&'a mut sqlx::sqlite::SqliteArguments),
    /// MySQL's buffer.
    #[cfg(feature = "mysql")]
    MySql(&'a mut sqlx::mysql::MySqlArguments),
    #[doc(hidden)]
    _Lifetime(
        std::marker::PhantomData<&'a mut ()>,
        std::convert::Infallible,
    ),
}

impl Arguments<'_> {
    /// The same buffer for one more value, so one [`Param`](crate::types::Param) can
    /// add several in turn.
    pub(crate) fn reborrow(&mut self) -> Arguments<'_> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(args) => Arguments::Postgres(args),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(args) => Arguments::Sqlite(args),
            #[cfg(feature = "mysql")]
            Self::MySql(args) => Arguments::MySql(args),
            Self::_Lifetime(_, never) => match *never {},
        }
    }

    /// Adds `value` with the driver of this buffer's backend.
    pub fn push<T: crate::types::Bind>(self, value: &T) -> Result<(), sqlx::error::BoxDynError> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(args) => sqlx::Arguments::add(args, value),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(args) => sqlx::Arguments::add(args, value),
            #[cfg(feature = "mysql")]
            Self::MySql(args) => sqlx::Arguments::add(args, value),
            Self::_Lifetime(_, never) => match never {},
        }
    }
}
