//! The [`Table`] trait that `#[derive(Table)]` implements, and the repository helpers
//! every table gets from it.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::column::{AnyColumn, Column, IntoValue};
use crate::error::{Backend, Error};
use crate::executor::Executor;
use crate::row::Row;
use crate::select::Select;
use crate::sql::cache::{Helper, statement};
use crate::types::{Bind, Param};
use crate::write::{Delete, Insert, Unfiltered, Update};

/// One column of a table's allowlist, as `#[derive(Table)]` describes it.
///
/// ```
/// use txova_db::Table;
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// struct User {
///     #[column(primary_key, generated)]
///     id: i64,
///     #[column(name = "email_address", sortable)]
///     email: String,
///     #[column(secret)]
///     password_hash: String,
/// }
///
/// let email = &User::COLUMNS[1];
/// assert_eq!((email.name, email.field), ("email_address", "email"));
/// assert!(email.sortable && !email.primary_key);
/// assert!(User::COLUMNS[0].generated);
///
/// // A secret column's values are bound as themselves and shown as `***`.
/// assert!(User::COLUMNS[2].secret);
/// let login = User::select()
///     .filter(User::email.eq("ana@example.com") & User::password_hash.eq("$argon2id$v=19$..."))
///     .to_sql();
/// assert_eq!(login.params(), [r#""ana@example.com""#, "***"]);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ColumnInfo {
    /// The SQL name.
    pub name: &'static str,
    /// The Rust field name.
    pub field: &'static str,
    /// `#[column(primary_key)]`.
    pub primary_key: bool,
    /// `#[column(generated)]`: filled by the database, left out of INSERT and `save`.
    pub generated: bool,
    /// `#[column(sortable)]`: reachable from the generated sort enum.
    pub sortable: bool,
    /// `#[column(secret)]`: values bound through the column are [`Redacted`](crate::Redacted).
    pub secret: bool,
    #[doc(hidden)]
    pub rust_type: fn() -> &'static str,
    #[doc(hidden)]
    pub sql_type: fn(Backend) -> Option<String>,
}

impl ColumnInfo {
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        name: &'static str,
        field: &'static str,
        primary_key: bool,
        generated: bool,
        sortable: bool,
        secret: bool,
        rust_type: fn() -> &'static str,
        sql_type: fn(Backend) -> Option<String>,
    ) -> Self {
        Self {
            name,
            field,
            primary_key,
            generated,
            sortable,
            secret,
            rust_type,
            sql_type,
        }
    }

    /// Whether the field is an `Option`, i.e. the column may hold NULL.
    pub fn nullable(&self) -> bool {
        crate::types::is_option((self.rust_type)())
    }

    /// The Rust type of the field.
    pub fn rust_type(&self) -> &'static str {
        (self.rust_type)()
    }

    /// The SQL type the driver uses for the field's Rust type on `backend`.
    pub fn sql_type(&self, backend: Backend) -> Option<String> {
        (self.sql_type)(backend)
    }
}

