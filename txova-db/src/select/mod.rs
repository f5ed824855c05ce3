//! `SELECT`: the typed builder ([`Table::select`]) and the untyped one
//! ([`Select::from`]), joins, aggregates, locking, pagination.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::column::{AnyColumn, Column, Direction, Order};
use crate::column::{Comparable, NeverNull};
use crate::error::{Backend, Error};
use crate::executor::{Executor, RowStream, fetch_all_decoded, within};
use crate::expr::{Contains, Expr, FullJoin, Join, LeftJoin, RightJoin};
use crate::page::{KeysetPage, KeysetRequest, Page, PageRequest};
use crate::row::Row;
use crate::sql::ast::{AggregateRef, ColRef, Node};
use crate::sql::{SqlWriter, Statement};
use crate::table::{Alias, Aliased, ColumnInfo, Relation, Table};
use crate::types::Bind;

mod aggregate;
mod cte;
mod selection;

pub use aggregate::{Aggregate, AnyTable, Having, Numeric, avg, count, count_of, max, min, sum};
pub use cte::Cte;
use cte::CteClause;
use selection::decode_selection;
pub use selection::{Scalar, ScalarValue, Selection, scalar};

/// A `SELECT` over source `S` (a table, or a [`Join`] of tables) whose rows decode
/// into `O` (the table's struct by default, a tuple after [`columns`](Self::columns),
/// a [`Row`] for the untyped builder).
///
/// ```
/// use txova_db::{Table, Direction};
///
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride {
///     #[column(primary_key)] id: i64,
///     user_id: i64,
///     status: String,
///     fare_cents: i64,
/// }
///
/// let recent = Ride::select()
///     .filter(Ride::status.is_in(["requested", "assigned"]))
///     .order_by(Ride::id.desc())
///     .limit(20);
/// assert_eq!(
///     recent.to_sql().sql(),
///     r#"SELECT "rides"."id", "rides"."user_id", "rides"."status", "rides"."fare_cents" FROM "rides" WHERE "rides"."status" = ANY($1) ORDER BY "rides"."id" DESC LIMIT 20"#
/// );
///
/// // Aggregates into a tuple.
/// let per_user = Ride::select()
///     .columns((Ride::user_id, txova_db::count(), txova_db::sum(Ride::fare_cents)))
///     .group_by(Ride::user_id)
///     .having(txova_db::count().gt(2));
/// assert!(per_user.to_sql_for(txova_db::Backend::Sqlite).sql().contains("HAVING COUNT(*) > ?"));
/// ```
#[must_use = "a query does nothing until it is fetched"]
pub struct Select<S = Dynamic, O = Row> {
    with: Vec<CteClause>,
    from: FromClause,
    joins: Vec<JoinClause>,
    items: Option<Vec<Item>>,
    filter: Expr<()>,
    group_by: Vec<ColRef>,
    having: Expr<()>,
    order: Vec<OrderItem>,
    limit: Option<u64>,
    offset: Option<u64>,
    lock: Option<Lock>,
    timeout: Option<Duration>,
    decode: fn(Row) -> Result<O, Error>,
    _source: PhantomData<fn() -> S>,
}

/// The source type of the untyped builder ([`Select::from`]).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Select};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE audit_2026 (id INTEGER PRIMARY KEY, what TEXT)").await?;
/// // A table known only at run time: the untyped builder, rows as `Row`.
/// let rows = Select::from("audit_2026").fetch_all(&db).await?;
/// assert!(rows.is_empty());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub struct Dynamic;

enum FromClause {
    Table {
        name: &'static str,
        /// The name its columns are qualified with: `name`, or an alias.
        qualifier: &'static str,
        columns: &'static [ColumnInfo],
        /// `columns` rendered when the type was derived ([`Table::__SELECT_LIST`]),
        /// where they are qualified with the table's own name.
        select_list: Option<[&'static str; 2]>,
    },
    Dynamic {
        name: String,
        allowlist: Option<Vec<String>>,
        /// The names a runtime sort may use; `None`: those of `allowlist`.
        sortable: Option<Vec<String>>,
    },
}

impl FromClause {
    fn name(&self) -> &str {
        match self {
            Self::Table { name, .. } => name,
            Self::Dynamic { name, .. } => name,
        }
    }

    /// What its columns are qualified with.
    fn qualifier(&self) -> &str {
        match self {
            Self::Table { qualifier, .. } => qualifier,
            Self::Dynamic { name, .. } => name,
        }
    }
}

struct JoinClause {
    kind: JoinKind,
    table: &'static str,
    /// The name its columns are qualified with: `table`, or an alias.
    qualifier: &'static str,
    on: Node,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

impl JoinKind {
    fn sql(self) -> &'static str {
        match self {
            Self::Inner => "INNER JOIN",
            Self::Left => "LEFT JOIN",
            Self::Right => "RIGHT JOIN",
            Self::Full => "FULL JOIN",
        }
    }
}

/// One item of the select list (plumbing of [`Selection`]).
#[doc(hidden)]
#[derive(Clone)]
pub struct Item(ItemKind);

#[derive(Clone)]
enum ItemKind {
    Column(ColRef),
    Named(String),
    Aggregate(AggregateRef),
    Subquery(Arc<dyn crate::sql::ast::Subquery>),
}

enum OrderItem {
    Column(ColRef, Direction),
    Named(String, Direction),
}

#[derive(Clone, Copy)]
struct Lock {
    exclusive: bool,
    wait: LockWait,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LockWait {
    Wait,
    SkipLocked,
    NoWait,
}

impl<T: Table> Select<T, T> {
    pub(crate) fn of_table() -> Self {
        Self::of_relation::<T>()
    }
}

impl<T: Table, A: Alias> Select<Aliased<T, A>, T> {
    /// Selects from `T` under the alias `A` (`FROM rides AS previous`): for a
    /// subquery over the table its outer query reads, or a query whose first table is
    /// joined to itself. The rows are `T`'s; name its columns with
    /// [`Column::of`](crate::Column::of).
    ///
    /// ```
    /// use txova_db::table::Aliased;
    /// use txova_db::{Select, Table, not_exists};
    ///
    /// #[derive(Table)]
    /// #[table(name = "rides")]
    /// struct Ride { #[column(primary_key)] id: i64, user_id: i64 }
    ///
    /// txova_db::alias!(Later);
    ///
    /// // Each user's last ride: no later ride of the same user exists.
    /// let last = Ride::select().filter(not_exists(
    ///     Select::<Aliased<Ride, Later>, Ride>::aliased()
    ///         .correlate::<Ride>()
    ///         .filter(Ride::user_id.of::<Later>().eq_column(Ride::user_id))
    ///         .filter(Ride::id.of::<Later>().gt_column(Ride::id)),
    /// ));
    /// assert!(last.to_sql().sql().contains(r#"NOT EXISTS (SELECT "later"."id", "later"."user_id" FROM "rides" AS "later" WHERE ("later"."user_id" = "rides"."user_id" AND "later"."id" > "rides"."id"))"#), "{}", last.to_sql().sql());
    /// ```
    pub fn aliased() -> Self {
        Self::of_relation::<Aliased<T, A>>()
    }
}

impl<S, T: Table> Select<S, T> {
    fn of_relation<R: Relation<Table = T>>() -> Self {
        Select {
            with: Vec::new(),
            from: FromClause::Table {
                name: T::NAME,
                qualifier: R::QUALIFIER,
                columns: T::COLUMNS,
                select_list: T::__SELECT_LIST.filter(|_| R::QUALIFIER == T::NAME),
            },
            joins: Vec::new(),
            items: None,
            filter: Expr::always(),
            group_by: Vec::new(),
            having: Expr::always(),
            order: Vec::new(),
            limit: None,
            offset: None,
            lock: None,
            timeout: None,
            decode: decode_table::<T>,
            _source: PhantomData,
        }
    }
}

fn decode_table<T: Table>(row: Row) -> Result<T, Error> {
    T::__decode(&row, 0)
}

impl Select<Dynamic, Row> {
    /// The untyped builder over a table named at runtime; rows come back as [`Row`].
    ///
    /// Names are always quoted, so they cannot inject SQL. Without an
    /// [`allowlist`](Self::allowlist) any column name is accepted (lenient); with one,
    /// a name outside it is [`Error::InvalidColumn`] (strict).
    ///
    /// ```
    /// use txova_db::Select;
    ///
    /// let query = Select::from("users")
    ///     .allowlist(["id", "name", "status"])?
    ///     .columns(["id", "name"])?
    ///     .filter_raw("status = ?", "active")
    ///     .order_by_name("name", txova_db::Direction::Asc)?;
    /// assert_eq!(
    ///     query.to_sql().sql(),
    ///     r#"SELECT "users"."id", "users"."name" FROM "users" WHERE (status = $1) ORDER BY "users"."name" ASC"#
    /// );
    /// let sneaky = Select::from("users").allowlist(["id"])?.columns(["password_hash"]);
    /// assert_eq!(sneaky.unwrap_err().kind(), txova_db::ErrorKind::InvalidColumn);
    /// # Ok::<(), txova_db::Error>(())
    /// ```
    pub fn from(table: impl Into<String>) -> Self {
        Select {
            with: Vec::new(),
            from: FromClause::Dynamic {
                name: table.into(),
                allowlist: None,
                sortable: None,
            },
            joins: Vec::new(),
            items: None,
            filter: Expr::always(),
            group_by: Vec::new(),
            having: Expr::always(),
            order: Vec::new(),
            limit: None,
            offset: None,
            lock: None,
            timeout: None,
            decode: Ok,
            _source: PhantomData,
        }
    }

    /// The untyped builder over `T`'s table, strict with `T`'s columns as its
    /// allowlist: for queries assembled from user input over a known table.
    ///
    /// ```
    /// # use txova_db::{Table, Select};
    /// # #[derive(Table)] #[table(name = "users")]
    /// # struct User { #[column(primary_key)] id: i64, name: String }
    /// let ok = Select::from_table::<User>().columns(["name"]);
    /// assert!(ok.is_ok());
    /// let refused = Select::from_table::<User>().columns(["password_hash"]);
    /// assert_eq!(refused.unwrap_err().kind(), txova_db::ErrorKind::InvalidColumn);
    /// ```
    pub fn from_table<T: Table>() -> Self {
        let mut select = Self::from(T::NAME);
        if let FromClause::Dynamic {
            allowlist,
            sortable,
            ..
        } = &mut select.from
        {
            *allowlist = Some(T::COLUMNS.iter().map(|c| c.name.to_owned()).collect());
            *sortable = Some(
                T::COLUMNS
                    .iter()
                    .filter(|c| c.sortable)
                    .map(|c| c.name.to_owned())
                    .collect(),
            );
        }
        select
    }

    /// Restricts runtime column names to `columns`; names already given are checked now.
    pub fn allowlist<I, N>(mut self, columns: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        if let FromClause::Dynamic {
            allowlist,
            sortable,
            ..
        } = &mut self.from
        {
            *allowlist = Some(columns.into_iter().map(Into::into).collect());
            *sortable = None;
        }
        let named: Vec<String> = self
            .items
            .iter()
            .flatten()
            .filter_map(|item| match item {
                Item(ItemKind::Named(name)) => Some(name.clone()),
                _ => None,
            })
            .chain(self.order.iter().filter_map(|o| match o {
                OrderItem::Named(name, _) => Some(name.clone()),
                OrderItem::Column(..) => None,
            }))
            .collect();
        for name in &named {
            self.check_allowed(name)?;
        }
        Ok(self)
    }

    /// Selects these columns (by name) instead of `*`.
    pub fn columns<I, N>(mut self, columns: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        let mut items = Vec::new();
        for column in columns {
            let column = column.into();
            self.check_allowed(&column)?;
            items.push(Item(ItemKind::Named(column)));
        }
        self.items = Some(items);
        Ok(self)
    }
}

impl<S, O> Select<S, O> {
    /// Orders by a column named at runtime (a `?sort=` parameter). On a table's select
    /// it must be one of the table's `#[column(sortable)]` columns (by SQL or field
    /// name), as for the generated sort enum: ordering by any column would let a client
    /// learn a column's values by the order (`?sort=password_hash`). On
    /// [`Select::from_table`], the same; with an [`allowlist`](Select::allowlist), one
    /// of its names. Else [`Error::InvalidColumn`].
    pub fn order_by_name(mut self, name: &str, direction: Direction) -> Result<Self, Error> {
        match &self.from {
            FromClause::Table {
                qualifier: table,
                columns,
                ..
            } => {
                let column = columns
                    .iter()
                    .find(|c| c.sortable && (c.name == name || c.field == name))
                    .ok_or_else(|| Error::InvalidColumn {
                        table: (*table).to_owned(),
                        column: name.to_owned(),
                    })?;
                self.order.push(OrderItem::Column(
                    ColRef {
                        table,
                        name: column.name,
                    },
                    direction,
                ));
            }
            FromClause::Dynamic { .. } => {
                self.check_allowed(name)?;
                if let FromClause::Dynamic {
                    name: table,
                    sortable: Some(sortable),
                    ..
                } = &self.from
                    && !sortable.iter().any(|s| s == name)
                {
                    return Err(Error::InvalidColumn {
                        table: table.clone(),
                        column: name.to_owned(),
                    });
                }
                self.order
                    .push(OrderItem::Named(name.to_owned(), direction));
            }
        }
        Ok(self)
    }

    fn check_allowed(&self, name: &str) -> Result<(), Error> {
        // Quoting makes any name safe to write; these could still never name a column.
        if name.is_empty() || name.contains('\0') {
            return Err(Error::InvalidColumn {
                table: self.from.name().to_owned(),
                column: name.to_owned(),
            });
        }
        match &self.from {
            FromClause::Dynamic {
                name: table,
                allowlist: Some(allowed),
                ..
            } if !allowed.iter().any(|a| a == name) => Err(Error::InvalidColumn {
                table: table.clone(),
                column: name.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Adds a hand-written condition: `sql` has one `?` placeholder, which takes `value`.
    ///
    /// `sql` must be a `&'static str`, so text built from user input cannot reach it;
    /// for several values use [`filter`](Self::filter) with [`Expr::raw`].
    pub fn filter_raw<V: Bind + 'static>(self, sql: &'static str, value: V) -> Self {
        self.and_filter(Node::Raw {
            sql,
            params: vec![Arc::new(value)],
        })
    }

    fn and_filter(mut self, node: Node) -> Self {
        let current = std::mem::replace(&mut self.filter, Expr::always());
        self.filter = current.and(Expr::new(node));
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// `FOR UPDATE`: lock the selected rows until the transaction ends. SQLite has no
    /// row locks (a writing transaction holds the whole database), so there the clause
    /// is left out.
    pub fn for_update(mut self) -> Self {
        self.lock = Some(Lock {
            exclusive: true,
            wait: LockWait::Wait,
        });
        self
    }

    /// `FOR SHARE` (`LOCK IN SHARE MODE` on MySQL/MariaDB; left out on SQLite, as
    /// [`for_update`](Self::for_update)).
    pub fn for_share(mut self) -> Self {
        self.lock = Some(Lock {
            exclusive: false,
            wait: LockWait::Wait,
        });
        self
    }

    /// With `for_update`/`for_share`: skip rows another transaction has locked
    /// ([`Error::Unsupported`] on SQLite).
    pub fn skip_locked(mut self) -> Self {
        if let Some(lock) = &mut self.lock {
            lock.wait = LockWait::SkipLocked;
        }
        self
    }

    /// With `for_update`/`for_share`: fail at once instead of waiting for a lock
    /// ([`Error::Unsupported`] on SQLite).
    pub fn nowait(mut self) -> Self {
        if let Some(lock) = &mut self.lock {
            lock.wait = LockWait::NoWait;
        }
        self
    }

    /// The statement as it would run on Postgres, with its values.
    pub fn to_sql(&self) -> Statement {
        self.to_sql_for(Backend::Postgres)
    }

    /// The statement as it would run on `backend`; an unsupported feature shows as an
    /// SQL comment naming the error.
    pub fn to_sql_for(&self, backend: Backend) -> Statement {
        Statement::or_comment(self.build(backend))
    }

    /// Renders the statement for `backend`.
    pub(crate) fn build(&self, backend: Backend) -> Result<Statement, Error> {
        let mut w = SqlWriter::new(backend);
        self.write(&mut w, true)?;
        Ok(w.finish())
    }

    fn write(&self, w: &mut SqlWriter, with_tail: bool) -> Result<(), Error> {
        let table = self.from.name();
        if table.is_empty() || table.contains('\0') {
            return Err(Error::InvalidQuery {
                reason: format!("{table:?} cannot name a table"),
            });
        }
        cte::write_with(&self.with, w)?;
        w.push("SELECT ");
        match (&self.items, &self.from) {
            (Some(items), _) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        w.push(", ");
                    }
                    match item {
                        Item(ItemKind::Column(c)) => w.qualified(c.table, c.name),
                        Item(ItemKind::Named(name)) => w.qualified(self.from.qualifier(), name),
                        Item(ItemKind::Aggregate(a)) => a.write(w),
                        Item(ItemKind::Subquery(query)) => {
                            w.push("(");
                            query.write_subquery(w)?;
                            w.push(")");
                        }
                    }
                }
            }
            (
                None,
                FromClause::Table {
                    select_list: Some([quoted, backticked]),
                    ..
                },
            ) => w.push(match w.backend() {
                Backend::Postgres | Backend::Sqlite => quoted,
                Backend::MySql => backticked,
            }),
            (
                None,
                FromClause::Table {
                    qualifier, columns, ..
                },
            ) => {
                for (i, column) in columns.iter().enumerate() {
                    if i > 0 {
                        w.push(", ");
                    }
                    w.qualified(qualifier, column.name);
                }
            }
            (None, FromClause::Dynamic { .. }) => w.push("*"),
        }
        w.push(" FROM ");
        w.ident(table);
        if self.from.qualifier() != table {
            w.push(" AS ");
            w.ident(self.from.qualifier());
        }
        for join in &self.joins {
            if join.kind == JoinKind::Full && w.backend() == Backend::MySql {
                return Err(Error::Unsupported {
                    feature: "FULL JOIN",
                    backend: Backend::MySql,
                });
            }
            w.push(" ");
            w.push(join.kind.sql());
            w.push(" ");
            w.ident(join.table);
            if join.qualifier != join.table {
                w.push(" AS ");
                w.ident(join.qualifier);
            }
            w.push(" ON ");
            join.on.write(w)?;
        }
        if !self.filter.is_always() {
            w.push(" WHERE ");
            write_condition(&self.filter.node, w)?;
        }
        if !self.group_by.is_empty() {
            w.push(" GROUP BY ");
            for (i, c) in self.group_by.iter().enumerate() {
                if i > 0 {
                    w.push(", ");
                }
                w.qualified(c.table, c.name);
            }
        }
        if !self.having.is_always() {
            w.push(" HAVING ");
            write_condition(&self.having.node, w)?;
        }
        if !with_tail {
            return Ok(());
        }
        if !self.order.is_empty() {
            w.push(" ORDER BY ");
            for (i, o) in self.order.iter().enumerate() {
                if i > 0 {
                    w.push(", ");
                }
                let (table_name, column, direction) = match o {
                    OrderItem::Column(c, d) => (c.table, c.name, *d),
                    OrderItem::Named(name, d) => (self.from.qualifier(), name.as_str(), *d),
                };
                w.qualified(table_name, column);
                w.push(" ");
                w.push(direction.sql());
            }
        }
        self.write_limit(w);
        self.write_lock(w)
    }

    fn write_limit(&self, w: &mut SqlWriter) {
        use std::fmt::Write as _;
        let mut tail = String::new();
        match (self.limit, self.offset, w.backend()) {
            (Some(limit), _, _) => {
                let _ = write!(tail, " LIMIT {limit}");
            }
            // SQLite and MySQL take OFFSET only after a LIMIT.
            (None, Some(_), Backend::Sqlite) => tail.push_str(" LIMIT -1"),
            (None, Some(_), Backend::MySql) => tail.push_str(" LIMIT 18446744073709551615"),
            _ => {}
        }
        if let Some(offset) = self.offset {
            let _ = write!(tail, " OFFSET {offset}");
        }
        w.push(&tail);
    }

    fn write_lock(&self, w: &mut SqlWriter) -> Result<(), Error> {
        let Some(lock) = self.lock else {
            return Ok(());
        };
        if w.backend() == Backend::Sqlite {
            return match lock.wait {
                LockWait::Wait => Ok(()),
                LockWait::SkipLocked => Err(Error::Unsupported {
                    feature: "SKIP LOCKED",
                    backend: Backend::Sqlite,
                }),
                LockWait::NoWait => Err(Error::Unsupported {
                    feature: "NOWAIT",
                    backend: Backend::Sqlite,
                }),
            };
        }
        w.push(match (lock.exclusive, w.backend()) {
            (true, _) => " FOR UPDATE",
            // The spelling both MySQL and MariaDB take (MariaDB has no `FOR SHARE`);
            // with NOWAIT / SKIP LOCKED it needs MariaDB 10.6 (MySQL 8 takes those only
            // after `FOR SHARE`, and refuses them here).
            (false, Backend::MySql) => " LOCK IN SHARE MODE",
            (false, _) => " FOR SHARE",
        });
        w.push(match lock.wait {
            LockWait::Wait => "",
            LockWait::SkipLocked => " SKIP LOCKED",
            LockWait::NoWait => " NOWAIT",
        });
        Ok(())
    }

    /// Bounds each call that runs the query (waiting for a connection included) to
    /// `limit`: past it, the statement is cancelled on the server and the call fails
    /// with [`Error::StatementTimeout`] (kind [`Timeout`](crate::ErrorKind::Timeout)).
    /// [`paginate`](Self::paginate)'s two statements share one limit.
    ///
    /// ```
    /// # use txova_db::Table;
    /// # #[derive(Table)] #[table(name = "rides")]
    /// # struct Ride { #[column(primary_key)] id: i64, status: String }
    /// # async fn demo(db: &txova_db::Db) -> txova_db::Result<()> {
    /// use std::time::Duration;
    ///
    /// let open = Ride::select()
    ///     .filter(Ride::status.eq("open"))
    ///     .timeout(Duration::from_millis(250))
    ///     .fetch_all(db)
    ///     .await?;
    /// # let _ = open; Ok(()) }
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The plan the database would run this query by; see [`Plan`](crate::Plan).
    pub async fn explain<E: Executor>(&self, exec: &E) -> Result<crate::Plan, Error> {
        self.explain_with(exec, false).await
    }

    /// Runs the query and returns the plan with what each step did: actual rows, and
    /// times (Postgres `EXPLAIN ANALYZE`, MariaDB `ANALYZE`; [`Error::Unsupported`] on
    /// SQLite and MySQL).
    pub async fn explain_analyze<E: Executor>(&self, exec: &E) -> Result<crate::Plan, Error> {
        self.explain_with(exec, true).await
    }

    async fn explain_with<E: Executor>(
        &self,
        exec: &E,
        analyze: bool,
    ) -> Result<crate::Plan, Error> {
        let statement = self.build(exec.backend())?;
        within(
            self.timeout,
            crate::plan::explain(exec, &statement.sql, &statement.params, analyze),
        )
        .await
    }

    /// Runs the query and decodes every row.
    pub async fn fetch_all<E: Executor>(self, exec: &E) -> Result<Vec<O>, Error>
    where
        O: Send,
    {
        let statement = self.build(exec.backend())?;
        within(
            self.timeout,
            fetch_all_decoded(exec, &statement.sql, &statement.params, self.decode),
        )
        .await
    }

    /// Runs the query and streams its rows, decoded, as they arrive, with
    /// backpressure: see [`RowStream`]. A [`timeout`](Self::timeout) bounds the whole
    /// stream.
    ///
    /// ```
    /// # async fn demo() -> txova_db::Result<()> {
    /// use futures_util::TryStreamExt as _;
    /// use txova_db::{Db, Table};
    ///
    /// #[derive(Table)]
    /// #[table(name = "rides")]
    /// struct Ride { #[column(primary_key)] id: i64, fare_cents: i64 }
    ///
    /// let db = Db::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE rides (id INTEGER PRIMARY KEY, fare_cents INTEGER NOT NULL)").await?;
    /// db.execute("INSERT INTO rides VALUES (1, 700), (2, 1300), (3, 450)").await?;
    /// let mut rides = Ride::select().filter(Ride::fare_cents.gt(500)).fetch(&db);
    /// let mut ids = Vec::new();
    /// while let Some(ride) = rides.try_next().await? {
    ///     ids.push(ride.id);
    /// }
    /// assert_eq!(ids, [1, 2]);
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub fn fetch<'a, E: Executor>(self, exec: &'a E) -> RowStream<'a, O> {
        let (decode, timeout) = (self.decode, self.timeout);
        let built = self.build(exec.backend());
        RowStream::new(decode, move |slot| async move {
            let statement = built?;
            within(
                timeout,
                exec.stream_statement(&statement.sql, &statement.params, &slot),
            )
            .await
        })
    }

    /// Runs the query and decodes its first row, if any.
    pub async fn fetch_optional<E: Executor>(self, exec: &E) -> Result<Option<O>, Error> {
        let decode = self.decode;
        self.fetch_optional_row(exec).await?.map(decode).transpose()
    }

    /// Runs the query and decodes its first row, or [`Error::NotFound`].
    pub async fn fetch_one<E: Executor>(self, exec: &E) -> Result<O, Error> {
        self.fetch_optional(exec).await?.ok_or(Error::NotFound)
    }

    /// Counts the rows the query would return (ignoring order, limit and offset).
    pub async fn count<E: Executor>(&self, exec: &E) -> Result<i64, Error> {
        let mut w = SqlWriter::new(exec.backend());
        w.push("SELECT COUNT(*) FROM (");
        self.write(&mut w, false)?;
        w.push(") AS ");
        w.ident("counted");
        let statement = w.finish();
        within(
            self.timeout,
            exec.fetch_optional_statement(&statement.sql, &statement.params),
        )
        .await?
        .ok_or(Error::NotFound)?
        .try_get(0)
    }

    /// Whether the query returns at least one row.
    pub async fn exists<E: Executor>(self, exec: &E) -> Result<bool, Error> {
        Ok(self.limit(1).fetch_optional_row(exec).await?.is_some())
    }

    /// The first row, undecoded.
    async fn fetch_optional_row<E: Executor>(self, exec: &E) -> Result<Option<Row>, Error> {
        let statement = self.build(exec.backend())?;
        within(
            self.timeout,
            exec.fetch_optional_statement(&statement.sql, &statement.params),
        )
        .await
    }

    /// One page of results and the total count (two statements).
    ///
    /// ```
    /// # use txova_db::{Table, PageRequest};
    /// # #[derive(Table)] #[table(name = "users")]
    /// # struct User { #[column(primary_key)] id: i64, name: String }
    /// # async fn demo(db: &txova_db::Db) -> txova_db::Result<()> {
    /// let page = User::select()
    ///     .order_by(User::name.asc())
    ///     .paginate(db, PageRequest::new(2, 25))
    ///     .await?;
    /// println!("{} of {} users", page.items.len(), page.total);
    /// # Ok(()) }
    /// ```
    pub async fn paginate<E: Executor>(
        mut self,
        exec: &E,
        request: PageRequest,
    ) -> Result<Page<O>, Error>
    where
        O: Send,
    {
        let limit = self.timeout.take();
        let (total, items) = within(limit, async move {
            let total = self.count(exec).await?;
            let items = self
                .limit(u64::from(request.per_page()))
                .offset(request.offset())
                .fetch_all(exec)
                .await?;
            Ok((total, items))
        })
        .await?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or_default(),
            page: request.page(),
            per_page: request.per_page(),
        })
    }
}

