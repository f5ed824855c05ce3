//! `INSERT`, `UPDATE` and `DELETE`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::column::{Column, IntoValue};
use crate::error::{Backend, Error};
use crate::executor::{ExecuteResult, Executor, fetch_all_decoded, within};
use crate::expr::Expr;
use crate::sql::ast::Node;
use crate::sql::{SqlWriter, Statement, bind_limit};
use crate::table::Table;
use crate::types::{Bind, Param};

/// An `INSERT` of one or many rows of `T`; see [`Table::insert`] and
/// [`Table::insert_many`].
///
/// Many rows go the fastest way the backend and the statement allow:
///
/// - on Postgres, from [`COPY_MIN_ROWS`](Self::COPY_MIN_ROWS) rows and with no conflict
///   clause, by binary `COPY … FROM STDIN`, one statement after a read of the table's
///   column types from the catalog. Binary values are taken as exactly their column's
///   type, so where a field's type is not its column's (an `i64` for an `INTEGER`, a
///   `DateTime<Utc>` for a `TIMESTAMP` without time zone), or the table has rules or
///   row security, which `COPY` would bypass or refuses, the rows go the next way;
/// - on Postgres otherwise, as one `INSERT … SELECT * FROM UNNEST($1, …)` with an array
///   per column, when every field's type has a Postgres array type;
/// - elsewhere, as multi-row `VALUES` lists, as few statements as the backend's bind
///   limit allows (65,535 values on Postgres, 32,766 on SQLite). These statements are
///   not atomic together unless run inside a transaction.
///
/// [`without_copy`](Self::without_copy) keeps to `INSERT`s; [`to_sql`](Self::to_sql)
/// shows the `INSERT` statements.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Clone)] #[table(name = "users")]
/// # struct User { #[column(primary_key, generated)] id: i64, email: String, name: String }
/// let ana = User { id: 0, email: "ana@example.com".into(), name: "Ana".into() };
/// let upsert = User::insert(&ana).on_conflict([User::email]).do_update([User::name]);
/// assert_eq!(
///     upsert.to_sql().sql(),
///     r#"INSERT INTO "users" ("email", "name") VALUES ($1, $2) ON CONFLICT ("email") DO UPDATE SET "name" = EXCLUDED."name""#
/// );
/// ```
#[must_use = "an insert does nothing until it is executed"]
pub struct Insert<'r, T> {
    rows: Vec<&'r T>,
    conflict: Option<Conflict>,
    rows_per_statement: Option<usize>,
    timeout: Option<Duration>,
    /// Whether a large plain insert may go by `COPY` on Postgres.
    copy: bool,
}

enum Conflict {
    DoNothing(Vec<&'static str>),
    DoUpdate {
        target: Vec<&'static str>,
        set: Vec<&'static str>,
    },
}

/// Columns of `T`, as `[User::email]` or `(User::email, User::name)`.
///
/// ```
/// use txova_db::Table;
///
/// #[derive(Table)]
/// #[table(name = "drivers")]
/// struct Driver { #[column(primary_key)] id: i64, plate: String, name: String, available: bool }
///
/// let driver = Driver { id: 7, plate: "MZ-001".into(), name: "Rui".into(), available: true };
/// // An array of columns of one type, or a tuple of any.
/// let upsert = Driver::insert(&driver)
///     .on_conflict([Driver::plate])
///     .do_update((Driver::name, Driver::available));
/// assert!(upsert.to_sql().sql().contains(r#"DO UPDATE SET "name" = EXCLUDED."name", "available" = EXCLUDED."available""#));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a list of `{T}`'s columns",
    label = "conflict targets and upsert columns must belong to the table inserted into",
    note = "write them as an array `[{T}::a, {T}::b]` (same type) or a tuple `({T}::a, {T}::b)`"
)]
pub trait ColumnList<T> {
    /// The SQL names.
    fn names(self) -> Vec<&'static str>;
}

impl<T: Table, V, N, const LEN: usize> ColumnList<T> for [Column<T, V, N>; LEN] {
    fn names(self) -> Vec<&'static str> {
        self.iter().map(|c| c.name()).collect()
    }
}

macro_rules! column_tuple {
    ($($V:ident $N:ident $c:ident),+) => {
        impl<T: Table, $($V, $N),+> ColumnList<T> for ($(Column<T, $V, $N>,)+) {
            fn names(self) -> Vec<&'static str> {
                let ($($c,)+) = self;
                vec![$($c.name()),+]
            }
        }
    };
}

column_tuple!(A NA a);
column_tuple!(A NA a, B NB b);
column_tuple!(A NA a, B NB b, C NC c);
column_tuple!(A NA a, B NB b, C NC c, D ND d);
column_tuple!(A NA a, B NB b, C NC c, D ND d, E NE e);
column_tuple!(A NA a, B NB b, C NC c, D ND d, E NE e, F NF f);

impl<'r, T: Table> Insert<'r, T> {
    pub(crate) fn rows(rows: impl IntoIterator<Item = &'r T>) -> Self {
        Self {
            rows: rows.into_iter().collect(),
            conflict: None,
            rows_per_statement: None,
            timeout: None,
            copy: true,
        }
    }

    /// Rows from which a plain `insert_many` on Postgres goes by binary `COPY`.
    /// Measured with 5-column rows (`benches/bulk_insert.rs`): `COPY` costs a catalog
    /// read and two round trips more than one `UNNEST` statement, which wins at 1,000
    /// rows (3.3 ms against 3.6 ms) and loses from 3,000 (11.7 ms against 8.5 ms).
    pub const COPY_MIN_ROWS: usize = 2_000;

