//! Boolean conditions over the columns of a query's tables: `WHERE`, `HAVING`, `ON`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::sql::SqlWriter;
use crate::sql::ast::Node;
use crate::table::Table;
use crate::types::{Bind, Param};

/// A condition over the columns of `S` (a table, or the tables of a join).
///
/// Build one from a column (`User::age.gt(18)`), combine with `&`, `|`, `!` (or
/// [`and`](Self::and), [`or`](Self::or), [`not`](Self::not)), and pass it to
/// `.filter(..)`. Every value in it is a bind parameter.
///
/// ```
/// # use txova_db::{Table, Expr};
/// # #[derive(Table)] #[table(name = "users")]
/// # struct User { #[column(primary_key)] id: i64, name: String, age: i32 }
/// let teen = User::age.between(13, 19);
/// let named = User::name.like("A%") | User::name.like("B%");
/// let both: Expr<User> = teen & named;
/// let none_of_them = !both;
/// # let _ = none_of_them;
/// ```
pub struct Expr<S> {
    pub(crate) node: Node,
    _source: PhantomData<fn() -> S>,
}

impl<S> Expr<S> {
    pub(crate) fn new(node: Node) -> Self {
        Self {
            node,
            _source: PhantomData,
        }
    }

    pub(crate) fn constant(value: bool) -> Self {
        Self::new(Node::Const(value))
    }

    /// The condition that always holds; filtering by it changes nothing.
    pub fn always() -> Self {
        Self::constant(true)
    }

    /// The condition that never holds.
    pub fn never() -> Self {
        Self::constant(false)
    }

    /// A hand-written condition with `?` placeholders taking `params` in order.
    ///
    /// The SQL must be a `&'static str`: text built at runtime (from user input) cannot
    /// reach it. Values go in `params`, never into the text. A `?` inside a string, a
    /// quoted identifier or a comment is not a placeholder; write `??` for an operator
    /// `?` (Postgres jsonb: `??`, `??|`, `??&`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use txova_db::{Backend, Expr, Select};
    ///
    /// let tagged = Expr::raw("tags ?? ? AND note <> 'why?'", vec![Arc::new("vip")]);
    /// let sql = Select::from("rides").filter(tagged).to_sql_for(Backend::Postgres);
    /// assert!(sql.sql().contains("tags ? $1 AND note <> 'why?'"), "{}", sql.sql());
    /// ```
    pub fn raw(sql: &'static str, params: Vec<Arc<dyn Param>>) -> Self {
        Self::new(Node::Raw { sql, params })
    }

    /// Both conditions.
    pub fn and(self, other: Self) -> Self {
        Self::new(match (self.node, other.node) {
            (Node::Const(true), other) | (other, Node::Const(true)) => other,
            (Node::Const(false), _) | (_, Node::Const(false)) => Node::Const(false),
            (Node::And(mut left), Node::And(right)) => {
                left.extend(right);
                Node::And(left)
            }
            (Node::And(mut left), right) => {
                left.push(right);
                Node::And(left)
            }
            (left, right) => Node::And(vec![left, right]),
        })
    }

    /// Either condition.
    pub fn or(self, other: Self) -> Self {
        Self::new(match (self.node, other.node) {
            (Node::Const(false), other) | (other, Node::Const(false)) => other,
            (Node::Const(true), _) | (_, Node::Const(true)) => Node::Const(true),
            (Node::Or(mut left), Node::Or(right)) => {
                left.extend(right);
                Node::Or(left)
            }
            (Node::Or(mut left), right) => {
                left.push(right);
                Node::Or(left)
            }
            (left, right) => Node::Or(vec![left, right]),
        })
    }

    /// The negated condition.
    #[allow(clippy::should_implement_trait)] // `!expr` works too, through `Not`.
    pub fn not(self) -> Self {
        Self::new(match self.node {
            Node::Const(value) => Node::Const(!value),
            Node::Not(inner) => *inner,
            other => Node::Not(Box::new(other)),
        })
    }