/// A struct mapped to a table by `#[derive(Table)]`: its name, its column allowlist,
/// row decoding, and the query builders.
///
/// ```
/// use txova_db::Table;
///
/// #[derive(Table, Debug, Clone, PartialEq)]
/// #[table(name = "drivers")]
/// pub struct Driver {
///     #[column(primary_key, generated)]
///     pub id: i64,
///     #[column(sortable)]
///     pub name: String,
///     #[column(name = "vehicle_plate")]
///     pub plate: String,
///     pub available: bool,
/// }
///
/// # async fn demo() -> txova_db::Result<()> {
/// let db = txova_db::Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE drivers (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
///             vehicle_plate TEXT NOT NULL, available BOOLEAN NOT NULL)").await?;
/// let rui = Driver { id: 0, name: "Rui".into(), plate: "MZ-1".into(), available: true };
/// let rui = Driver::insert(&rui).returning().fetch_one(&db).await?;
/// assert_eq!(Driver::get(&db, rui.id).await?.plate, "MZ-1");
/// let free = Driver::select().filter(Driver::available.eq(true)).fetch_all(&db).await?;
/// assert_eq!(free, [rui]);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub trait Table: Sized + Send + Sync + Unpin + 'static {
    /// The table's SQL name.
    const NAME: &'static str;
    /// Every column, in field order: the allowlist for runtime names.
    const COLUMNS: &'static [ColumnInfo];
    /// [`COLUMNS`](Self::COLUMNS) as the typed builder selects them, each qualified
    /// with [`NAME`](Self::NAME), rendered when the type is derived: quoted with `"`
    /// (Postgres, SQLite) and with backticks (MySQL). `None`: rendered per statement.
    #[doc(hidden)]
    const __SELECT_LIST: Option<[&'static str; 2]> = None;
    /// The columns' field types, in order, as a tuple: what the query of a common
    /// table expression of this type selects ([`Cte`](crate::select::Cte)).
    type Values: Send + 'static;

    /// Decodes the row by position: the columns are [`COLUMNS`](Self::COLUMNS), in
    /// order, from `offset` (what the typed builder selects).
    #[doc(hidden)]
    fn __decode(row: &Row, offset: usize) -> Result<Self, Error>;

    /// Decodes the row by column name, for SQL whose column order is not known.
    #[doc(hidden)]
    fn __decode_named(row: &Row) -> Result<Self, Error>;

    #[doc(hidden)]
    fn __insert_values(&self, out: &mut Vec<Arc<dyn Param>>);

    /// Hands each insertable value to `visit`, in column order, without copying it
    /// (the bulk `COPY` path).
    #[doc(hidden)]
    fn __visit_insert_values(&self, visit: &mut dyn FnMut(&dyn Param)) {
        let mut values = Vec::new();
        self.__insert_values(&mut values);
        for value in &values {
            visit(&**value);
        }
    }

    #[doc(hidden)]
    fn __update_values(&self, out: &mut Vec<Arc<dyn Param>>);

    /// One array parameter per insertable column, for Postgres's `UNNEST` bulk insert;
    /// `None` when a column's type has no Postgres array type.
    #[doc(hidden)]
    fn __insert_arrays(rows: &[&Self]) -> Option<Vec<Arc<dyn Param>>> {
        let _ = rows;
        None
    }

    /// `SELECT` every column of this table.
    fn select() -> Select<Self, Self> {
        Select::of_table()
    }

    /// `INSERT` one row (generated columns are left to the database).
    fn insert(row: &Self) -> Insert<'_, Self> {
        Insert::rows(std::iter::once(row))
    }

    /// `INSERT` many rows: by binary `COPY` on Postgres when there are many and the
    /// table takes them so, otherwise as multi-row statements split to stay under the
    /// backend's bind-parameter limit; see [`Insert`].
    fn insert_many<'r>(rows: impl IntoIterator<Item = &'r Self>) -> Insert<'r, Self> {
        Insert::rows(rows)
    }

    /// `UPDATE`; needs `.set(..)`, and `.filter(..)` or `.all_rows()` before it runs.
    fn update() -> Update<Self, Unfiltered> {
        Update::new()
    }

    /// `DELETE`; needs `.filter(..)` or `.all_rows()` before it runs.
    fn delete() -> Delete<Self, Unfiltered> {
        Delete::new()
    }

    /// The `#[column(sortable)]` column with this SQL or field name, or
    /// [`Error::InvalidColumn`]: the way to turn user input into a column (see
    /// [`AnyColumn::named`]; [`AnyColumn::named_among`] takes an explicit list).
    fn column_named(name: &str) -> Result<AnyColumn<Self>, Error> {
        AnyColumn::named(name)
    }

    /// The row with this primary key, if there is one.
    fn find<'e, E: Executor, K: IntoValue<Self::Key>>(
        exec: &'e E,
        id: K,
    ) -> impl Future<Output = Result<Option<Self>, Error>> + Send + 'e
    where
        Self: PrimaryKey,
    {
        let params: [Arc<dyn Param>; 1] = [Self::KEY.bound(id.into_value())];
        async move {
            let sql = statement::<Self>(Helper::FindByKey, exec.backend(), || {
                Self::select()
                    .filter(Self::KEY.eq_placeholder())
                    .to_sql_for(exec.backend())
                    .sql
            });
            match exec.fetch_optional_statement(sql, &params).await? {
                Some(row) => Self::__decode(&row, 0).map(Some),
                None => Ok(None),
            }
        }
    }

    /// The row with this primary key, or [`Error::NotFound`].
    fn get<'e, E: Executor, K: IntoValue<Self::Key>>(
        exec: &'e E,
        id: K,
    ) -> impl Future<Output = Result<Self, Error>> + Send + 'e
    where
        Self: PrimaryKey,
    {
        let found = Self::find(exec, id);
        async move { found.await?.ok_or(Error::NotFound) }
    }

    /// Deletes the row with this primary key; `true` if there was one.
    fn delete_by_id<'e, E: Executor, K: IntoValue<Self::Key>>(
        exec: &'e E,
        id: K,
    ) -> impl Future<Output = Result<bool, Error>> + Send + 'e
    where
        Self: PrimaryKey,
    {
        let params: [Arc<dyn Param>; 1] = [Self::KEY.bound(id.into_value())];
        async move {
            let sql = statement::<Self>(Helper::DeleteByKey, exec.backend(), || {
                Self::delete()
                    .filter(Self::KEY.eq_placeholder())
                    .to_sql_for(exec.backend())
                    .sql
            });
            Ok(exec.execute_statement(sql, &params).await?.rows_affected() > 0)
        }
    }

    /// Writes every non-key, non-generated field of `self` to its row (found by primary
    /// key); [`Error::NotFound`] if the row is gone.
    fn save<'e, E: Executor>(
        &self,
        exec: &'e E,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'e
    where
        Self: PrimaryKey,
    {
        let update = Update::<Self, Unfiltered>::from_row(self)
            .filter(Self::KEY.eq(Self::KEY.get(self).clone()));
        async move {
            match update.execute(exec).await? {
                0 => Err(Error::NotFound),
                _ => Ok(()),
            }
        }
    }
}