    /// Values per `VALUES`-list statement by default: measured on Postgres 15, 10,000
    /// five-column rows insert fastest in statements of about 1,000 rows (35.8 ms,
    /// against 56.8 ms as one 50,000-value statement, whose parse and plan dominate);
    /// a value budget keeps wide tables at the same statement size.
    pub const DEFAULT_VALUES_PER_STATEMENT: usize = 5_000;

    /// Rows per statement on Postgres's array path (`INSERT … SELECT * FROM
    /// UNNEST($1, …)`, one array parameter per column), which bounds the message size.
    pub const DEFAULT_ROWS_PER_ARRAY_STATEMENT: usize = 50_000;

    /// Never goes by `COPY` (see [`Table::insert_many`]): the rows go as `INSERT`
    /// statements, as [`to_sql`](Self::to_sql) shows them.
    pub fn without_copy(mut self) -> Self {
        self.copy = false;
        self
    }

    /// At most `rows` rows per `INSERT` statement (still capped by the bind limit; a
    /// `COPY` sends all rows at once).
    pub fn rows_per_statement(mut self, rows: usize) -> Self {
        self.rows_per_statement = Some(rows.max(1));
        self
    }

    /// `ON CONFLICT DO NOTHING` (`INSERT IGNORE` on MySQL): rows that would violate a
    /// unique constraint are skipped.
    pub fn on_conflict_do_nothing(mut self) -> Self {
        self.conflict = Some(Conflict::DoNothing(Vec::new()));
        self
    }

