//! What `.columns(..)` accepts and how its rows decode: a column, an aggregate, or a
//! tuple of them.

use crate::column::{Column, NullableColumn};
use crate::error::Error;
use crate::expr::Contains;
use crate::row::Row;
use crate::table::Table;
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

impl<S, X, V, I> Selection<S, I> for Column<X, V>
where
    X: Table,
    S: Contains<X, I>,
    V: Decode + 'static,
{
    type Output = V;
    fn items(&self, out: &mut Vec<Item>) {
        out.push(Item(ItemKind::Column(self.col_ref())));
    }
    fn decode(row: &Row, at: &mut usize) -> Result<V, Error> {
        decode_next(row, at)
    }
}

impl<S, X, V, I> Selection<S, I> for NullableColumn<X, V>
where
    X: Table,
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
