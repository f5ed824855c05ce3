//! Boolean conditions over the columns of a query's tables: `WHERE`, `HAVING`, `ON`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::column::Nullability;
use crate::sql::SqlWriter;
use crate::sql::ast::Node;
use crate::table::Relation;
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

    /// Both conditions, over different tables: `Ride::status.eq("done")
    /// .and_across(Driver::city.eq("Beira"))`. (`&` combines conditions of one
    /// table.) The query it filters must have both tables.
    ///
    /// ```
    /// use txova_db::Table;
    ///
    /// #[derive(Table)]
    /// #[table(name = "rides")]
    /// struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64>, fare_cents: i64 }
    /// #[derive(Table)]
    /// #[table(name = "drivers")]
    /// struct Driver { #[column(primary_key)] id: i64, city: String }
    ///
    /// let dear_in_beira = Ride::fare_cents.gt(5_000).and_across(Driver::city.eq("Beira"));
    /// let select = Ride::select().inner_join(Ride::driver_id, Driver::id).filter(dear_in_beira);
    /// assert!(select.to_sql().sql().ends_with(r#"WHERE ("rides"."fare_cents" > $1 AND "drivers"."city" = $2)"#));
    /// ```
    pub fn and_across<U>(self, other: Expr<U>) -> Expr<Both<S, U>> {
        Expr::new(Expr::<()>::new(self.node).and(Expr::new(other.node)).node)
    }

    /// Either condition, over different tables; see [`and_across`](Self::and_across).
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
    /// // The rides with no driver and the drivers with no ride.
    /// let unmatched = Ride::select()
    ///     .full_join(Ride::driver_id, Driver::id)
    ///     .filter(Ride::id.nullable().is_null().or_across(Driver::id.nullable().is_null()));
    /// assert!(unmatched.to_sql().sql().ends_with(r#"WHERE ("rides"."id" IS NULL OR "drivers"."id" IS NULL)"#));
    /// ```
    pub fn or_across<U>(self, other: Expr<U>) -> Expr<Both<S, U>> {
        Expr::new(Expr::<()>::new(self.node).or(Expr::new(other.node)).node)
    }

    pub(crate) fn is_always(&self) -> bool {
        matches!(self.node, Node::Const(true))
    }
}

/// `&` and `|` combine conditions on one table (or one set of tables); conditions on
/// different tables combine with [`Expr::and_across`] and [`Expr::or_across`].
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64> }
/// let _ = Ride::id.gt(1) & Ride::driver_id.is_null();
/// ```
#[diagnostic::on_unimplemented(
    message = "`&` and `|` combine conditions on one table: this one is on `{Self}`, the other on `{S}`",
    label = "a condition on `{Self}`",
    note = "combine conditions on different tables with `.and_across(..)` or `.or_across(..)`"
)]
pub trait SameTables<S> {}

impl<S> SameTables<S> for S {}

impl<S, U: SameTables<S>> std::ops::BitAnd<Expr<U>> for Expr<S> {
    type Output = Self;
    fn bitand(self, rhs: Expr<U>) -> Self {
        self.and(Expr::new(rhs.node))
    }
}

impl<S, U: SameTables<S>> std::ops::BitOr<Expr<U>> for Expr<S> {
    type Output = Self;
    fn bitor(self, rhs: Expr<U>) -> Self {
        self.or(Expr::new(rhs.node))
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
pub trait Contains<X, I> {
    /// Whether `X`'s row is always there ([`Required`]) or may be missing, all NULL,
    /// because `X` is on the optional side of an outer join ([`Optional`]).
    type Side: Side;
}

/// Whether a table's row is always present in a query's rows: [`Required`] or
/// [`Optional`]. A selected column's output type follows from it (see [`Join`]).
///
/// ```
/// use txova_db::Table;
/// use txova_db::expr::{Contains, Here, Optional, Required, There};
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key)] id: i64 }
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride { #[column(primary_key)] id: i64, user_id: i64 }
///
/// // In `users LEFT JOIN rides`, the user is always there, the ride may not be.
/// type Source = txova_db::expr::LeftJoin<User, Ride>;
/// fn side<S: Contains<X, I, Side = Wanted>, X, I, Wanted>() {}
/// side::<Source, User, There<Here>, Required>();
/// side::<Source, Ride, Here, Optional>();
/// ```
pub trait Side: side::Sealed + 'static {
    /// What a column holding `V` (of nullability `N`) decodes into on this side.
    type Value<V, N: Nullability>;
}

mod side {
    pub trait Sealed {}
    impl Sealed for super::Required {}
    impl Sealed for super::Optional {}
}

/// The side of a table whose row every result row has: the table selected from, and
/// the tables joined with `INNER JOIN` (and the right one of a `RIGHT JOIN`). Its
/// columns decode as their own type.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64> }
/// # #[derive(Table)] #[table(name = "drivers")]
/// # struct Driver { #[column(primary_key)] id: i64, name: String }
/// // Both sides of an inner join are required: a driver's name is a `String`.
/// let _: &txova_db::Select<txova_db::Join<Ride, Driver>, (i64, String)> =
///     &Ride::select().inner_join(Ride::driver_id, Driver::id).columns((Ride::id, Driver::name));
/// ```
pub struct Required;

/// The side of a table whose row may be missing from a result row, its columns all
/// NULL: the joined table of a `LEFT JOIN`, the tables before a `RIGHT JOIN`, both
/// sides of a `FULL JOIN`. Its columns decode as `Option<V>` (a column that is an
/// `Option` already stays one).
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64> }
/// # #[derive(Table)] #[table(name = "drivers")]
/// # struct Driver { #[column(primary_key)] id: i64, name: String }
/// // A ride may have no driver: the driver's name is an `Option<String>`.
/// let _: &txova_db::Select<txova_db::expr::LeftJoin<Ride, Driver>, (i64, Option<String>)> =
///     &Ride::select().left_join(Ride::driver_id, Driver::id).columns((Ride::id, Driver::name));
/// ```
pub struct Optional;