/// Writes a WHERE/HAVING condition without the outer parentheses of a top-level AND.
fn write_condition(node: &Node, w: &mut SqlWriter) -> Result<(), Error> {
    node.write(w)
}

impl<S, O> crate::sql::ast::Subquery for Select<S, O> {
    fn write_subquery(&self, w: &mut SqlWriter) -> Result<(), Error> {
        if self.lock.is_some() {
            return Err(Error::InvalidQuery {
                reason: "a subquery cannot lock rows (`for_update` / `for_share`): lock in \
                         the outer query"
                    .into(),
            });
        }
        self.write(w, true)
    }
}

/// `EXISTS (subquery)`: the rows of the outer query for which `query` finds a row.
/// With [`Select::correlate`], the subquery's conditions may name the outer query's
/// columns.
///
/// ```
/// use txova_db::{Backend, Table, not_exists};
///
/// #[derive(Table)]
/// #[table(name = "drivers")]
/// struct Driver { #[column(primary_key)] id: i64, name: String }
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64>, status: String }
///
/// // Drivers with no open ride.
/// let idle = Driver::select().filter(not_exists(
///     Ride::select()
///         .correlate::<Driver>()
///         .filter(Ride::driver_id.eq_column(Driver::id))
///         .filter(Ride::status.eq("open")),
/// ));
/// assert_eq!(
///     idle.to_sql_for(Backend::Postgres).sql(),
///     r#"SELECT "drivers"."id", "drivers"."name" FROM "drivers" WHERE NOT EXISTS (SELECT "rides"."id", "rides"."driver_id", "rides"."status" FROM "rides" WHERE ("rides"."driver_id" = "drivers"."id" AND "rides"."status" = $1))"#
/// );
/// ```
///
/// The condition names no table of the outer query (`Expr<()>`), so any query takes
/// it; give it to `.filter(..)` on its own rather than combined with `&`.
pub fn exists<Q: 'static, O: 'static>(query: Select<Q, O>) -> Expr<()> {
    Expr::new(Node::Exists {
        query: Arc::new(query),
        negated: false,
    })
}

