//! [`Redacted`]: a bound value that is sent as itself and shown as `***`.

use std::fmt;

/// A value bound as `T` on every backend whose `Debug` shows `***`: a password hash,
/// a token, an email address that must not reach a log through a statement's
/// [`Display`](crate::sql::Statement) or a builder's `Debug`.
///
/// `#[column(secret)]` on a field of a `#[derive(Table)]` struct wraps every value
/// bound through that column (comparisons, `is_in`, inserts, updates) in it; wrap a
/// value yourself where it is bound another way, as in [`query`](crate::query()).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Redacted, query};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE api_keys (owner TEXT NOT NULL, token TEXT NOT NULL)").await?;
/// let token = "tk_live_8f2c61";
/// let insert = query("INSERT INTO api_keys (owner, token) VALUES (?, ?)")
///     .bind("ana")
///     .bind(Redacted(token));
/// assert_eq!(format!("{insert:?}").contains(token), false);
/// insert.execute(&db).await?;
///
/// // Sent as the value itself.
/// let owner: String = query("SELECT owner FROM api_keys WHERE token = ?")
///     .bind(Redacted(token))
///     .fetch_one(&db)
///     .await?
///     .try_get(0)?;
/// assert_eq!(owner, "ana");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Redacted<T>(pub T);

impl<T> Redacted<T> {
    /// The value. Never log this.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// The value, unwrapped.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T, DB> sqlx::Type<DB> for Redacted<T>
where
    T: sqlx::Type<DB>,
    DB: sqlx::Database,
{
    fn type_info() -> DB::TypeInfo {
        T::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        T::compatible(ty)
    }
}

impl<'q, T, DB> sqlx::Encode<'q, DB> for Redacted<T>
where
    T: sqlx::Encode<'q, DB>,
    DB: sqlx::Database,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        self.0.encode_by_ref(buf)
    }

    fn produces(&self) -> Option<DB::TypeInfo> {
        self.0.produces()
    }

    fn size_hint(&self) -> usize {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::Redacted;
    use crate::types::Bind;

    fn binds<T: Bind>(_: &T) {}

    #[test]
    fn shows_nothing_of_the_value_and_binds_as_it() {
        let secret = Redacted(String::from("hunter2"));
        binds(&secret);
        binds(&Redacted(&secret.0));
        binds(&Redacted(Some(7_i64)));
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", [Redacted(1), Redacted(2)]), "[***, ***]");
        assert_eq!(secret.expose(), "hunter2");
        assert_eq!(secret.into_inner(), "hunter2");
    }
}
