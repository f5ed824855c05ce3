//! Aggregates (`count()`, `sum(..)`, …) to select, and the `HAVING` conditions made
//! by comparing them.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::column::Column;
use crate::error::Error;
use crate::expr::{Contains, Expr};
use crate::row::Row;
use crate::sql::ast::{AggregateRef, Cast, Node};
use crate::table::Relation;
use crate::types::{Bind, Decode};

use super::selection::{Selection, decode_next};
use super::{Item, ItemKind};

/// A condition over aggregates, for [`Select::having`](super::Select::having): made by comparing an
/// [`Aggregate`] (`count().gt(2)`), combined with `&` and `|`. It is a type of its
/// own so that it cannot be passed to `filter`, where SQL forbids aggregates.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// use txova_db::count;
///
/// // Statuses with more than 10 rides.
/// let busy = Ride::select()
///     .columns((Ride::status, count()))
///     .group_by(Ride::status)
///     .having(count().gt(10));
/// assert!(busy.to_sql().sql().ends_with("HAVING COUNT(*) > $1"));
/// ```
pub struct Having<X>(pub(super) Expr<X>);

impl<X> std::ops::BitAnd for Having<X> {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0.and(rhs.0))
    }
}

impl<X> std::ops::BitOr for Having<X> {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0.or(rhs.0))
    }
}

/// Index marker for aggregates that belong to no table (`count()`).
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// // `count()` belongs to no table, so it fits any query.
/// let n = Ride::select().columns(txova_db::count());
/// assert!(n.to_sql().sql().starts_with("SELECT COUNT(*)"));
/// ```
pub struct AnyTable;

impl<S> Contains<(), AnyTable> for S {
    type Side = crate::expr::Required;
}

/// An aggregate function over table `X` (or over no table, for `count()`) whose
/// value decodes into `Out`.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// use txova_db::{avg, count, max, sum};
///
/// // Each aggregate knows what it decodes into: a row of this select is
/// // `(i64, Option<i64>, Option<f64>, Option<i64>)`.
/// let totals = Ride::select().columns((
///     count(),
///     sum(Ride::fare_cents),
///     avg(Ride::fare_cents),
///     max(Ride::fare_cents),
/// ));
/// let _: &txova_db::Select<Ride, (i64, Option<i64>, Option<f64>, Option<i64>)> = &totals;
/// ```
pub struct Aggregate<X, Out> {
    aggregate: AggregateRef,
    _types: PhantomData<fn() -> (X, Out)>,
}

impl<X, Out> Clone for Aggregate<X, Out> {
    fn clone(&self) -> Self {
        Self {
            aggregate: self.aggregate.clone(),
            _types: PhantomData,
        }
    }
}

impl<X, Out> Aggregate<X, Out> {
    fn compare<V: Bind + 'static>(self, op: &'static str, value: V) -> Having<X> {
        Having(Expr::new(Node::Aggregate {
            aggregate: self.aggregate,
            op,
            value: Arc::new(value),
        }))
    }
}

macro_rules! aggregate_comparisons {
    ($($method:ident => $op:literal),*) => {
        impl<X, V: Bind + 'static> Aggregate<X, Option<V>> {
            $(
                #[doc = concat!("`aggregate ", $op, " value`, for `HAVING`.")]
                pub fn $method(self, value: V) -> Having<X> {
                    self.compare($op, value)
                }
            )*
        }
        impl<X> Aggregate<X, i64> {
            $(
                #[doc = concat!("`COUNT(..) ", $op, " value`, for `HAVING`.")]
                pub fn $method(self, value: i64) -> Having<X> {
                    self.compare($op, value)
                }
            )*
        }
    };
}

aggregate_comparisons!(eq => "=", ne => "<>", lt => "<", le => "<=", gt => ">", ge => ">=");

impl<S, X, Out, I> Selection<S, I> for Aggregate<X, Out>
where
    S: Contains<X, I>,
    Out: Decode + Send + 'static,
{
    type Output = Out;
    fn items(&self, out: &mut Vec<Item>) {
        out.push(Item(ItemKind::Aggregate(self.aggregate.clone())));
    }
    fn decode(row: &Row, at: &mut usize) -> Result<Out, Error> {
        decode_next(row, at)
    }
}

/// `COUNT(*)`.
pub fn count() -> Aggregate<(), i64> {
    Aggregate {
        aggregate: AggregateRef {
            function: "COUNT",
            column: None,
            cast: None,
        },
        _types: PhantomData,
    }
}

/// `COUNT(column)`: the rows where `column` is not NULL.
pub fn count_of<X: Relation, V, N>(column: Column<X, V, N>) -> Aggregate<X, i64> {
    Aggregate {
        aggregate: AggregateRef {
            function: "COUNT",
            column: Some(column.col_ref()),
            cast: None,
        },
        _types: PhantomData,
    }
}

/// Numeric column types and what their `SUM` comes back as.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// let _ = Ride::select().columns(txova_db::sum(Ride::fare_cents));
/// ```
///
/// ```compile_fail
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key)] id: i64, status: String }
/// // SUM of a text column does not compile.
/// let _ = Ride::select().columns(txova_db::sum(Ride::status));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a numeric column type",
    label = "`sum` and `avg` need an integer or floating-point column"
)]
pub trait Numeric {
    /// `SUM`'s result: `i64` for integers, `f64` for floats.
    type Sum;
    #[doc(hidden)]
    const FLOAT: bool;
}

macro_rules! numeric {
    ($sum:ty, $float:literal: $($t:ty),*) => {$(
        impl Numeric for $t { type Sum = $sum; const FLOAT: bool = $float; }
        impl Numeric for Option<$t> { type Sum = $sum; const FLOAT: bool = $float; }
    )*};
}

numeric!(i64, false: i8, i16, i32, i64);
numeric!(f64, true: f32, f64);

/// `SUM(column)`: `None` when no row has a value. Cast so that every backend returns
/// `i64` for integers and `f64` for floats (Postgres would return NUMERIC).
pub fn sum<X: Relation, V: Numeric, N>(column: Column<X, V, N>) -> Aggregate<X, Option<V::Sum>> {
    Aggregate {
        aggregate: AggregateRef {
            function: "SUM",
            column: Some(column.col_ref()),
            cast: Some(if V::FLOAT { Cast::Float } else { Cast::Integer }),
        },
        _types: PhantomData,
    }
}

/// `AVG(column)` as `f64`.
pub fn avg<X: Relation, V: Numeric, N>(column: Column<X, V, N>) -> Aggregate<X, Option<f64>> {
    Aggregate {
        aggregate: AggregateRef {
            function: "AVG",
            column: Some(column.col_ref()),
            cast: Some(Cast::Float),
        },
        _types: PhantomData,
    }
}

/// `MIN(column)`.
pub fn min<X: Relation, V, N>(column: Column<X, V, N>) -> Aggregate<X, Option<V>> {
    Aggregate {
        aggregate: AggregateRef {
            function: "MIN",
            column: Some(column.col_ref()),
            cast: None,
        },
        _types: PhantomData,
    }
}

/// `MAX(column)`.
pub fn max<X: Relation, V, N>(column: Column<X, V, N>) -> Aggregate<X, Option<V>> {
    Aggregate {
        aggregate: AggregateRef {
            function: "MAX",
            column: Some(column.col_ref()),
            cast: None,
        },
        _types: PhantomData,
    }
}