/// `NOT EXISTS (subquery)`; see [`exists`].
pub fn not_exists<Q: 'static, O: 'static>(query: Select<Q, O>) -> Expr<()> {
    Expr::new(Node::Exists {
        query: Arc::new(query),
        negated: true,
    })
}

impl<S, O> Select<S, O> {
    /// Adds a condition (ANDed with earlier ones).
    pub fn filter<X, I>(self, condition: Expr<X>) -> Self
    where
        S: Contains<X, I>,
    {
        self.and_filter(condition.node)
    }

    /// Adds an `ORDER BY` term: a column's `.asc()` / `.desc()`, or a value of a
    /// generated sort enum.
    pub fn order_by<T: OrderTerm, I>(mut self, term: T) -> Self
    where
        S: Contains<T::Table, I>,
    {
        let order = term.into_order();
        self.order
            .push(OrderItem::Column(order.column, order.direction));
        self
    }

    /// `GROUP BY column` (call again for more columns).
    pub fn group_by<X, V, N, I>(mut self, column: Column<X, V, N>) -> Self
    where
        X: Relation,
        S: Contains<X, I>,
    {
        self.group_by.push(column.col_ref());
        self
    }

    /// A `HAVING` condition over aggregates (ANDed with earlier ones).
    pub fn having<X, I>(mut self, condition: Having<X>) -> Self
    where
        S: Contains<X, I>,
    {
        let current = std::mem::replace(&mut self.having, Expr::always());
        self.having = current.and(Expr::new(condition.0.node));
        self
    }

