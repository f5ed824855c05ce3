//! MySQL and MariaDB sessions: a connection is named by its connection id and stopped
//! with `KILL CONNECTION` from a session of its own, so it is closed, never drained.

use std::future::Future;
use std::str::FromStr as _;
use std::sync::Arc;

use sqlx::ConnectOptions as _;
use sqlx::error::BoxDynError;
use sqlx::mysql::MySqlConnectOptions;

use super::{AfterCancel, Driver, Endpoint, execute_script, in_own_session};
use crate::config::DbConfig;
use crate::db::Peer;
use crate::db::connect::malformed;
use crate::db::pool::Options;
use crate::error::Error;
use crate::types::Param;
use crate::types::backend::Arguments;

impl Driver for sqlx::MySql {
    /// The connection (thread) id.
    type CancelKey = u64;

    /// A ping dropped midway leaves its OK packet unread where sqlx does not look for
    /// it: the next ping would read it and leave its own for the next statement, and
    /// every reply after would belong to the statement before.
    const DRAINS: bool = false;

    fn endpoint(config: &mut DbConfig) -> Result<Endpoint<Self>, Error> {
        let url = config.url.expose();
        // sqlx knows only the mysql:// scheme; MariaDB speaks the same protocol.
        let url = match url.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => url.to_owned(),
        };
        let options = MySqlConnectOptions::from_str(&url)
            .map_err(|e| malformed(config, &e))?
            .disable_statement_logging();
        if config.statement_timeout.is_some() || config.lock_timeout.is_some() {
            tracing::warn!("statement_timeout and lock_timeout are not applied on MySQL yet");
        }
        Ok(Endpoint {
            target: format!("{}:{}", options.get_host(), options.get_port()),
            peer: Peer {
                address: Some(options.get_host().to_owned()),
                port: Some(options.get_port()),
                namespace: options.get_database().map(str::to_owned),
            },
            options,
        })
    }

    fn arguments(params: &[Arc<dyn Param + '_>]) -> Result<Self::Arguments, BoxDynError> {
        let mut args = Self::Arguments::default();
        for param in params {
            param.add_to(Arguments::MySql(&mut args))?;
        }
        Ok(args)
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn simple<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
        execute_script::<Self>(conn, sql)
    }

    fn identify(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + '_ {
        sqlx::query_scalar::<Self, u64>("SELECT CONNECTION_ID()")
            .persistent(false)
            .fetch_one(conn)
    }

    /// `KILL CONNECTION` from a session of its own: the server ends the session with its
    /// statement and rolls its transaction back. (After `KILL QUERY` the connection's
    /// state could not be read back reliably through sqlx.)
    async fn cancel(options: &Options<Self>, id: &u64) -> Result<AfterCancel, sqlx::Error> {
        in_own_session::<Self>(options, &format!("KILL CONNECTION {id}")).await?;
        Ok(AfterCancel::Close)
    }

    /// A deadlock (1213) rolls the whole transaction back; later statements would run
    /// outside it. (A lock wait timeout, 1205, rolls back only its statement, unless the
    /// server runs with `innodb_rollback_on_timeout`.)
    fn aborts_transaction(error: &sqlx::Error) -> bool {
        error
            .as_database_error()
            .and_then(|db| db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
            .is_some_and(|my| my.number() == 1213)
    }
}