    /// `ON CONFLICT (columns)`: say what to do with [`OnConflict::do_update`] or
    /// [`OnConflict::do_nothing`].
    pub fn on_conflict(self, target: impl ColumnList<T>) -> OnConflict<'r, T> {
        OnConflict {
            insert: self,
            target: target.names(),
        }
    }

    /// Also return the inserted rows (with their generated columns).
    pub fn returning(self) -> InsertReturning<'r, T> {
        InsertReturning(self)
    }

    fn insert_columns() -> impl Iterator<Item = &'static str> {
        T::COLUMNS.iter().filter(|c| !c.generated).map(|c| c.name)
    }

    /// The statements: on Postgres with several rows, one `UNNEST` statement per
    /// chunk when every column's type has an array type; otherwise `VALUES` lists
    /// under the backend's bind limit.
    fn build(&self, backend: Backend, returning: bool) -> Result<Vec<Statement>, Error> {
        let planned = self.plan(backend, returning, false)?;
        Ok(planned
            .into_iter()
            .map(|(statement, _)| statement)
            .collect())
    }

    /// The statements to run, each with the rows whose values it binds by reference
    /// when it runs (see [`RowValues`]), if `by_reference` and it is a `VALUES` list:
    /// that statement keeps no values of its own.
    fn plan(
        &self,
        backend: Backend,
        returning: bool,
        by_reference: bool,
    ) -> Result<Vec<Planned<'_, 'r, T>>, Error> {
        if self.rows.is_empty() {
            return Ok(Vec::new());
        }
        let width = Self::insert_columns().count();
        if backend == Backend::Postgres && self.rows.len() > 1 && width > 0 {
            let per_statement = self
                .rows_per_statement
                .unwrap_or(Self::DEFAULT_ROWS_PER_ARRAY_STATEMENT);
            let arrays: Option<Vec<_>> = self
                .rows
                .chunks(per_statement)
                .map(T::__insert_arrays)
                .collect();
            if let Some(arrays) = arrays {
                return arrays
                    .into_iter()
                    .map(|columns| Ok((self.build_unnest(backend, columns, returning)?, None)))
                    .collect();
            }
        }
        let wanted = self.rows_per_statement.unwrap_or_else(|| {
            Self::DEFAULT_VALUES_PER_STATEMENT
                .checked_div(width)
                .unwrap_or(1)
        });
        // A row with no insertable column goes alone, as DEFAULT VALUES.
        let per_statement = bind_limit(backend)
            .checked_div(width)
            .unwrap_or(1)
            .clamp(1, wanted.max(1));
        self.rows
            .chunks(per_statement)
            .map(|chunk| {
                let statement =
                    self.build_values(backend, chunk, width, returning, by_reference)?;
                Ok((statement, by_reference.then_some(chunk)))
            })
            .collect()
    }

    fn write_head(&self, w: &mut SqlWriter) {
        let ignore =
            w.backend() == Backend::MySql && matches!(self.conflict, Some(Conflict::DoNothing(_)));
        w.push(if ignore {
            "INSERT IGNORE INTO "
        } else {
            "INSERT INTO "
        });
        w.ident(T::NAME);
    }

    fn write_column_list(w: &mut SqlWriter) {
        w.push(" (");
        for (i, name) in Self::insert_columns().enumerate() {
            if i > 0 {
                w.push(", ");
            }
            w.ident(name);
        }
        w.push(")");
    }

    fn build_values(
        &self,
        backend: Backend,
        chunk: &[&T],
        width: usize,
        returning: bool,
        by_reference: bool,
    ) -> Result<Statement, Error> {
        let mut w = SqlWriter::new(backend);
        w.reserve(64 + chunk.len() * (width * 8 + 4), chunk.len() * width);
        self.write_head(&mut w);
        if width == 0 {
            w.push(" DEFAULT VALUES");
        } else {
            Self::write_column_list(&mut w);
            w.push(" VALUES ");
            let mut values = Vec::with_capacity(width);
            for (r, row) in chunk.iter().enumerate() {
                w.push(if r > 0 { ", (" } else { "(" });
                if by_reference {
                    for i in 0..width {
                        if i > 0 {
                            w.push(", ");
                        }
                        w.placeholder();
                    }
                } else {
                    row.__insert_values(&mut values);
                    for (i, value) in values.drain(..).enumerate() {
                        if i > 0 {
                            w.push(", ");
                        }
                        w.bind(value);
                    }
                }
                w.push(")");
            }
        }
        self.write_conflict(&mut w)?;
        if returning {
            write_returning::<T>(&mut w);
        }
        Ok(w.finish())
    }

    fn build_unnest(
        &self,
        backend: Backend,
        columns: Vec<Arc<dyn Param>>,
        returning: bool,
    ) -> Result<Statement, Error> {
        let mut w = SqlWriter::new(backend);
        self.write_head(&mut w);
        Self::write_column_list(&mut w);
        w.push(" SELECT * FROM UNNEST(");
        for (i, column) in columns.into_iter().enumerate() {
            if i > 0 {
                w.push(", ");
            }
            w.bind(column);
        }
        w.push(")");
        self.write_conflict(&mut w)?;
        if returning {
            write_returning::<T>(&mut w);
        }
        Ok(w.finish())
    }

    fn write_conflict(&self, w: &mut SqlWriter) -> Result<(), Error> {
        let Some(conflict) = &self.conflict else {
            return Ok(());
        };
        if w.backend() == Backend::MySql {
            return match conflict {
                Conflict::DoNothing(_) => Ok(()),
                Conflict::DoUpdate { set, .. } => {
                    w.push(" ON DUPLICATE KEY UPDATE ");
                    for (i, name) in set.iter().enumerate() {
                        if i > 0 {
                            w.push(", ");
                        }
                        w.ident(name);
                        w.push(" = VALUES(");
                        w.ident(name);
                        w.push(")");
                    }
                    Ok(())
                }
            };
        }
        let target = match conflict {
            Conflict::DoNothing(target) | Conflict::DoUpdate { target, .. } => target,
        };
        w.push(" ON CONFLICT");
        if !target.is_empty() {
            w.push(" (");
            for (i, name) in target.iter().enumerate() {
                if i > 0 {
                    w.push(", ");
                }
                w.ident(name);
            }
            w.push(")");
        }
        match conflict {
            Conflict::DoNothing(_) => w.push(" DO NOTHING"),
            Conflict::DoUpdate { set, .. } => {
                if set.is_empty() {
                    return Err(Error::InvalidQuery {
                        reason: "an upsert needs at least one column to update".into(),
                    });
                }
                w.push(" DO UPDATE SET ");
                for (i, name) in set.iter().enumerate() {
                    if i > 0 {
                        w.push(", ");
                    }
                    w.ident(name);
                    w.push(" = EXCLUDED.");
                    w.ident(name);
                }
            }
        }
        Ok(())
    }

    /// The first `INSERT` for `backend` (the others, for large batches, have its shape).
    fn first_insert(&self, backend: Backend) -> Result<Statement, Error> {
        self.build(backend, false)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::InvalidQuery {
                reason: "nothing to insert".into(),
            })
    }

    /// The first statement as it would run on Postgres (the others, for large batches,
    /// have the same shape).
    pub fn to_sql(&self) -> Statement {
        first_statement(self.build(Backend::Postgres, false))
    }

    /// The statements as they would run on `backend`.
    pub fn to_sql_for(&self, backend: Backend) -> Vec<Statement> {
        self.build(backend, false).unwrap_or_default()
    }

    /// Bounds the call (every statement of it, waiting for a connection included) to
    /// `limit`: past it, the statement running is cancelled on the server and the call
    /// fails with [`Error::StatementTimeout`]. Statements of a split insert that
    /// finished stay inserted unless a transaction holds them.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The plan of the (first) `INSERT` statement; see [`Plan`](crate::Plan). A bulk
    /// insert that would go by `COPY` has no plan of its own: this is the `INSERT`
    /// it falls back to.
    pub async fn explain<E: Executor>(&self, exec: &E) -> Result<crate::Plan, Error> {
        explain_built(exec, self.timeout, self.first_insert(exec.backend()), false).await
    }

    /// Inserts the rows (by the (first) `INSERT` statement) and returns its plan with
    /// what each step did (Postgres and MariaDB; [`Error::Unsupported`] elsewhere). The
    /// rows are inserted: run it inside a transaction that is rolled back.
    pub async fn explain_analyze<E: Executor>(&self, exec: &E) -> Result<crate::Plan, Error> {
        explain_built(exec, self.timeout, self.first_insert(exec.backend()), true).await
    }

    /// Runs the insert; returns the rows inserted.
    pub async fn execute<E: Executor>(self, exec: &E) -> Result<u64, Error> {
        Ok(self.execute_result(exec).await?.rows_affected())
    }

    /// Runs the insert; returns the rows inserted and the key the backend reports as
    /// generated ([`ExecuteResult::last_insert_id`]: on MySQL the first row's
    /// `AUTO_INCREMENT` value, on SQLite the last row's rowid).
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use txova_db::{Db, Table};
    ///
    /// #[derive(Table)]
    /// #[table(name = "riders")]
    /// struct Rider { #[column(primary_key, generated)] id: i64, name: String }
    ///
    /// let db = Db::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE riders (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await?;
    /// let ana = Rider { id: 0, name: "Ana".into() };
    /// let done = Rider::insert(&ana).execute_result(&db).await?;
    /// assert_eq!(done.last_insert_id(), Some(1));
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub async fn execute_result<E: Executor>(self, exec: &E) -> Result<ExecuteResult, Error> {
        let backend = exec.backend();
        within(self.timeout, async {
            #[cfg(feature = "postgres")]
            if backend == Backend::Postgres
                && self.copy
                && self.conflict.is_none()
                && self.rows.len() >= Self::COPY_MIN_ROWS
                && let Some(copied) = self.copy_rows(exec).await?
            {
                return Ok(ExecuteResult::new(copied, None));
            }
            let statements = self.plan(backend, false, true)?;
            let mut done: Option<ExecuteResult> = None;
            for (statement, rows) in statements {
                let mut by_reference = None;
                let params = RowValues::or_own(&statement, rows, &mut by_reference);
                let this = exec.execute_statement(&statement.sql, params).await?;
                done = Some(match done {
                    Some(before) => before.then(this, backend),
                    None => this,
                });
            }
            Ok(done.unwrap_or_default())
        })
        .await
    }
}