    /// Adds `kind U ON on` (INNER, LEFT): the source becomes `J`, the rows stay as
    /// they were (the tables before it keep their side).
    fn join_keeping_rows<J, U: Relation>(self, kind: JoinKind, on: Node) -> Select<J, O> {
        let decode = self.decode;
        self.joined::<J, O, U>(kind, on, decode)
    }

    /// Adds `kind U ON on` (RIGHT, FULL): the source becomes `J`, and the rows are
    /// `Row`s, since what was selected before could now be missing.
    fn join_as_rows<J, U: Relation>(self, kind: JoinKind, on: Node) -> Select<J, Row> {
        self.joined::<J, Row, U>(kind, on, Ok)
    }

    /// Adds `kind U ON on` and retypes the query: its source becomes `J`, its rows
    /// `O2` (decoded by `decode`).
    fn joined<J, O2, U: Relation>(
        self,
        kind: JoinKind,
        on: Node,
        decode: fn(Row) -> Result<O2, Error>,
    ) -> Select<J, O2> {
        let mut joins = self.joins;
        joins.push(JoinClause {
            kind,
            table: <U::Table as Table>::NAME,
            qualifier: U::QUALIFIER,
            on,
        });
        Select {
            with: self.with,
            from: self.from,
            joins,
            items: self.items,
            filter: self.filter,
            group_by: self.group_by,
            having: self.having,
            order: self.order,
            limit: self.limit,
            offset: self.offset,
            lock: self.lock,
            timeout: self.timeout,
            decode,
            _source: PhantomData,
        }
    }

