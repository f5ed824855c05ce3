//! [`Executor`] for [`Db`] and for the sqlx pools it wraps.

use std::future::Future;
use std::sync::Arc;

use super::Db;
use crate::error::{Backend, Error};
use crate::executor::{ExecuteResult, Executor, RowSlot, ServerTraits, sealed};
use crate::row::Row;
use crate::types::Param;

impl sealed::Sealed for Db {}

impl Executor for Db {
    fn backend(&self) -> Backend {
        Db::backend(self)
    }

    fn server_traits(&self) -> ServerTraits {
        self.inner.server
    }

    fn execute_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> impl Future<Output = Result<ExecuteResult, Error>> + Send + 'a {
        self.run_execute(sql, params)
    }

    fn fetch_all_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send + 'a {
        self.run_fetch_all(sql, params)
    }

    fn fetch_optional_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send + 'a {
        self.run_fetch_optional(sql, params)
    }

    fn fetch_each_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
        sink: &'a mut (dyn FnMut(Row) -> Result<(), Error> + Send),
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        self.run_fetch_each(sql, params, sink)
    }

    fn stream_statement<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [Arc<dyn Param + 'a>],
        slot: &'a RowSlot,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        self.run_fetch_stream(sql, params, slot)
    }

    fn copy_in_statement<'a>(
        &'a self,
        sql: &'a str,
        data: &'a [u8],
    ) -> impl Future<Output = Result<u64, Error>> + Send + 'a {
        self.run_copy_in(sql, data)
    }
}

/// A sqlx pool runs statements through a [`Db`] view of itself (a cheap wrapper; the
/// pool and its connections are shared, not copied).
macro_rules! executor_for_pool {
    ($feature:literal, $pool:ty, $backend:ident) => {
        #[cfg(feature = $feature)]
        impl sealed::Sealed for $pool {}

        #[cfg(feature = $feature)]
        impl Executor for $pool {
            fn backend(&self) -> Backend {
                Backend::$backend
            }

            async fn execute_statement<'a>(
                &'a self,
                sql: &'a str,
                params: &'a [Arc<dyn Param + 'a>],
            ) -> Result<ExecuteResult, Error> {
                Db::from(self.clone()).run_execute(sql, params).await
            }

            async fn fetch_all_statement<'a>(
                &'a self,
                sql: &'a str,
                params: &'a [Arc<dyn Param + 'a>],
            ) -> Result<Vec<Row>, Error> {
                Db::from(self.clone()).run_fetch_all(sql, params).await
            }

            async fn fetch_optional_statement<'a>(
                &'a self,
                sql: &'a str,
                params: &'a [Arc<dyn Param + 'a>],
            ) -> Result<Option<Row>, Error> {
                Db::from(self.clone()).run_fetch_optional(sql, params).await
            }

            async fn fetch_each_statement<'a>(
                &'a self,
                sql: &'a str,
                params: &'a [Arc<dyn Param + 'a>],
                sink: &'a mut (dyn FnMut(Row) -> Result<(), Error> + Send),
            ) -> Result<(), Error> {
                Db::from(self.clone())
                    .run_fetch_each(sql, params, sink)
                    .await
            }

            async fn stream_statement<'a>(
                &'a self,
                sql: &'a str,
                params: &'a [Arc<dyn Param + 'a>],
                slot: &'a RowSlot,
            ) -> Result<(), Error> {
                Db::from(self.clone())
                    .run_fetch_stream(sql, params, slot)
                    .await
            }

            async fn copy_in_statement<'a>(
                &'a self,
                sql: &'a str,
                data: &'a [u8],
            ) -> Result<u64, Error> {
                Db::from(self.clone()).run_copy_in(sql, data).await
            }
        }
    };
}

executor_for_pool!("postgres", sqlx::PgPool, Postgres);
executor_for_pool!("sqlite", sqlx::SqlitePool, Sqlite);
executor_for_pool!("mysql", sqlx::MySqlPool, MySql);