/// The columns of a plain or partitioned table that `COPY` writes as `INSERT` would,
/// each with its type's OID (a domain's as its base type; the domain's checks still run
/// on the way in). Tables with rules (which `COPY` ignores) or row security (which
/// `COPY FROM` refuses) have none. `$1` is the table as the statement names it, so
/// `to_regclass` resolves it as the `COPY` will.
#[cfg(feature = "postgres")]
const COPY_TARGET: &str = "SELECT a.attname::text, \
     (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END)::int8 \
     FROM pg_class c \
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
     JOIN pg_type t ON t.oid = a.atttypid \
     WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p') \
     AND NOT c.relhasrules AND NOT c.relrowsecurity";

#[cfg(feature = "postgres")]
impl<T: Table> Insert<'_, T> {
    /// The rows by binary `COPY`: the rows copied, or `None`, with nothing sent but the
    /// catalog read, when the table or a column's type does not allow it.
    ///
    /// Binary values are read as exactly their column's type, with no cast: an `int8`
    /// sent to an `int4` column is refused, and a `timestamptz` sent to a `timestamp`
    /// one would be stored at another offset. So the column types are read from the
    /// catalog on every call (a cached copy could go stale under an `ALTER TABLE`) and
    /// each value's type checked against its column's before anything is sent.
    async fn copy_rows<E: Executor>(&self, exec: &E) -> Result<Option<u64>, Error> {
        use crate::types::copy::{BinaryCopy, CopyRefused};

        let mut w = SqlWriter::new(Backend::Postgres);
        w.ident(T::NAME);
        let table: Arc<dyn Param> = Arc::new(w.finish().sql);
        let found = exec
            .fetch_all_statement(COPY_TARGET, std::slice::from_ref(&table))
            .await?;
        let mut types = Vec::new();
        for name in Self::insert_columns() {
            let mut oid = None;
            for row in &found {
                if row.try_get::<String>(0)? == name {
                    oid = u32::try_from(row.try_get::<i64>(1)?).ok();
                    break;
                }
            }
            // A column the table lacks: the INSERT says so in its own words.
            let Some(oid) = oid else { return Ok(None) };
            types.push(oid);
        }
        if types.is_empty() {
            return Ok(None);
        }
        let mut copy = BinaryCopy::new(&types, self.rows.len());
        for row in &self.rows {
            copy.start_row();
            row.__visit_insert_values(&mut |value| copy.value(value));
        }
        let payload = match copy.finish() {
            Ok(payload) => payload,
            Err(CopyRefused::TypeMismatch) => return Ok(None),
            Err(CopyRefused::Encode(source)) => {
                return Err(Error::Driver(sqlx::Error::Encode(source)));
            }
        };
        let mut w = SqlWriter::new(Backend::Postgres);
        w.push("COPY ");
        w.ident(T::NAME);
        Self::write_column_list(&mut w);
        w.push(" FROM STDIN (FORMAT binary)");
        exec.copy_in_statement(&w.finish().sql, &payload)
            .await
            .map(Some)
    }
}

/// An insert statement to run, and the rows whose values it binds by reference when
/// it runs (a `VALUES` list planned with `by_reference`), or `None` when it holds its
/// values.
type Planned<'s, 'r, T> = (Statement, Option<&'s [&'r T]>);

/// The values of a chunk of rows, bound as one parameter of a `VALUES` statement
/// whose placeholders were written for them: each value is encoded into the driver's
/// buffer by reference when the statement runs (again, if it is retried). Per value,
/// an owned parameter costs a clone of it and an allocation; a 1,000-row insert on
/// MariaDB spent 1.2x sqlx's CPU on those.
struct RowValues<'s, 'r, T>(&'s [&'r T]);

impl<'s: 'p, 'r: 'p, 'p, T: Table> RowValues<'s, 'r, T> {
    /// The parameters a planned statement runs with: its rows' values by reference
    /// (held in `slot`), or the values it holds.
    fn or_own<'a>(
        statement: &'a Statement,
        rows: Option<&'s [&'r T]>,
        slot: &'a mut Option<[Arc<dyn Param + 'p>; 1]>,
    ) -> &'a [Arc<dyn Param + 'p>] {
        match rows {
            Some(rows) => slot.insert([Arc::new(RowValues(rows))]),
            None => &statement.params,
        }
    }
}

impl<T> fmt::Debug for RowValues<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<the values of {} rows>", self.0.len())
    }
}