    /// Defines the common table expression `cte` for this query (`WITH …`), which
    /// may then read `C` like a table: select from it, join it, or name it in a
    /// subquery. A query used as a subquery keeps its `WITH`, which is how an update
    /// or a delete takes one: `filter(User::id.is_in_query(Tree::select().with(tree)
    /// .columns(Tree::id)))`. Call again for more; `WITH RECURSIVE` is written when
    /// one of them recurses.
    pub fn with<C: Table>(mut self, cte: Cte<C>) -> Self {
        self.with.push(cte.into_clause());
        self
    }

    /// Lets this query, used as a subquery ([`exists`], [`Column::is_in_query`]),
    /// name the columns of `U`, a table of the query it is nested in (a correlated
    /// subquery): `U` is not joined here, its columns refer to the outer query's rows.
    /// Run on its own, such a query fails: `U` is not in its `FROM`.
    ///
    /// [`Column::is_in_query`]: crate::Column::is_in_query
    pub fn correlate<U: Relation>(self) -> Select<Join<S, U>, O> {
        Select {
            with: self.with,
            from: self.from,
            joins: self.joins,
            items: self.items,
            filter: self.filter,
            group_by: self.group_by,
            having: self.having,
            order: self.order,
            limit: self.limit,
            offset: self.offset,
            lock: self.lock,
            timeout: self.timeout,
            decode: self.decode,
            _source: PhantomData,
        }
    }

