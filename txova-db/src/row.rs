//! [`Row`]: one result row from whichever backend ran the statement.

use std::fmt;

use crate::backend::{per_engine, with_engine};
use crate::error::Error;
use crate::types::Decode;

/// A column of a [`Row`], by position (from 0) or by name.
///
/// `usize` and `&str` convert into it, so `row.try_get::<i64>(0)` and
/// `row.try_get::<i64>("id")` both work.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::Db;
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let row = txova_db::query("SELECT 7 AS id, 'Ana' AS name").fetch_one(&db).await?;
/// assert_eq!(row.try_get::<i64>(0)?, 7); // by position
/// assert_eq!(row.try_get::<String>("name")?, "Ana"); // by name
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRef<'a> {
    /// The column at this position, counting from 0.
    Index(usize),
    /// The column with this name (as the statement's result names it).
    Name(&'a str),
}

impl From<usize> for ColumnRef<'_> {
    fn from(index: usize) -> Self {
        Self::Index(index)
    }
}

impl<'a> From<&'a str> for ColumnRef<'a> {
    fn from(name: &'a str) -> Self {
        Self::Name(name)
    }
}

impl fmt::Display for ColumnRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Index(i) => write!(f, "#{i}"),
            Self::Name(n) => f.write_str(n),
        }
    }
}

/// One row of a result set.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// let db = txova_db::Db::connect("sqlite::memory:").await?;
/// let row = txova_db::query("SELECT 7 AS n, 'seven' AS word").fetch_one(&db).await?;
/// assert_eq!(row.try_get::<i64>("n")?, 7);
/// assert_eq!(row.try_get::<String>(1)?, "seven");
/// assert_eq!(row.column_names(), ["n", "word"]);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub struct Row(pub(crate) RowInner);

/// A sqlx row of engine `E`.
type RowOf<E> = <E as sqlx::Database>::Row;

per_engine! {
    /// The driver's row, per engine.
    pub(crate) enum RowInner = RowOf;
}

/// Runs `$body` with `$row` bound to the backend row, whatever the backend.
macro_rules! with_row {
    ($self:expr, |$row:ident| $body:expr) => {
        with_engine!(&$self.0, RowInner, |$row, _E| $body)
    };
}

impl Row {
    /// The address of the row's column list: the same for every row of one result.
    fn columns_address(&self) -> usize {
        use sqlx::Row as _;
        with_row!(self, |row| row.columns().as_ptr() as usize)
    }

    /// Column `index` as text whatever its type is named, where the backend sends text
    /// in that type's bytes (Postgres' `json`, which `EXPLAIN (FORMAT JSON)` returns
    /// and `String` does not decode); `None` when it is not UTF-8 or not there.
    pub(crate) fn text_bytes(&self, index: usize) -> Option<String> {
        match &self.0 {
            #[cfg(feature = "postgres")]
            RowInner::Postgres(row) => {
                let raw = sqlx::Row::try_get_raw(row, index).ok()?;
                let bytes = raw.as_bytes().ok()?;
                String::from_utf8(bytes.to_vec()).ok()
            }
            #[allow(unreachable_patterns)]
            _ => self.try_get::<String>(index).ok(),
        }
    }