impl<T: Table> Param for RowValues<'_, '_, T> {
    fn add_to(
        &self,
        mut args: crate::types::backend::Arguments<'_>,
    ) -> Result<(), sqlx::error::BoxDynError> {
        let mut added = Ok(());
        for row in self.0 {
            row.__visit_insert_values(&mut |value| {
                if added.is_ok() {
                    added = value.add_to(args.reborrow());
                }
            });
            if added.is_err() {
                break;
            }
        }
        added
    }
}

/// The plan of a built statement.
async fn explain_built<E: Executor>(
    exec: &E,
    timeout: Option<Duration>,
    built: Result<Statement, Error>,
    analyze: bool,
) -> Result<crate::Plan, Error> {
    let statement = built?;
    within(
        timeout,
        crate::plan::explain(exec, &statement.sql, &statement.params, analyze),
    )
    .await
}

fn first_statement(statements: Result<Vec<Statement>, Error>) -> Statement {
    Statement::or_comment(statements.and_then(|mut statements| {
        if statements.is_empty() {
            Err(Error::InvalidQuery {
                reason: "nothing to insert".into(),
            })
        } else {
            Ok(statements.swap_remove(0))
        }
    }))
}

fn decode_row<T: Table>(row: crate::row::Row) -> Result<T, Error> {
    T::__decode(&row, 0)
}

/// `SELECT <T's columns> FROM <T> WHERE <key> IN (<keys>) ORDER BY <key>`.
fn select_by_keys<T: Table>(backend: Backend, key: &str, keys: &[i64]) -> Statement {
    let mut w = SqlWriter::new(backend);
    w.push("SELECT ");
    for (i, column) in T::COLUMNS.iter().enumerate() {
        if i > 0 {
            w.push(", ");
        }
        w.ident(column.name);
    }
    w.push(" FROM ");
    w.ident(T::NAME);
    w.push(" WHERE ");
    w.ident(key);
    w.push(" IN (");
    for (i, &id) in keys.iter().enumerate() {
        if i > 0 {
            w.push(", ");
        }
        w.bind(Arc::new(id));
    }
    w.push(") ORDER BY ");
    w.ident(key);
    w.finish()
}

fn write_returning<T: Table>(w: &mut SqlWriter) {
    w.push(" RETURNING ");
    for (i, column) in T::COLUMNS.iter().enumerate() {
        if i > 0 {
            w.push(", ");
        }
        w.ident(column.name);
    }
}

/// `ON CONFLICT (..)` waiting for its action.
///
/// ```
/// use txova_db::Table;
///
/// #[derive(Table)]
/// #[table(name = "drivers")]
/// struct Driver { #[column(primary_key)] id: i64, plate: String, available: bool }
///
/// let driver = Driver { id: 7, plate: "MZ-001".into(), available: true };
/// // An upsert: insert, or update `available` where the plate is taken.
/// let upsert = Driver::insert(&driver)
///     .on_conflict([Driver::plate])
///     .do_update([Driver::available]);
/// assert!(upsert.to_sql().sql().contains(r#"ON CONFLICT ("plate") DO UPDATE SET "available" = EXCLUDED."available""#));
/// ```
#[must_use = "say what happens on conflict: .do_update(..) or .do_nothing()"]
pub struct OnConflict<'r, T> {
    insert: Insert<'r, T>,
    target: Vec<&'static str>,
}

impl<'r, T: Table> OnConflict<'r, T> {
    /// `DO UPDATE SET column = EXCLUDED.column` for each of `columns` (upsert).
    pub fn do_update(mut self, columns: impl ColumnList<T>) -> Insert<'r, T> {
        self.insert.conflict = Some(Conflict::DoUpdate {
            target: self.target,
            set: columns.names(),
        });
        self.insert
    }

    /// `DO NOTHING` for conflicts on these columns.
    pub fn do_nothing(mut self) -> Insert<'r, T> {
        self.insert.conflict = Some(Conflict::DoNothing(self.target));
        self.insert
    }
}

/// An [`Insert`] that returns the rows it wrote.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Table};
///
/// #[derive(Table, Debug)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key, generated)] id: i64, name: String }
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)").await?;
/// // The row as stored, with the id the database generated.
/// let ana = User::insert(&User { id: 0, name: "Ana".into() }).returning().fetch_one(&db).await?;
/// assert_eq!(ana.id, 1);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use = "an insert does nothing until it is fetched"]
pub struct InsertReturning<'r, T>(Insert<'r, T>);