    /// `INNER JOIN U ON left = right`, where `left` is a column of a table already in
    /// the query and `right` a column of the table joined. For a condition of more
    /// than one equality, see [`inner_join_on`](Self::inner_join_on).
    pub fn inner_join<X, U, V, N, W, M, I>(
        self,
        left: Column<X, V, N>,
        right: Column<U, W, M>,
    ) -> Select<Join<S, U>, O>
    where
        X: Relation,
        U: Relation,
        S: Contains<X, I>,
        V: Comparable<W>,
    {
        self.join_keeping_rows::<_, U>(JoinKind::Inner, equal(&left, &right))
    }

    /// `LEFT JOIN U ON left = right`: every row of the query so far, with `U`'s
    /// matching rows or none. `U`'s columns are selected as `Option`s
    /// ([`Optional`](crate::expr::Optional)).
    pub fn left_join<X, U, V, N, W, M, I>(
        self,
        left: Column<X, V, N>,
        right: Column<U, W, M>,
    ) -> Select<LeftJoin<S, U>, O>
    where
        X: Relation,
        U: Relation,
        S: Contains<X, I>,
        V: Comparable<W>,
    {
        self.join_keeping_rows::<_, U>(JoinKind::Left, equal(&left, &right))
    }

    /// `RIGHT JOIN U ON left = right`: every row of `U`, with the query's matching
    /// rows or none, so the tables before it are selected as `Option`s
    /// ([`Optional`](crate::expr::Optional)). The rows selected so far could be
    /// missing: the query's rows are [`Row`]s until `.columns(..)` says what to read.
    pub fn right_join<X, U, V, N, W, M, I>(
        self,
        left: Column<X, V, N>,
        right: Column<U, W, M>,
    ) -> Select<RightJoin<S, U>, Row>
    where
        X: Relation,
        U: Relation,
        S: Contains<X, I>,
        V: Comparable<W>,
    {
        self.join_as_rows::<_, U>(JoinKind::Right, equal(&left, &right))
    }