impl Side for Required {
    type Value<V, N: Nullability> = V;
}

impl Side for Optional {
    type Value<V, N: Nullability> = N::OrNull<V>;
}

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

/// The tables `S` with `U` joined by `LEFT JOIN`: `U`'s columns are selected as
/// `Option`s ([`Optional`]).
///
/// ```
/// use txova_db::Table;
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key)] id: i64, name: String }
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride { #[column(primary_key)] id: i64, user_id: i64, driver_id: Option<i64> }
///
/// // Every user, with each of their rides if they have any.
/// let select = User::select()
///     .left_join(User::id, Ride::user_id)
///     .columns((User::name, Ride::id, Ride::driver_id));
/// let _: &txova_db::Select<txova_db::expr::LeftJoin<User, Ride>, (String, Option<i64>, Option<i64>)> =
///     &select;
/// ```
pub struct LeftJoin<S, U>(PhantomData<fn() -> (S, U)>);

/// The tables `S` with `U` joined by `RIGHT JOIN`: the columns of `S`'s tables are
/// selected as `Option`s ([`Optional`]), `U`'s as they are.
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
/// // Every driver, with each of their rides if they have any.
/// let select = Ride::select()
///     .right_join(Ride::driver_id, Driver::id)
///     .columns((Driver::name, Ride::id));
/// let _: &txova_db::Select<txova_db::expr::RightJoin<Ride, Driver>, (String, Option<i64>)> =
///     &select;
/// ```
pub struct RightJoin<S, U>(PhantomData<fn() -> (S, U)>);

/// The tables `S` with `U` joined by `FULL JOIN`: every column is selected as an
/// `Option` ([`Optional`]).
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
/// let select = Ride::select()
///     .full_join(Ride::driver_id, Driver::id)
///     .columns((Ride::id, Driver::name));
/// let _: &txova_db::Select<txova_db::expr::FullJoin<Ride, Driver>, (Option<i64>, Option<String>)> =
///     &select;
/// ```
pub struct FullJoin<S, U>(PhantomData<fn() -> (S, U)>);

impl<T: Relation> Contains<T, Here> for T {
    type Side = Required;
}

impl<S, U: Relation> Contains<U, Here> for Join<S, U> {
    type Side = Required;
}
impl<S: Contains<X, I>, U, X: Relation, I> Contains<X, There<I>> for Join<S, U> {
    type Side = S::Side;
}

impl<S, U: Relation> Contains<U, Here> for LeftJoin<S, U> {
    type Side = Optional;
}
impl<S: Contains<X, I>, U, X: Relation, I> Contains<X, There<I>> for LeftJoin<S, U> {
    type Side = S::Side;
}

impl<S, U: Relation> Contains<U, Here> for RightJoin<S, U> {
    type Side = Required;
}
impl<S: Contains<X, I>, U, X: Relation, I> Contains<X, There<I>> for RightJoin<S, U> {
    type Side = Optional;
}

impl<S, U: Relation> Contains<U, Here> for FullJoin<S, U> {
    type Side = Optional;
}
impl<S: Contains<X, I>, U, X: Relation, I> Contains<X, There<I>> for FullJoin<S, U> {
    type Side = Optional;
}

/// The tables of a condition over two of them, from [`Expr::and_across`] and
/// [`Expr::or_across`]: a query may take it when it has both.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64> }
/// # #[derive(Table)] #[table(name = "drivers")]
/// # struct Driver { #[column(primary_key)] id: i64, name: String }
/// use txova_db::expr::{Both, Expr};
///
/// let _: Expr<Both<Ride, Driver>> = Ride::id.eq(1).or_across(Driver::name.eq("Rui"));
/// ```
pub struct Both<A, B>(PhantomData<fn() -> (A, B)>);

/// Index marker of [`Both`]: where each of the two tables is. Inferred, never written.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64, driver_id: Option<i64> }
/// # #[derive(Table)] #[table(name = "drivers")]
/// # struct Driver { #[column(primary_key)] id: i64, name: String }
/// let _ = Ride::select()
///     .inner_join(Ride::driver_id, Driver::id)
///     .filter(Ride::id.eq(1).or_across(Driver::name.eq("Rui")));
/// ```
pub struct Each<I, K>(PhantomData<fn() -> (I, K)>);

// One impl per source type rather than one for every `S`: the untyped builder's
// source must keep `Expr<()>` as the only condition it takes, so `Expr::raw` infers.
macro_rules! contains_both {
    ($(impl<$($p:ident),*> for $source:ty $(where $bound:ident: $trait:ident)?;)*) => {
        $(
            impl<$($p,)* A, B, I, K> Contains<Both<A, B>, Each<I, K>> for $source
            where
                $source: Contains<A, I> + Contains<B, K>,
                $($bound: $trait,)?
            {
                type Side = Required;
            }
        )*
    };
}

contains_both! {
    impl<T> for T where T: Relation;
    impl<S, U> for Join<S, U>;
    impl<S, U> for LeftJoin<S, U>;
    impl<S, U> for RightJoin<S, U>;
    impl<S, U> for FullJoin<S, U>;
}

/// A value bound for a condition, boxed; see [`Expr::raw`].
pub fn param<V: Bind + 'static>(value: V) -> Arc<dyn Param> {
    Arc::new(value)
}
