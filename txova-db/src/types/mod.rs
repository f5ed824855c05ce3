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

/// The per-backend halves of [`Bind`] and [`Decode`]: bounds the public traits take,
/// named by macro expansions through `__private`.
#[doc(hidden)]
pub mod backend;
#[cfg(feature = "postgres")]
pub(crate) mod copy;
#[cfg(feature = "postgres")]
pub(crate) mod pg_array;
mod redacted;

pub use redacted::Redacted;

use std::fmt;

use backend::{
    DecodeMySql, DecodePostgres, DecodeSqlite, EncodeMySql, EncodePostgres, EncodeSqlite,
};

/// A value that can be bound as a statement parameter on every enabled backend.
///
/// Implemented for every `T: Debug + Send + Sync` that each enabled backend can encode.
/// `Debug` is required so a statement can be shown with its arguments.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// // Integers, floats, strings, bools, bytes, `Option`s of them (NULL), and with the
/// // features, chrono times, UUIDs and JSON.
/// let row = txova_db::query("SELECT $1 + 1, $2, $3 IS NULL")
///     .bind(41_i64)
///     .bind("Ana")
///     .bind(None::<i64>)
///     .fetch_one(&db)
///     .await?;
/// assert_eq!(row.try_get::<i64>(0)?, 42);
/// assert!(row.try_get::<bool>(2)?);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound as a SQL parameter on every enabled backend",
    label = "not a SQL value for all of txova-db's enabled backends",
    note = "integers, floats, bool, String/&str, Vec<u8>, Option<T>, chrono, uuid and serde_json::Value are supported"
)]
pub trait Bind: EncodePostgres + EncodeSqlite + EncodeMySql + fmt::Debug + Send + Sync {}

impl<T> Bind for T where T: EncodePostgres + EncodeSqlite + EncodeMySql + fmt::Debug + Send + Sync {}

/// A Rust type that every enabled backend can decode a column into.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let row = txova_db::query("SELECT 'Ana', NULL").fetch_one(&db).await?;
/// let name: String = row.try_get(0)?;
/// let missing: Option<String> = row.try_get(1)?; // NULL decodes only into an Option
/// assert_eq!((name.as_str(), missing), ("Ana", None));
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded from a column on every enabled backend",
    label = "not decodable by all of txova-db's enabled backends",
    note = "integers, floats, bool, String, Vec<u8>, Option<T>, chrono, uuid and serde_json::Value are supported"
)]
pub trait Decode: DecodePostgres + DecodeSqlite + DecodeMySql + Sized + Send {}

impl<T> Decode for T where T: DecodePostgres + DecodeSqlite + DecodeMySql + Sized + Send {}

/// A bound parameter, type-erased so statements can hold parameters of mixed types.
/// Plumbing between builders and drivers; implemented for every [`Bind`] type.
/// Held in an `Arc` so a built statement can be rendered (`to_sql()`) and run.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// // Every `Bind` value is a `Param` once bound; builders keep them type-erased.
/// let query = txova_db::query("SELECT $1").bind(7_i64);
/// assert_eq!(query.sql(), "SELECT $1");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[doc(hidden)]
pub trait Param: fmt::Debug + Send + Sync {
    /// Adds this value to the statement's argument buffer, whichever backend's it is.
    fn add_to(&self, args: backend::Arguments<'_>) -> Result<(), sqlx::error::BoxDynError>;

    /// The OID of the Postgres type this value encodes as, if the driver knows it (a
    /// type named only by name, like a custom enum, has none until asked of the server).
    /// By default none, which keeps the value out of binary `COPY`.
    #[cfg(feature = "postgres")]
    fn postgres_oid(&self) -> Option<u32> {
        None
    }

    /// Writes this value in Postgres' binary format (the bytes of a `COPY … (FORMAT
    /// binary)` field, without its length); whether it is NULL.
    #[cfg(feature = "postgres")]
    fn encode_postgres(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        let _ = buf;
        Err(format!("{self:?} has no Postgres binary encoding here").into())
    }
}

impl<T: Bind> Param for T {
    fn add_to(&self, args: backend::Arguments<'_>) -> Result<(), sqlx::error::BoxDynError> {
        args.push(self)
    }

    #[cfg(feature = "postgres")]
    fn postgres_oid(&self) -> Option<u32> {
        sqlx::Encode::<sqlx::Postgres>::produces(self)
            .unwrap_or_else(<T as sqlx::Type<sqlx::Postgres>>::type_info)
            .oid()
            .map(|oid| oid.0)
    }

    #[cfg(feature = "postgres")]
    fn encode_postgres(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        sqlx::Encode::<sqlx::Postgres>::encode_by_ref(self, buf)
    }
}

/// Whether a type name (from `std::any::type_name`) names an `Option`.
///
/// `type_name` names the resolved type, so aliases of `Option` count as `Option`.
pub(crate) fn is_option(type_name: &str) -> bool {
    type_name.starts_with("core::option::Option<")
}

/// The SQL type the driver of `backend` uses for `T`, where `T` is known to it.
#[doc(hidden)]
pub fn sql_type_of<T: Decode>(backend: crate::Backend) -> Option<String> {
    use sqlx::TypeInfo as _;
    crate::backend::for_backend!(
        backend,
        |E| Some(<T as sqlx::Type<E>>::type_info().name().to_owned()),
        else None
    )
}