/// A [`Table`] with a single-column primary key.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, PrimaryKey, Table};
///
/// #[derive(Table, Debug, PartialEq)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key)] id: i64, name: String }
///
/// // Generic over every table with a key: load a row or fail with NotFound.
/// async fn load<T: PrimaryKey>(db: &Db, key: T::Key) -> txova_db::Result<T> {
///     T::get(db, key).await
/// }
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await?;
/// db.execute("INSERT INTO users VALUES (7, 'Ana')").await?;
/// assert_eq!(load::<User>(&db, 7).await?.name, "Ana");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no primary key",
    label = "`find`, `get`, `save` and `delete_by_id` look rows up by primary key",
    note = "mark the key field with `#[column(primary_key)]`"
)]
pub trait PrimaryKey: Table {
    /// The key's type.
    type Key: Bind + Clone + 'static;
    /// The key column.
    const KEY: Column<Self, Self::Key>;
}

/// A table as a query names it: the table itself (every [`Table`] is one), or the
/// table under another name, [`Aliased`], so that one query can read it twice (a
/// self-join: a user and their referrer). Columns, conditions and joins are typed by
/// relation, so the two are never confused.
///
/// ```
/// use txova_db::table::Relation;
/// use txova_db::Table;
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key)] id: i64, referrer_id: Option<i64> }
///
/// txova_db::alias!(Referrer);
///
/// assert_eq!(<User as Relation>::QUALIFIER, "users");
/// assert_eq!(<txova_db::table::Aliased<User, Referrer> as Relation>::QUALIFIER, "referrer");
/// ```
pub trait Relation: Send + Sync + 'static {
    /// The table read.
    type Table: Table;
    /// The name its columns are qualified with: the table's name, or the alias.
    const QUALIFIER: &'static str;
}

impl<T: Table> Relation for T {
    type Table = T;
    const QUALIFIER: &'static str = T::NAME;
}

/// A name a query gives a table it reads twice; declared with [`alias!`](crate::alias),
/// used as `User::id.of::<Referrer>()` (see [`Aliased`]).
///
/// ```
/// txova_db::alias!(pub Referrer);
/// assert_eq!(<Referrer as txova_db::table::Alias>::NAME, "referrer");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an alias",
    label = "`of::<A>()` takes an alias",
    note = "declare one with `txova_db::alias!(Referrer);` and write `User::id.of::<Referrer>()`"
)]
pub trait Alias: Send + Sync + 'static {
    /// The alias in SQL.
    const NAME: &'static str;
}

/// Table `T` under the alias `A`: `FROM users JOIN users AS referrer`. Its columns are
/// `T`'s, retargeted with [`Column::of`](crate::Column::of).
///
/// ```
/// use txova_db::Table;
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key)] id: i64, name: String, referrer_id: Option<i64> }
///
/// txova_db::alias!(Referrer);
///
/// // Each user with the name of whoever referred them, if anyone did.
/// let select = User::select()
///     .left_join(User::referrer_id, User::id.of::<Referrer>())
///     .columns((User::name, User::name.of::<Referrer>()));
/// assert_eq!(
///     select.to_sql().sql(),
///     r#"SELECT "users"."name", "referrer"."name" FROM "users" LEFT JOIN "users" AS "referrer" ON "users"."referrer_id" = "referrer"."id""#
/// );
/// let _: &txova_db::Select<_, (String, Option<String>)> = &select;
/// ```
pub struct Aliased<T, A>(PhantomData<fn() -> (T, A)>);

impl<T: Table, A: Alias> Relation for Aliased<T, A> {
    type Table = T;
    const QUALIFIER: &'static str = A::NAME;
}

/// Declares an alias (a unit struct implementing [`Alias`](crate::table::Alias)),
/// named in SQL by its name in snake case: `alias!(Referrer)` is `"referrer"`,
/// `alias!(pub PreviousRide)` is `"previous_ride"`. Give the SQL name yourself with
/// `alias!(Referrer = "ref")`.
///
/// ```
/// txova_db::alias!(pub PreviousRide);
/// txova_db::alias!(Boss = "manager");
/// use txova_db::table::Alias;
/// assert_eq!(PreviousRide::NAME, "previous_ride");
/// assert_eq!(Boss::NAME, "manager");
/// ```
#[macro_export]
macro_rules! alias {
    ($vis:vis $name:ident) => {
        $crate::alias!($vis $name = $crate::__alias_name!($name));
    };
    ($vis:vis $name:ident = $sql:expr) => {
        #[doc = concat!("The alias `", stringify!($name), "` of a table read twice in one query.")]
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;
        impl $crate::table::Alias for $name {
            const NAME: &'static str = $sql;
        }
    };
}
