//! Common table expressions: `WITH name (columns) AS (SELECT …)`, and `WITH RECURSIVE`,
//! typed like tables. A CTE's rows are a `#[derive(Table)]` struct (with
//! `#[table(unchecked)]`: no migration creates it), and the query that fills it must
//! select exactly that struct's column types, in order.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::error::Error;
use crate::sql::SqlWriter;
use crate::sql::ast::Subquery;
use crate::table::Table;

use super::Select;

/// A common table expression whose rows are `C`: named `C::NAME`, with `C`'s
/// columns, filled by a query selecting `C::Values` (the columns' types, in order).
/// Attach it to the query that reads it with [`Select::with`]; then `C` is read like
/// any table (`C::select()`, joins, subqueries).
///
/// ```
/// use txova_db::select::Cte;
/// use txova_db::{Backend, Table, count};
///
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride { #[column(primary_key)] id: i64, user_id: i64, status: String }
///
/// // The CTE's rows: typed like a table, created by no migration.
/// #[derive(Table, Debug)]
/// #[table(name = "busy_riders", unchecked)]
/// struct BusyRider { user_id: i64, rides: i64 }
///
/// let busy = Cte::<BusyRider>::new(
///     Ride::select()
///         .columns((Ride::user_id, count()))
///         .group_by(Ride::user_id)
///         .having(count().gt(10)),
/// );
/// let select = BusyRider::select().with(busy).order_by(BusyRider::rides.desc());
/// assert_eq!(
///     select.to_sql_for(Backend::Postgres).sql(),
///     r#"WITH "busy_riders" ("user_id", "rides") AS (SELECT "rides"."user_id", COUNT(*) FROM "rides" GROUP BY "rides"."user_id" HAVING COUNT(*) > $1) SELECT "busy_riders"."user_id", "busy_riders"."rides" FROM "busy_riders" ORDER BY "busy_riders"."rides" DESC"#
/// );
/// ```
pub struct Cte<C> {
    clause: CteClause,
    _rows: PhantomData<fn() -> C>,
}

/// A CTE as written: its name and columns, its query, and for a recursive one the
/// query that is run again on the rows the last round found.
#[derive(Clone)]
pub(super) struct CteClause {
    name: &'static str,
    columns: Vec<&'static str>,
    initial: Arc<dyn Subquery>,
    recursion: Option<Recursion>,
}

#[derive(Clone)]
struct Recursion {
    /// `UNION` rather than `UNION ALL`: a row found again is not followed again, which
    /// ends the recursion on cycles (a referral loop).
    distinct: bool,
    step: Arc<dyn Subquery>,
}

impl<C: Table> Cte<C> {
    /// `WITH C (columns) AS (query)`.
    pub fn new<S: 'static>(query: Select<S, C::Values>) -> Self {
        Self::build(Arc::new(query), None)
    }

    /// `WITH RECURSIVE C (columns) AS (initial UNION ALL step)`: `step` reads `C`
    /// (joins it, usually) and is run on the rows the previous round added, until a
    /// round adds none. Every row found is kept, so a cycle in the data never ends
    /// (the server's recursion limit does); see
    /// [`recursive_distinct`](Self::recursive_distinct).
    ///
    /// ```
    /// use txova_db::select::Cte;
    /// use txova_db::{Backend, Table};
    ///
    /// #[derive(Table)]
    /// #[table(name = "users")]
    /// struct User { #[column(primary_key)] id: i64, name: String, referrer_id: Option<i64> }
    ///
    /// #[derive(Table, Debug)]
    /// #[table(name = "referred", unchecked)]
    /// struct Referred { id: i64, name: String }
    ///
    /// // Everyone user 1 referred, directly or through others.
    /// let tree = Cte::<Referred>::recursive(
    ///     User::select().columns((User::id, User::name)).filter(User::referrer_id.eq(1)),
    ///     User::select()
    ///         .inner_join(User::referrer_id, Referred::id)
    ///         .columns((User::id, User::name)),
    /// );
    /// let select = Referred::select().with(tree);
    /// assert!(select.to_sql_for(Backend::Sqlite).sql().starts_with(
    ///     r#"WITH RECURSIVE "referred" ("id", "name") AS (SELECT "users"."id", "users"."name" FROM "users" WHERE "users"."referrer_id" = ? UNION ALL SELECT "users"."id", "users"."name" FROM "users" INNER JOIN "referred" ON "users"."referrer_id" = "referred"."id")"#
    /// ));
    /// ```
    pub fn recursive<S1: 'static, S2: 'static>(
        initial: Select<S1, C::Values>,
        step: Select<S2, C::Values>,
    ) -> Self {
        Self::recursion(Arc::new(initial), Arc::new(step), false)
    }

    /// [`recursive`](Self::recursive) with `UNION`: a row already found is not added
    /// (nor followed) again, so the recursion ends on cyclic data.
    pub fn recursive_distinct<S1: 'static, S2: 'static>(
        initial: Select<S1, C::Values>,
        step: Select<S2, C::Values>,
    ) -> Self {
        Self::recursion(Arc::new(initial), Arc::new(step), true)
    }

    fn recursion(initial: Arc<dyn Subquery>, step: Arc<dyn Subquery>, distinct: bool) -> Self {
        Self::build(initial, Some(Recursion { distinct, step }))
    }

    fn build(initial: Arc<dyn Subquery>, recursion: Option<Recursion>) -> Self {
        Self {
            clause: CteClause {
                name: C::NAME,
                columns: C::COLUMNS.iter().map(|c| c.name).collect(),
                initial,
                recursion,
            },
            _rows: PhantomData,
        }
    }

    pub(super) fn into_clause(self) -> CteClause {
        self.clause
    }
}

/// Writes `WITH [RECURSIVE] a (…) AS (…), b (…) AS (…) `.
pub(super) fn write_with(ctes: &[CteClause], w: &mut SqlWriter) -> Result<(), Error> {
    if ctes.is_empty() {
        return Ok(());
    }
    w.push("WITH ");
    if ctes.iter().any(|cte| cte.recursion.is_some()) {
        w.push("RECURSIVE ");
    }
    for (i, cte) in ctes.iter().enumerate() {
        if i > 0 {
            w.push(", ");
        }
        w.ident(cte.name);
        w.push(" (");
        for (j, column) in cte.columns.iter().enumerate() {
            if j > 0 {
                w.push(", ");
            }
            w.ident(column);
        }
        w.push(") AS (");
        cte.initial.write_subquery(w)?;
        if let Some(recursion) = &cte.recursion {
            w.push(if recursion.distinct {
                " UNION "
            } else {
                " UNION ALL "
            });
            recursion.step.write_subquery(w)?;
        }
        w.push(")");
    }
    w.push(" ");
    Ok(())
}
