//! Which Rust types can be bound as parameters and decoded from rows.
//!
//! txova-db runs the same statement on whichever backend a [`Db`](crate::Db) connected
//! to, so a parameter type must be encodable, and a column type decodable, by *every*
//! backend enabled in this build. [`Bind`] and [`Decode`] say exactly that, and are
//! implemented automatically: integers, floats, `bool`, `String`/`&str`, `Vec<u8>`,
//! `Option<T>` of those, and — with their features — `chrono`, `uuid` and JSON types.
//!
//! ```
//! use txova_db::types::{Bind, Decode};
//!
//! fn takes_bind<T: Bind>(_: T) {}
//! fn takes_decode<T: Decode>() {}
//!
//! takes_bind(42_i64);
//! takes_bind("text");
//! takes_bind(Some(1.5_f64));
//! takes_decode::<String>();
//! takes_decode::<Option<i32>>();
//! ```

use std::fmt;

use crate::__private::backend::{
    DecodeMySql, DecodePostgres, DecodeSqlite, EncodeMySql, EncodePostgres, EncodeSqlite,
};

/// A value that can be bound as a statement parameter on every enabled backend.
///
/// Implemented for every `T: Debug + Send + Sync` that each enabled backend can encode.
/// `Debug` is required so a statement can be shown with its arguments.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound as a SQL parameter on every enabled backend",
    label = "not a SQL value for all of txova-db's enabled backends",
    note = "integers, floats, bool, String/&str, Vec<u8>, Option<T>, chrono, uuid and serde_json::Value are supported"
)]
pub trait Bind: EncodePostgres + EncodeSqlite + EncodeMySql + fmt::Debug + Send + Sync {}

impl<T> Bind for T where T: EncodePostgres + EncodeSqlite + EncodeMySql + fmt::Debug + Send + Sync {}

/// A Rust type that every enabled backend can decode a column into.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded from a column on every enabled backend",
    label = "not decodable by all of txova-db's enabled backends",
    note = "integers, floats, bool, String, Vec<u8>, Option<T>, chrono, uuid and serde_json::Value are supported"
)]
pub trait Decode: DecodePostgres + DecodeSqlite + DecodeMySql + Sized + Send {}

impl<T> Decode for T where T: DecodePostgres + DecodeSqlite + DecodeMySql + Sized + Send {}

/// A bound parameter, type-erased so statements can hold parameters of mixed types.
pub(crate) trait Param: fmt::Debug + Send + Sync {
    #[cfg(feature = "postgres")]
    fn add_to_postgres(
        &self,
        args: &mut sqlx::postgres::PgArguments,
    ) -> Result<(), sqlx::error::BoxDynError>;
    #[cfg(feature = "sqlite")]
    fn add_to_sqlite(
        &self,
        args: &mut sqlx::sqlite::SqliteArguments,
    ) -> Result<(), sqlx::error::BoxDynError>;
    #[cfg(feature = "mysql")]
    fn add_to_mysql(
        &self,
        args: &mut sqlx::mysql::MySqlArguments,
    ) -> Result<(), sqlx::error::BoxDynError>;
}

impl<T: Bind> Param for T {
    #[cfg(feature = "postgres")]
    fn add_to_postgres(
        &self,
        args: &mut sqlx::postgres::PgArguments,
    ) -> Result<(), sqlx::error::BoxDynError> {
        sqlx::Arguments::add(args, self)
    }
    #[cfg(feature = "sqlite")]
    fn add_to_sqlite(
        &self,
        args: &mut sqlx::sqlite::SqliteArguments,
    ) -> Result<(), sqlx::error::BoxDynError> {
        sqlx::Arguments::add(args, self)
    }
    #[cfg(feature = "mysql")]
    fn add_to_mysql(
        &self,
        args: &mut sqlx::mysql::MySqlArguments,
    ) -> Result<(), sqlx::error::BoxDynError> {
        sqlx::Arguments::add(args, self)
    }
}