    /// All of `conditions` (`TRUE` when there are none).
    pub fn all(conditions: impl IntoIterator<Item = Self>) -> Self {
        conditions.into_iter().fold(Self::always(), Self::and)
    }

    /// Any of `conditions` (`FALSE` when there are none).
    pub fn any(conditions: impl IntoIterator<Item = Self>) -> Self {
        conditions.into_iter().fold(Self::never(), Self::or)
    }

    pub(crate) fn is_always(&self) -> bool {
        matches!(self.node, Node::Const(true))
    }
}

impl<S> std::ops::BitAnd for Expr<S> {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        self.and(rhs)
    }
}

impl<S> std::ops::BitOr for Expr<S> {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.or(rhs)
    }
}

impl<S> std::ops::Not for Expr<S> {
    type Output = Self;
    fn not(self) -> Self {
        Expr::not(self)
    }
}

impl<S> fmt::Debug for Expr<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = SqlWriter::new(crate::Backend::Postgres);
        match self.node.write(&mut w) {
            Ok(()) => write!(f, "Expr({})", w.finish()),
            Err(e) => write!(f, "Expr(<{e}>)"),
        }
    }
}

/// Marks the tables a query reads from. `Contains<X, I>` holds when table `X` is one
/// of them; `I` is inferred and only tells where (it keeps joins coherent).
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64> }
/// # #[derive(Table)] #[table(name = "drivers")]
/// # struct Driver { #[column(primary_key)] id: i64, name: String }
/// // A condition on drivers in a query of rides alone does not compile...
/// ```
///
/// ```compile_fail
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64> }
/// # #[derive(Table)] #[table(name = "drivers")]
/// # struct Driver { #[column(primary_key)] id: i64, name: String }
/// let _ = Ride::select().filter(Driver::name.eq("Rui"));
/// ```
///
/// ...until drivers are joined:
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64> }
/// # #[derive(Table)] #[table(name = "drivers")]
/// # struct Driver { #[column(primary_key)] id: i64, name: String }
/// let _ = Ride::select()
///     .inner_join(Ride::driver_id, Driver::id)
///     .filter(Driver::name.eq("Rui"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{X}` is not one of this query's tables",
    label = "this condition or column belongs to `{X}`",
    note = "join `{X}` first (`.inner_join(..)`), or use a column of the table you select from"
)]
pub trait Contains<X, I> {}

/// Index marker: the table is the last one joined (or the only one).
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// // Index markers let the compiler find which joined table a column belongs to; they
/// // never appear in code that uses the builder:
/// let _ = Ride::select().filter(Ride::status.eq("requested"));
/// ```
pub struct Here;
/// Index marker: the table is further in.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// // See `Here`: inferred, never written.
/// let _ = Ride::select().filter(Ride::fare_cents.gt(0));
/// ```
pub struct There<I>(PhantomData<I>);

/// The tables `S` joined with `U`: the source type of a joined [`Select`](crate::Select).
///
/// ```
/// use txova_db::Table;
///
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64> }
/// #[derive(Table)]
/// #[table(name = "drivers")]
/// struct Driver { #[column(primary_key)] id: i64, name: String }
///
/// // After the join, filters and columns may name either table.
/// let select = Ride::select()
///     .inner_join(Ride::driver_id, Driver::id)
///     .filter(Driver::name.eq("Rui"))
///     .columns((Ride::id, Driver::name));
/// let _: &txova_db::Select<txova_db::Join<Ride, Driver>, (i64, String)> = &select;
/// ```
pub struct Join<S, U>(PhantomData<fn() -> (S, U)>);

impl<T: Table> Contains<T, Here> for T {}
impl<S, U: Table> Contains<U, Here> for Join<S, U> {}
impl<S: Contains<X, I>, U, X: Table, I> Contains<X, There<I>> for Join<S, U> {}

/// A value bound for a condition, boxed; see [`Expr::raw`].
pub fn param<V: Bind + 'static>(value: V) -> Arc<dyn Param> {
    Arc::new(value)
}