    /// Decodes one column into `T`.
    ///
    /// Fails with [`ErrorKind::Decode`](crate::ErrorKind::Decode) when the column does not
    /// exist or its value does not fit `T`. NULL decodes only into `Option<T>`, on every
    /// backend (sqlx alone would turn a SQLite NULL into `""` or `0`).
    pub fn try_get<'a, T: Decode>(&self, column: impl Into<ColumnRef<'a>>) -> Result<T, Error> {
        let column = column.into();
        let decoded = with_row!(self, |row| decode_column::<_, T>(row, column));
        decoded.map_err(|source| Error::Decode {
            column: column.to_string(),
            source,
        })
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        use sqlx::Row as _;
        with_row!(self, |row| row.len())
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        use sqlx::{Column as _, Row as _};
        with_row!(self, |row| row.columns().iter().map(|c| c.name()).collect())
    }

    /// The underlying Postgres row, for decoding with sqlx directly.
    #[cfg(feature = "postgres")]
    pub fn as_postgres(&self) -> Option<&sqlx::postgres::PgRow> {
        match &self.0 {
            RowInner::Postgres(row) => Some(row),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The underlying SQLite row, for decoding with sqlx directly.
    #[cfg(feature = "sqlite")]
    pub fn as_sqlite(&self) -> Option<&sqlx::sqlite::SqliteRow> {
        match &self.0 {
            RowInner::Sqlite(row) => Some(row),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

/// Decodes one column, refusing NULL for a type that cannot hold it.
///
/// sqlx hands NULL to the target type's decoder. Postgres decoders reject it, but
/// SQLite's read NULL as `""` or `0`, and SQLite reports a NULL's type as the column's
/// declared type, so `Type::compatible` cannot tell `String` from `Option<String>`.
/// [`accepts_null`] decides instead, on every backend alike.
fn decode_column<R, T>(row: &R, column: ColumnRef<'_>) -> Result<T, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    T: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    use sqlx::ValueRef as _;
    // One lookup, then sqlx's own checks (`Row::try_get` would look the column up again).
    let raw = match column {
        ColumnRef::Index(i) => row.try_get_raw(i)?,
        ColumnRef::Name(n) => row.try_get_raw(n)?,
    };
    let decode_error = |source| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source,
    };
    if raw.is_null() {
        if !accepts_null::<T>() {
            return Err(decode_error(Box::new(sqlx::error::UnexpectedNullError)));
        }
    } else {
        let checked = match column {
            ColumnRef::Index(i) => Some((row.columns().as_ptr() as usize, i)),
            ColumnRef::Name(_) => None,
        };
        if !checked.is_some_and(|(columns, i)| CheckedColumns::has(columns, i)) {
            let ty = raw.type_info();
            // The type's own SQL type first: one comparison, where `compatible` may
            // build a list and compare against each entry (for `String` on Postgres,
            // six type descriptions a column, the larger part of a first row's checks).
            if !sqlx::TypeInfo::is_null(&*ty) && *ty != T::type_info() && !T::compatible(&ty) {
                return Err(decode_error(
                    format!(
                        "mismatched types; Rust type `{}` is not compatible with SQL type `{}`",
                        std::any::type_name::<T>(),
                        sqlx::TypeInfo::name(&*ty)
                    )
                    .into(),
                ));
            }
            if let Some((columns, i)) = checked {
                CheckedColumns::mark(columns, i);
            }
        }
    }
    T::decode(raw).map_err(decode_error)
}

thread_local! {
    /// The result a [`CheckedColumns::decode`] call is decoding a row of (the address
    /// of its column list; 0: none) and which of its columns' types are known to fit.
    /// Set only for the length of one synchronous decode, so a `Row` handed to user
    /// code never sees it.
    static CHECKED: std::cell::Cell<(usize, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// Which columns of one result a decoder has found to have the SQL types it reads, so
/// the rows after the first skip sqlx's `Type::compatible` (150 to 250 instructions a
/// value on Postgres, as much as decoding a short text).
///
/// Only for decoders that read each column as one fixed type (the derived tables and
/// the `.columns(..)` selections): for them, a column whose type fit once fits in every
/// row with the same column list. The list is identified by its address, which stays
/// put for a statement's whole result (its rows share it, and sqlx holds it until the
/// result ends); a new list starts over. Columns past the 64th, and columns read by
/// name, are checked in every row.
#[derive(Default)]
pub(crate) struct CheckedColumns {
    columns: usize,
    mask: u64,
}

impl CheckedColumns {
    /// Runs `decode` on `row`, trusting the columns checked in earlier rows of its
    /// result.
    pub(crate) fn decode<O>(
        &mut self,
        row: Row,
        decode: fn(Row) -> Result<O, Error>,
    ) -> Result<O, Error> {
        /// Takes the mask back when the decode ends, a panic included.
        struct Armed<'a>(&'a mut CheckedColumns);
        impl Drop for Armed<'_> {
            fn drop(&mut self) {
                self.0.mask = CHECKED.replace((0, 0)).1;
            }
        }

        let columns = row.columns_address();
        if columns != self.columns {
            *self = Self { columns, mask: 0 };
        }
        CHECKED.set((columns, self.mask));
        let _armed = Armed(self);
        decode(row)
    }

    fn has(columns: usize, index: usize) -> bool {
        let (armed, mask) = CHECKED.get();
        armed == columns && index < 64 && mask & (1 << index) != 0
    }

    fn mark(columns: usize, index: usize) {
        let (armed, mask) = CHECKED.get();
        if armed == columns && index < 64 {
            CHECKED.set((armed, mask | (1 << index)));
        }
    }
}

/// Whether `T` is an `Option`, the one decodable type that holds NULL.
///
/// Asked only for NULL values. `type_name` names the resolved type, so aliases of
/// `Option` are recognised; a wrapper around `Option` is not, and gets an error on NULL
/// rather than a made-up value.
fn accepts_null<T>() -> bool {
    crate::types::is_option(std::any::type_name::<T>())
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Row")
            .field("columns", &self.column_names())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::accepts_null;

    type MaybeName = Option<String>;

    #[test]
    fn only_options_accept_null() {
        assert!(accepts_null::<Option<i64>>());
        assert!(accepts_null::<MaybeName>());
        assert!(!accepts_null::<String>());
        assert!(!accepts_null::<Vec<Option<i64>>>());
    }
}