    /// `FULL JOIN U ON left = right`: the rows of both sides, matched where they
    /// match, so every column is selected as an `Option`. Postgres and SQLite have
    /// it; on MySQL and MariaDB the query fails with [`Error::Unsupported`]. Its rows
    /// are [`Row`]s until `.columns(..)` says what to read.
    pub fn full_join<X, U, V, N, W, M, I>(
        self,
        left: Column<X, V, N>,
        right: Column<U, W, M>,
    ) -> Select<FullJoin<S, U>, Row>
    where
        X: Relation,
        U: Relation,
        S: Contains<X, I>,
        V: Comparable<W>,
    {
        self.join_as_rows::<_, U>(JoinKind::Full, equal(&left, &right))
    }

    /// `INNER JOIN U ON …` with a condition of several parts, built by `on` from an
    /// [`On`] that may name the columns of `U` and of every table already in the
    /// query: equalities between columns ([`On::eq`]) and conditions on values
    /// ([`On::and`]).
    ///
    /// ```
    /// use txova_db::{Backend, Table};
    ///
    /// #[derive(Table)]
    /// #[table(name = "users")]
    /// struct User { #[column(primary_key)] id: i64, name: String }
    /// #[derive(Table)]
    /// #[table(name = "rides")]
    /// struct Ride { #[column(primary_key)] id: i64, user_id: i64, status: String }
    ///
    /// // Users with their active rides.
    /// let select = User::select()
    ///     .inner_join_on::<Ride>(|on| on.eq(User::id, Ride::user_id).and(Ride::status.eq("active")))
    ///     .columns((User::name, Ride::id));
    /// assert_eq!(
    ///     select.to_sql_for(Backend::Postgres).sql(),
    ///     r#"SELECT "users"."name", "rides"."id" FROM "users" INNER JOIN "rides" ON ("users"."id" = "rides"."user_id" AND "rides"."status" = $1)"#
    /// );
    /// ```
    pub fn inner_join_on<U: Relation>(
        self,
        on: impl FnOnce(On<Join<S, U>>) -> On<Join<S, U>>,
    ) -> Select<Join<S, U>, O> {
        self.join_keeping_rows::<_, U>(JoinKind::Inner, on(On::new()).node)
    }

    /// `LEFT JOIN U ON …` with a condition of several parts; see
    /// [`inner_join_on`](Self::inner_join_on) and [`left_join`](Self::left_join).
    /// A condition on `U`'s values here chooses which of its rows join; the same
    /// condition in `.filter(..)` would drop the rows that have none.
    ///
    /// ```
    /// use txova_db::Table;
    ///
    /// #[derive(Table)]
    /// #[table(name = "users")]
    /// struct User { #[column(primary_key)] id: i64, name: String }
    /// #[derive(Table)]
    /// #[table(name = "rides")]
    /// struct Ride { #[column(primary_key)] id: i64, user_id: i64, status: String }
    ///
    /// // Every user, with their active ride if they have one.
    /// let select = User::select()
    ///     .left_join_on::<Ride>(|on| on.eq(User::id, Ride::user_id).and(Ride::status.eq("active")))
    ///     .columns((User::name, Ride::id));
    /// let _: &txova_db::Select<_, (String, Option<i64>)> = &select;
    /// ```
    pub fn left_join_on<U: Relation>(
        self,
        on: impl FnOnce(On<LeftJoin<S, U>>) -> On<LeftJoin<S, U>>,
    ) -> Select<LeftJoin<S, U>, O> {
        self.join_keeping_rows::<_, U>(JoinKind::Left, on(On::new()).node)
    }

    /// `RIGHT JOIN U ON …` with a condition of several parts; see
    /// [`inner_join_on`](Self::inner_join_on) and [`right_join`](Self::right_join).
    pub fn right_join_on<U: Relation>(
        self,
        on: impl FnOnce(On<RightJoin<S, U>>) -> On<RightJoin<S, U>>,
    ) -> Select<RightJoin<S, U>, Row> {
        self.join_as_rows::<_, U>(JoinKind::Right, on(On::new()).node)
    }

    /// `FULL JOIN U ON …` with a condition of several parts; see
    /// [`inner_join_on`](Self::inner_join_on) and [`full_join`](Self::full_join).
    pub fn full_join_on<U: Relation>(
        self,
        on: impl FnOnce(On<FullJoin<S, U>>) -> On<FullJoin<S, U>>,
    ) -> Select<FullJoin<S, U>, Row> {
        self.join_as_rows::<_, U>(JoinKind::Full, on(On::new()).node)
    }
}

/// `left = right`, for a join's condition.
fn equal<X: Relation, V, N, U: Relation, W, M>(
    left: &Column<X, V, N>,
    right: &Column<U, W, M>,
) -> Node {
    Node::ColumnCompare {
        left: left.col_ref(),
        op: "=",
        right: right.col_ref(),
    }
}

/// The condition of a join, built in the closure given to
/// [`Select::inner_join_on`] (and `left_join_on`, `right_join_on`, `full_join_on`):
/// its parts may name the columns of `J`'s tables, the query's and the one joined.
///
/// ```
/// use txova_db::Table;
///
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64>, city: String }
/// #[derive(Table)]
/// #[table(name = "drivers")]
/// struct Driver { #[column(primary_key)] id: i64, city: String, active: bool }
///
/// // The ride's driver, if they are active and in the ride's city.
/// let _ = Ride::select().left_join_on::<Driver>(|on| {
///     on.eq(Ride::driver_id, Driver::id)
///         .eq(Ride::city, Driver::city)
///         .and(Driver::active.eq(true))
/// });
/// ```
#[must_use = "the condition is the closure's result: return it"]
pub struct On<J> {
    node: Node,
    _source: PhantomData<fn() -> J>,
}

impl<J> On<J> {
    fn new() -> Self {
        Self {
            node: Node::Const(true),
            _source: PhantomData,
        }
    }

    fn push(self, node: Node) -> Self {
        Self {
            node: Expr::<()>::new(self.node).and(Expr::new(node)).node,
            _source: PhantomData,
        }
    }