impl<T: Table> InsertReturning<'_, T> {
    /// The rows as written (skipped conflicts return nothing).
    ///
    /// On MySQL, which has no `RETURNING` (MariaDB has, from 10.5), the rows are read
    /// back by the keys the insert generated: `LAST_INSERT_ID()` is the first row's, and
    /// the others follow it consecutively, which the server promises under
    /// `innodb_autoinc_lock_mode` 0 or 1 (a multi-row insert under mode 2, where
    /// concurrent inserts interleave, is refused), `auto_increment_increment` apart.
    /// That needs a single generated primary key and no conflict clause; the read
    /// happens after the insert (inside the transaction, if one is open), so what it
    /// returns is the rows as they are then.
    pub async fn fetch_all<E: Executor>(mut self, exec: &E) -> Result<Vec<T>, Error> {
        let limit = self.0.timeout.take();
        within(limit, async move {
            if exec.backend() == Backend::MySql && !exec.server_traits().returning {
                return self.fetch_all_by_generated_keys(exec).await;
            }
            let mut out = Vec::with_capacity(self.0.rows.len());
            for (statement, rows) in self.0.plan(exec.backend(), true, true)? {
                let mut by_reference = None;
                let params = RowValues::or_own(&statement, rows, &mut by_reference);
                out.extend(fetch_all_decoded(exec, &statement.sql, params, decode_row).await?);
            }
            Ok(out)
        })
        .await
    }

    /// Bounds the call to `limit`, as [`Insert::timeout`].
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.0.timeout = Some(limit);
        self
    }

    /// MySQL's `RETURNING`: insert, then select the rows by the keys the insert reports.
    async fn fetch_all_by_generated_keys<E: Executor>(self, exec: &E) -> Result<Vec<T>, Error> {
        let backend = exec.backend();
        let refuse = |feature| Err(Error::Unsupported { feature, backend });
        if self.0.conflict.is_some() {
            return refuse(
                "INSERT … ON DUPLICATE KEY / IGNORE … RETURNING (the keys of updated or \
                 skipped rows are not reported)",
            );
        }
        let mut keys = T::COLUMNS.iter().filter(|c| c.primary_key);
        let key = match (keys.next(), keys.next()) {
            (Some(key), None) if key.generated => key.name,
            _ => {
                return refuse(
                    "INSERT … RETURNING without a single generated (AUTO_INCREMENT) primary \
                     key",
                );
            }
        };
        let traits = exec.server_traits();
        let step = match traits.key_step {
            Some(step) => step,
            None if self.0.rows.len() == 1 => 1,
            None => {
                return refuse(
                    "a multi-row INSERT … RETURNING under innodb_autoinc_lock_mode = 2 (its \
                     keys need not be consecutive); insert one row at a time",
                );
            }
        };
        let mut inserted = Vec::with_capacity(self.0.rows.len());
        for statement in self.0.build(backend, false)? {
            let done = exec
                .execute_statement(&statement.sql, &statement.params)
                .await?;
            let first = done.last_insert_id().ok_or_else(|| Error::InvalidQuery {
                reason: format!(
                    "the insert into `{}` reported no generated key to read its rows back by",
                    T::NAME
                ),
            })?;
            let rows = i64::try_from(done.rows_affected()).unwrap_or(i64::MAX);
            inserted.extend((0..rows).map(|k| first + k * step));
        }
        let mut out = Vec::with_capacity(inserted.len());
        for chunk in inserted.chunks(bind_limit(backend)) {
            let statement = select_by_keys::<T>(backend, key, chunk);
            out.extend(
                fetch_all_decoded(exec, &statement.sql, &statement.params, decode_row::<T>).await?,
            );
        }
        Ok(out)
    }

    /// The one row written, or [`Error::NotFound`] if a conflict skipped it.
    pub async fn fetch_one<E: Executor>(self, exec: &E) -> Result<T, Error> {
        self.fetch_all(exec)
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NotFound)
    }

    /// The first statement as it would run on Postgres.
    pub fn to_sql(&self) -> Statement {
        first_statement(self.0.build(Backend::Postgres, true))
    }
}

/// Typestate of [`Update`] and [`Delete`]: no filter chosen yet.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// // `Ride::update()` starts `Unfiltered`; `filter` or `all_rows` make it `Filtered`,
/// // and only a filtered update has `execute`.
/// let _: txova_db::Update<Ride, txova_db::write::Unfiltered> = Ride::update().set(Ride::status, "cancelled");
/// let _: txova_db::Update<Ride, txova_db::write::Filtered> =
///     Ride::update().set(Ride::status, "cancelled").filter(Ride::id.eq(7));
/// ```
pub struct Unfiltered;
/// Typestate of [`Update`] and [`Delete`]: `.filter(..)` or `.all_rows()` was called.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// let every_ride = Ride::update().set(Ride::status, "cancelled").all_rows();
/// assert_eq!(every_ride.to_sql().sql(), r#"UPDATE "rides" SET "status" = $1"#);
/// ```
pub struct Filtered;

/// Whether an UPDATE or DELETE has said which rows it touches.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// // Both `Filtered` updates and deletes carry `RowsChosen`, which `execute` requires.
/// fn chosen<S: txova_db::write::RowsChosen>() {}
/// chosen::<txova_db::write::Filtered>();
/// ```
#[diagnostic::on_unimplemented(
    message = "this statement has no filter and would touch every row of the table",
    label = "add `.filter(..)`, or `.all_rows()` if every row is really meant",
    note = "UPDATE and DELETE need an explicit choice of rows before they run"
)]
pub trait RowsChosen {}

impl RowsChosen for Filtered {}

/// An `UPDATE` of `T`; see [`Table::update`].
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64, status: String, driver_id: Option<i64> }
/// let assign = Ride::update()
///     .set(Ride::status, "assigned")
///     .set(Ride::driver_id, 7)
///     .filter(Ride::id.eq(42) & Ride::status.eq("requested"));
/// assert_eq!(
///     assign.to_sql().sql(),
///     r#"UPDATE "rides" SET "status" = $1, "driver_id" = $2 WHERE ("rides"."id" = $3 AND "rides"."status" = $4)"#
/// );
/// ```
#[must_use = "an update does nothing until it is executed"]
pub struct Update<T, F = Unfiltered> {
    set: Vec<(&'static str, Arc<dyn Param>)>,
    rows: Rows<T, F>,
}

impl<T: Table> Update<T, Unfiltered> {
    pub(crate) fn new() -> Self {
        Self {
            set: Vec::new(),
            rows: Rows::any(),
        }
    }

