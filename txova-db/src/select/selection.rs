//! What `.columns(..)` accepts and how its rows decode: a column, an aggregate, or a
//! tuple of them.

use crate::column::{Column, Nullability, NullableColumn};
use crate::error::Error;
use crate::expr::{Contains, Side};
use crate::row::Row;
use crate::table::Relation;
use crate::types::Decode;

use super::{Item, ItemKind};

/// What `.columns(..)` accepts: a column, an aggregate, or a tuple of them, each
/// from one of the query's tables.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// // A column, an aggregate, or a tuple of them; the output type follows.
/// let _: &txova_db::Select<Ride, String> = &Ride::select().columns(Ride::status);
/// let _: &txova_db::Select<Ride, (String, i64)> =
///     &Ride::select().columns((Ride::status, txova_db::count()));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be selected from this query",
    label = "select columns of the query's tables, aggregates, or tuples of them"
)]
pub trait Selection<S, I> {
    /// What a row decodes into.
    type Output: Send + 'static;
    #[doc(hidden)]
    fn items(&self, out: &mut Vec<Item>);
    #[doc(hidden)]
    fn decode(row: &Row, at: &mut usize) -> Result<Self::Output, Error>;
}

pub(super) fn decode_selection<Sel: Selection<S, I>, S, I>(row: Row) -> Result<Sel::Output, Error> {
    let mut at = 0;
    Sel::decode(&row, &mut at)
}

pub(super) fn decode_next<V: Decode>(row: &Row, at: &mut usize) -> Result<V, Error> {
    let value = row.try_get(*at)?;
    *at += 1;
    Ok(value)
}

/// A column decodes as its own type, or as an `Option` of it when its table is on the
/// optional side of an outer join ([`Side`]).
impl<S, X, V, N, I> Selection<S, I> for Column<X, V, N>
where
    X: Relation,
    N: Nullability,
    S: Contains<X, I>,
    <S::Side as Side>::Value<V, N>: Decode + 'static,
{
    type Output = <S::Side as Side>::Value<V, N>;
    fn items(&self, out: &mut Vec<Item>) {
        out.push(Item(ItemKind::Column(self.col_ref())));
    }
    fn decode(row: &Row, at: &mut usize) -> Result<Self::Output, Error> {
        decode_next(row, at)
    }
}

impl<S, X, V, I> Selection<S, I> for NullableColumn<X, V>
where
    X: Relation,
    S: Contains<X, I>,
    Option<V>: Decode + 'static,
{
    type Output = Option<V>;
    fn items(&self, out: &mut Vec<Item>) {
        out.push(Item(ItemKind::Column(self.0.col_ref())));
    }
    fn decode(row: &Row, at: &mut usize) -> Result<Option<V>, Error> {
        decode_next(row, at)
    }
}

/// What a scalar subquery may select: one value a column decodes into (implemented
/// for every such type).
#[diagnostic::on_unimplemented(
    message = "a scalar subquery selects one value, not `{Self}`",
    label = "this subquery's rows are not one value",
    note = "select one column or aggregate in it: `.columns(Table::column)` or `.columns(count())`"
)]
pub trait ScalarValue {}

impl<V> ScalarValue for V where Option<V>: Decode {}

/// A subquery that selects one value, as a selected value of the outer query:
/// `(SELECT …)`; see [`scalar`].
pub struct Scalar<V> {
    query: std::sync::Arc<dyn crate::sql::ast::Subquery>,
    _value: std::marker::PhantomData<fn() -> V>,
}

/// `query`, a select of one column or aggregate, as one value of each row of the
/// outer query (`SELECT …, (SELECT …)`), decoded as `Option<V>`: NULL when the
/// subquery finds no row. Correlate it ([`Select::correlate`](crate::Select::correlate))
/// to compute it per outer row.
///
/// ```
/// use txova_db::{Backend, Table, count, scalar};
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key)] id: i64, name: String }
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride { #[column(primary_key)] id: i64, user_id: i64 }
///
/// // Each rider's name and ride count.
/// let counts = User::select().columns((
///     User::name,
///     scalar(Ride::select().correlate::<User>().columns(count()).filter(Ride::user_id.eq_column(User::id))),
/// ));
/// let _: &txova_db::Select<User, (String, Option<i64>)> = &counts;
/// assert_eq!(
///     counts.to_sql_for(Backend::Postgres).sql(),
///     r#"SELECT "users"."name", (SELECT COUNT(*) FROM "rides" WHERE "rides"."user_id" = "users"."id") FROM "users""#
/// );
/// ```
pub fn scalar<Q: 'static, V: ScalarValue + 'static>(query: crate::Select<Q, V>) -> Scalar<V> {
    Scalar {
        query: std::sync::Arc::new(query),
        _value: std::marker::PhantomData,
    }
}

impl<S, V> Selection<S, crate::select::AnyTable> for Scalar<V>
where
    Option<V>: Decode + 'static,
{
    type Output = Option<V>;
    fn items(&self, out: &mut Vec<Item>) {
        out.push(Item(ItemKind::Subquery(std::sync::Arc::clone(&self.query))));
    }
    fn decode(row: &Row, at: &mut usize) -> Result<Option<V>, Error> {
        decode_next(row, at)
    }
}

macro_rules! tuple_selection {
    ($(($T:ident, $I:ident, $v:ident)),+) => {
        impl<S, $($T, $I),+> Selection<S, ($($I,)+)> for ($($T,)+)
        where
            $($T: Selection<S, $I>),+
        {
            type Output = ($($T::Output,)+);
            fn items(&self, out: &mut Vec<Item>) {
                let ($($v,)+) = self;
                $($v.items(out);)+
            }
            fn decode(row: &Row, at: &mut usize) -> Result<Self::Output, Error> {
                Ok(($($T::decode(row, at)?,)+))
            }
        }
    };
}

tuple_selection!((A, IA, a));
tuple_selection!((A, IA, a), (B, IB, b));
tuple_selection!((A, IA, a), (B, IB, b), (C, IC, c));
tuple_selection!((A, IA, a), (B, IB, b), (C, IC, c), (D, ID, d));
tuple_selection!((A, IA, a), (B, IB, b), (C, IC, c), (D, ID, d), (E, IE, e));
tuple_selection!(
    (A, IA, a),
    (B, IB, b),
    (C, IC, c),
    (D, ID, d),
    (E, IE, e),
    (F, IF, f)
);
tuple_selection!(
    (A, IA, a),
    (B, IB, b),
    (C, IC, c),
    (D, ID, d),
    (E, IE, e),
    (F, IF, f),
    (G, IG, g)
);
tuple_selection!(
    (A, IA, a),
    (B, IB, b),
    (C, IC, c),
    (D, ID, d),
    (E, IE, e),
    (F, IF, f),
    (G, IG, g),
    (H, IH, h)
);