    /// And `left = right`: two columns of the query's tables (the one joined
    /// included) holding the same type.
    pub fn eq<X, V, N, Y, W, M, I, K>(self, left: Column<X, V, N>, right: Column<Y, W, M>) -> Self
    where
        X: Relation,
        Y: Relation,
        J: Contains<X, I> + Contains<Y, K>,
        V: Comparable<W>,
    {
        self.push(equal(&left, &right))
    }

    /// And `condition`, over one of the query's tables (the one joined included).
    pub fn and<X, I>(self, condition: Expr<X>) -> Self
    where
        J: Contains<X, I>,
    {
        self.push(condition.node)
    }
}

/// The typed sources: a table, or tables joined. (The untyped builder's source,
/// [`Dynamic`], is not one.)
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// // A table, or tables joined: what a typed `Select` reads from.
/// fn typed<S: txova_db::select::Source, O>(_: &txova_db::Select<S, O>) {}
/// typed(&Ride::select());
/// ```
pub trait Source: sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

impl<T: Table> sealed::Sealed for T {}
impl<T: Table> Source for T {}
impl<S: Source, U: Relation> sealed::Sealed for Join<S, U> {}
impl<S: Source, U: Relation> Source for Join<S, U> {}
impl<S: Source, U: Relation> sealed::Sealed for LeftJoin<S, U> {}
impl<S: Source, U: Relation> Source for LeftJoin<S, U> {}
impl<S: Source, U: Relation> sealed::Sealed for RightJoin<S, U> {}
impl<S: Source, U: Relation> Source for RightJoin<S, U> {}
impl<S: Source, U: Relation> sealed::Sealed for FullJoin<S, U> {}
impl<S: Source, U: Relation> Source for FullJoin<S, U> {}

impl<S: Source, O> Select<S, O> {
    /// Selects `selection` — a column, an aggregate, or a tuple of them — and decodes
    /// rows into its output (`V`, or a tuple of the parts' outputs).
    pub fn columns<Sel, I>(self, selection: Sel) -> Select<S, Sel::Output>
    where
        Sel: Selection<S, I>,
    {
        let mut items = Vec::new();
        selection.items(&mut items);
        Select {
            with: self.with,
            from: self.from,
            joins: self.joins,
            items: Some(items),
            filter: self.filter,
            group_by: self.group_by,
            having: self.having,
            order: self.order,
            limit: self.limit,
            offset: self.offset,
            lock: self.lock,
            timeout: self.timeout,
            decode: decode_selection::<Sel, S, I>,
            _source: PhantomData,
        }
    }
}

impl<T: Table> Select<T, T> {
    /// Keyset (cursor) pagination over `column`: rows after `request.after` in
    /// `direction`, at most `request.limit`; the page's `next` is the cursor for the
    /// following page. `column` should be unique (a primary key, or see
    /// [`keyset2`](Self::keyset2)); it replaces any earlier `order_by`.
    ///
    /// Unlike `OFFSET`, the cost does not grow with the page number and rows inserted
    /// meanwhile do not shift the pages.
    pub async fn keyset<E, V, N>(
        mut self,
        exec: &E,
        column: Column<T, V, N>,
        direction: Direction,
        request: KeysetRequest<V>,
    ) -> Result<KeysetPage<T, V>, Error>
    where
        E: Executor,
        V: Bind + Clone + 'static,
        N: NeverNull,
    {
        let limit = request.effective_limit();
        if let Some(after) = request.after {
            self = self.and_filter(Node::Compare {
                column: column.col_ref(),
                op: direction.comparison(),
                value: column.bound(after),
            });
        }
        self.order = vec![OrderItem::Column(column.col_ref(), direction)];
        let items = self.limit(u64::from(limit)).fetch_all(exec).await?;
        let next = match items.last() {
            Some(last) if items.len() == limit as usize => Some(column.get(last).clone()),
            _ => None,
        };
        Ok(KeysetPage { items, next })
    }

    /// Keyset pagination over two columns — a sort column that may repeat and a
    /// unique tie-breaker, e.g. `(created_at, id)` — compared as a row value.
    pub async fn keyset2<E, A, NA, B, NB>(
        mut self,
        exec: &E,
        columns: (Column<T, A, NA>, Column<T, B, NB>),
        direction: Direction,
        request: KeysetRequest<(A, B)>,
    ) -> Result<KeysetPage<T, (A, B)>, Error>
    where
        E: Executor,
        A: Bind + Clone + 'static,
        B: Bind + Clone + 'static,
        NA: NeverNull,
        NB: NeverNull,
    {
        let limit = request.effective_limit();
        let (first, second) = columns;
        if let Some((a, b)) = request.after {
            self = self.and_filter(Node::RowCompare {
                columns: vec![first.col_ref(), second.col_ref()],
                op: direction.comparison(),
                values: vec![first.bound(a), second.bound(b)],
            });
        }
        self.order = vec![
            OrderItem::Column(first.col_ref(), direction),
            OrderItem::Column(second.col_ref(), direction),
        ];
        let items = self.limit(u64::from(limit)).fetch_all(exec).await?;
        let next = match items.last() {
            Some(last) if items.len() == limit as usize => {
                Some((first.get(last).clone(), second.get(last).clone()))
            }
            _ => None,
        };
        Ok(KeysetPage { items, next })
    }
}

impl<S, O> fmt::Debug for Select<S, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Select").field(&self.to_sql()).finish()
    }
}

/// Something that can stand in `ORDER BY`: a column's [`Order`], or a generated sort
/// enum value.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// // A column's order, or a sort key parsed from a request (`?sort=-fare_cents`).
/// let sort: RideSort = "-fare_cents".parse().expect("a sort key");
/// let by_key = Ride::select().order_by(sort);
/// let by_column = Ride::select().order_by(Ride::fare_cents.desc());
/// assert_eq!(by_key.to_sql().sql(), by_column.to_sql().sql());
/// ```
pub trait OrderTerm {
    /// The table whose column it orders by.
    type Table;
    /// The ordering.
    fn into_order(self) -> Order<Self::Table>;
}

impl<T> OrderTerm for Order<T> {
    type Table = T;
    fn into_order(self) -> Order<T> {
        self
    }
}

impl<T: Table> OrderTerm for AnyColumn<T> {
    type Table = T;
    fn into_order(self) -> Order<T> {
        self.order(Direction::Asc)
    }
}
