//! Column arrays for Postgres bulk inserts (`INSERT … SELECT * FROM UNNEST($1, …)`).
//!
//! Whether a field type has a Postgres array type is decided where the derive
//! expands, with autoref specialization on the concrete type: a type with
//! `PgHasArrayType` takes [`ArrayParamViaPostgres`], any other the blanket
//! [`ArrayParamFallback`] (no array, so the insert keeps its `VALUES` form).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::types::Param;

/// Probe for the field type `T`; see the module docs.
pub struct ArrayProbe<T>(PhantomData<fn() -> T>);

impl<T> ArrayProbe<T> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

/// Chosen when `T` has a Postgres array type.
pub trait ArrayParamViaPostgres<T> {
    fn array_param<I: Iterator<Item = T>>(&self, values: I) -> Option<Arc<dyn Param>>;
}

/// Chosen otherwise: no array parameter.
pub trait ArrayParamFallback<T> {
    fn array_param<I: Iterator<Item = T>>(&self, _values: I) -> Option<Arc<dyn Param>> {
        None
    }
}

impl<T> ArrayParamFallback<T> for &ArrayProbe<T> {}

#[cfg(feature = "postgres")]
impl<T> ArrayParamViaPostgres<T> for ArrayProbe<T>
where
    T: sqlx::postgres::PgHasArrayType
        + for<'q> sqlx::Encode<'q, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + fmt::Debug
        + Send
        + Sync
        + 'static,
{
    fn array_param<I: Iterator<Item = T>>(&self, values: I) -> Option<Arc<dyn Param>> {
        Some(Arc::new(PostgresArray(values.collect())))
    }
}

/// One column's values as a Postgres array parameter. Other backends cannot bind it;
/// the insert builder only uses it on Postgres.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
struct PostgresArray<T>(Vec<T>);

impl<T> fmt::Debug for PostgresArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} values]", self.0.len())
    }
}

#[cfg(feature = "postgres")]
impl<T> Param for PostgresArray<T>
where
    T: sqlx::postgres::PgHasArrayType
        + for<'q> sqlx::Encode<'q, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + fmt::Debug
        + Send
        + Sync
        + 'static,
{
    fn add_to(
        &self,
        args: crate::types::backend::Arguments<'_>,
    ) -> Result<(), sqlx::error::BoxDynError> {
        match args {
            crate::types::backend::Arguments::Postgres(args) => sqlx::Arguments::add(args, &self.0),
            // Column arrays are made only for a Postgres statement.
            _ => Err("column arrays are bound on Postgres only".into()),
        }
    }
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;

    /// Encodable on Postgres, but with no array type declared.
    #[derive(Debug)]
    struct Celsius(i32);

    impl sqlx::Type<sqlx::Postgres> for Celsius {
        fn type_info() -> sqlx::postgres::PgTypeInfo {
            <i32 as sqlx::Type<sqlx::Postgres>>::type_info()
        }
    }

    impl sqlx::Encode<'_, sqlx::Postgres> for Celsius {
        fn encode_by_ref(
            &self,
            buf: &mut sqlx::postgres::PgArgumentBuffer,
        ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
            <i32 as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.0, buf)
        }
    }

    #[test]
    // The borrow is the dispatch: `&ArrayProbe` reaches the fallback impl.
    #[allow(clippy::needless_borrow)]
    fn array_types_are_chosen_and_others_fall_back() {
        let ints = (&ArrayProbe::<i64>::new()).array_param([1_i64, 2, 3].into_iter());
        assert_eq!(
            ints.map(|p| format!("{p:?}")).as_deref(),
            Some("[3 values]")
        );
        let texts = (&ArrayProbe::<Option<String>>::new()).array_param([None].into_iter());
        assert!(texts.is_some());
        let custom = (&ArrayProbe::<Celsius>::new()).array_param([Celsius(3)].into_iter());
        assert!(custom.is_none(), "no PgHasArrayType: keep the VALUES form");
    }
}