    /// Sets every non-key, non-generated column from `row` (what `save` runs).
    pub(crate) fn from_row(row: &T) -> Self {
        let mut values = Vec::new();
        row.__update_values(&mut values);
        let names = T::COLUMNS
            .iter()
            .filter(|c| !c.primary_key && !c.generated)
            .map(|c| c.name);
        Self {
            set: names.zip(values).collect(),
            rows: Rows::any(),
        }
    }

    /// Touches every row of the table, deliberately.
    pub fn all_rows(self) -> Update<T, Filtered> {
        Update {
            set: self.set,
            rows: self.rows.all(),
        }
    }
}

impl<T: Table, F> Update<T, F> {
    /// `SET column = value`.
    pub fn set<V: Bind + 'static, N>(
        mut self,
        column: Column<T, V, N>,
        value: impl IntoValue<V>,
    ) -> Self {
        self.set
            .push((column.name(), column.bound(value.into_value())));
        self
    }

    /// Restricts the rows updated (ANDed with earlier filters).
    pub fn filter(self, condition: Expr<T>) -> Update<T, Filtered> {
        Update {
            set: self.set,
            rows: self.rows.and(condition),
        }
    }

    fn build(&self, backend: Backend, returning: bool) -> Result<Statement, Error> {
        if self.set.is_empty() {
            return Err(Error::InvalidQuery {
                reason: format!("UPDATE of `{}` sets no column", T::NAME),
            });
        }
        self.rows.build(backend, UPDATE_RETURNING, returning, |w| {
            w.push("UPDATE ");
            w.ident(T::NAME);
            w.push(" SET ");
            for (i, (name, value)) in self.set.iter().enumerate() {
                if i > 0 {
                    w.push(", ");
                }
                w.ident(name);
                w.push(" = ");
                w.bind(Arc::clone(value));
            }
        })
    }

    /// The statement as it would run on Postgres.
    pub fn to_sql(&self) -> Statement {
        self.to_sql_for(Backend::Postgres)
    }

    /// The statement as it would run on `backend`.
    pub fn to_sql_for(&self, backend: Backend) -> Statement {
        Statement::or_comment(self.build(backend, false))
    }

    /// Bounds the call (waiting for a connection included) to `limit`: past it, the
    /// statement is cancelled on the server and the call fails with
    /// [`Error::StatementTimeout`].
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.rows.timeout = Some(limit);
        self
    }

    /// The plan of this update; see [`Plan`](crate::Plan).
    pub async fn explain<E: Executor>(&self, exec: &E) -> Result<crate::Plan, Error> {
        explain_built(
            exec,
            self.rows.timeout,
            self.build(exec.backend(), false),
            false,
        )
        .await
    }

    /// Runs the update and returns its plan with what each step did (Postgres and
    /// MariaDB; [`Error::Unsupported`] elsewhere). The rows are changed: run it inside
    /// a transaction that is rolled back.
    pub async fn explain_analyze<E: Executor>(&self, exec: &E) -> Result<crate::Plan, Error>
    where
        F: RowsChosen,
    {
        explain_built(
            exec,
            self.rows.timeout,
            self.build(exec.backend(), false),
            true,
        )
        .await
    }

    /// Runs the update; returns the rows changed.
    pub async fn execute<E: Executor>(self, exec: &E) -> Result<u64, Error>
    where
        F: RowsChosen,
    {
        execute_built(exec, self.rows.timeout, |backend| {
            self.build(backend, false)
        })
        .await
    }

    /// Runs the update and returns the changed rows.
    pub async fn returning<E: Executor>(self, exec: &E) -> Result<Vec<T>, Error>
    where
        F: RowsChosen,
    {
        returning_built(exec, UPDATE_RETURNING, self.rows.timeout, |backend| {
            self.build(backend, true)
        })
        .await
    }
}

/// Which rows an UPDATE or DELETE touches, and whether it has said so: the half the
/// two statements share.
struct Rows<T, F> {
    filter: Expr<T>,
    /// The call's `.timeout(..)`.
    timeout: Option<Duration>,
    _state: PhantomData<fn() -> F>,
}

impl<T: Table> Rows<T, Unfiltered> {
    fn any() -> Self {
        Self {
            filter: Expr::always(),
            timeout: None,
            _state: PhantomData,
        }
    }

    fn all(self) -> Rows<T, Filtered> {
        Rows {
            filter: self.filter,
            timeout: self.timeout,
            _state: PhantomData,
        }
    }
}

impl<T: Table, F> Rows<T, F> {
    fn and(self, condition: Expr<T>) -> Rows<T, Filtered> {
        Rows {
            filter: self.filter.and(condition),
            timeout: self.timeout,
            _state: PhantomData,
        }
    }

    /// The statement: `head` (the verb, the table, what it sets), then the filter, then
    /// the RETURNING list if asked for (refused as `feature` where the backend lacks it).
    fn build(
        &self,
        backend: Backend,
        feature: &'static str,
        returning: bool,
        head: impl FnOnce(&mut SqlWriter),
    ) -> Result<Statement, Error> {
        if returning && backend == Backend::MySql && feature == UPDATE_RETURNING {
            return Err(Error::Unsupported { feature, backend });
        }
        let mut w = SqlWriter::new(backend);
        head(&mut w);
        if !matches!(self.filter.node, Node::Const(true)) {
            w.push(" WHERE ");
            self.filter.node.write(&mut w)?;
        }
        if returning {
            write_returning::<T>(&mut w);
        }
        Ok(w.finish())
    }
}

/// Builds for the executor's backend and runs, for UPDATE and DELETE.
async fn execute_built<E: Executor>(
    exec: &E,
    limit: Option<Duration>,
    build: impl FnOnce(Backend) -> Result<Statement, Error>,
) -> Result<u64, Error> {
    let statement = build(exec.backend())?;
    Ok(within(
        limit,
        exec.execute_statement(&statement.sql, &statement.params),
    )
    .await?
    .rows_affected())
}

/// What MySQL lacks and MariaDB has from 10.0.
const DELETE_RETURNING: &str = "DELETE … RETURNING (MariaDB has it)";
/// What MySQL and MariaDB lack.
const UPDATE_RETURNING: &str = "UPDATE … RETURNING";

/// Refuses a RETURNING statement on a MySQL server without it (MySQL, MariaDB before
/// 10.5, or a pool built with sqlx, whose server was not asked).
fn refuse_returning_without_server_support<E: Executor>(
    exec: &E,
    feature: &'static str,
) -> Result<(), Error> {
    let backend = exec.backend();
    if backend == Backend::MySql && !exec.server_traits().returning {
        return Err(Error::Unsupported { feature, backend });
    }
    Ok(())
}

/// Builds for the executor's backend, runs, and decodes the RETURNING rows.
async fn returning_built<T: Table, E: Executor>(
    exec: &E,
    feature: &'static str,
    limit: Option<Duration>,
    build: impl FnOnce(Backend) -> Result<Statement, Error>,
) -> Result<Vec<T>, Error> {
    refuse_returning_without_server_support(exec, feature)?;
    let statement = build(exec.backend())?;
    within(
        limit,
        fetch_all_decoded(exec, &statement.sql, &statement.params, decode_row::<T>),
    )
    .await
}

/// A `DELETE` from `T`; see [`Table::delete`].
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// let purge = Ride::delete().filter(Ride::status.eq("cancelled"));
/// assert_eq!(purge.to_sql().sql(), r#"DELETE FROM "rides" WHERE "rides"."status" = $1"#);
/// ```
///
/// A delete without a filter does not compile; say `all_rows()` to mean it:
///
/// ```compile_fail
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64 }
/// # async fn f(db: &txova_db::Db) {
/// Ride::delete().execute(db).await;
/// # }
/// ```
#[must_use = "a delete does nothing until it is executed"]
pub struct Delete<T, F = Unfiltered> {
    rows: Rows<T, F>,
}

impl<T: Table> Delete<T, Unfiltered> {
    pub(crate) fn new() -> Self {
        Self { rows: Rows::any() }
    }

    /// Deletes every row of the table, deliberately.
    pub fn all_rows(self) -> Delete<T, Filtered> {
        Delete {
            rows: self.rows.all(),
        }
    }
}

impl<T: Table, F> Delete<T, F> {
    /// Restricts the rows deleted (ANDed with earlier filters).
    pub fn filter(self, condition: Expr<T>) -> Delete<T, Filtered> {
        Delete {
            rows: self.rows.and(condition),
        }
    }

    fn build(&self, backend: Backend, returning: bool) -> Result<Statement, Error> {
        self.rows.build(backend, DELETE_RETURNING, returning, |w| {
            w.push("DELETE FROM ");
            w.ident(T::NAME);
        })
    }

    /// The statement as it would run on Postgres.
    pub fn to_sql(&self) -> Statement {
        self.to_sql_for(Backend::Postgres)
    }

    /// The statement as it would run on `backend`.
    pub fn to_sql_for(&self, backend: Backend) -> Statement {
        Statement::or_comment(self.build(backend, false))
    }

    /// Bounds the call (waiting for a connection included) to `limit`: past it, the
    /// statement is cancelled on the server and the call fails with
    /// [`Error::StatementTimeout`].
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.rows.timeout = Some(limit);
        self
    }

    /// The plan of this delete; see [`Plan`](crate::Plan).
    pub async fn explain<E: Executor>(&self, exec: &E) -> Result<crate::Plan, Error> {
        explain_built(
            exec,
            self.rows.timeout,
            self.build(exec.backend(), false),
            false,
        )
        .await
    }

    /// Runs the delete and returns its plan with what each step did (Postgres and
    /// MariaDB; [`Error::Unsupported`] elsewhere). The rows are changed: run it inside
    /// a transaction that is rolled back.
    pub async fn explain_analyze<E: Executor>(&self, exec: &E) -> Result<crate::Plan, Error>
    where
        F: RowsChosen,
    {
        explain_built(
            exec,
            self.rows.timeout,
            self.build(exec.backend(), false),
            true,
        )
        .await
    }

    /// Runs the delete; returns the rows deleted.
    pub async fn execute<E: Executor>(self, exec: &E) -> Result<u64, Error>
    where
        F: RowsChosen,
    {
        execute_built(exec, self.rows.timeout, |backend| {
            self.build(backend, false)
        })
        .await
    }

    /// Runs the delete and returns the deleted rows.
    pub async fn returning<E: Executor>(self, exec: &E) -> Result<Vec<T>, Error>
    where
        F: RowsChosen,
    {
        returning_built(exec, DELETE_RETURNING, self.rows.timeout, |backend| {
            self.build(backend, true)
        })
        .await
    }
}

impl<T: Table, F> fmt::Debug for Update<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Update").field(&self.to_sql()).finish()
    }
}

impl<T: Table, F> fmt::Debug for Delete<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Delete").field(&self.to_sql()).finish()
    }
}
