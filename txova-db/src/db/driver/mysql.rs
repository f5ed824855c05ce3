//! MySQL and MariaDB sessions: a connection is named by its connection id and stopped
//! with `KILL CONNECTION` from a session of its own, so it is closed, never drained.

use std::future::Future;
use std::str::FromStr as _;
use std::sync::Arc;

use sqlx::ConnectOptions as _;
use sqlx::error::BoxDynError;
use sqlx::mysql::MySqlConnectOptions;

use super::{AfterCancel, Driver, Endpoint, SessionLimits, execute_script, in_own_session};
use crate::config::DbConfig;
use crate::db::Peer;
use crate::db::connect::malformed;
use crate::db::pool::Options;
use crate::error::Error;
use crate::executor::{ExecuteResult, ServerTraits};
use crate::types::Param;
use crate::types::backend::Arguments;

impl Driver for sqlx::MySql {
    /// User variables, session settings, temporary tables and named locks cannot all be
    /// reset by statements sqlx can send (`COM_RESET_CONNECTION` is not among them): a
    /// connection lent whole is closed, not reused.
    fn reset_session(
        _conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + '_ {
        std::future::ready(Err(sqlx::Error::Protocol(
            "a MySQL session lent whole cannot be reset; closing it".into(),
        )))
    }

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

    /// `LAST_INSERT_ID()` as the OK packet carries it: 0 when the statement generated
    /// no key.
    fn execute_result(result: &Self::QueryResult, _sql: &str) -> ExecuteResult {
        let id = i64::try_from(result.last_insert_id())
            .ok()
            .filter(|&id| id != 0);
        ExecuteResult::new(result.rows_affected(), id)
    }

    fn simple<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
        execute_script::<Self>(conn, sql)
    }

    /// Also applies the session limits, which MySQL takes only as session variables:
    /// one round trip more when any is set.
    async fn identify(
        conn: &mut Self::Connection,
        limits: &SessionLimits,
    ) -> Result<u64, sqlx::Error> {
        let (id, version) =
            sqlx::query_as::<Self, (u64, String)>("SELECT CONNECTION_ID(), VERSION()")
                .persistent(false)
                .fetch_one(&mut *conn)
                .await?;
        if let Some(set) = session_limits_sql(limits, version.contains("MariaDB")) {
            execute_script::<Self>(conn, &set).await?;
        }
        Ok(id)
    }

    /// MariaDB has `INSERT … RETURNING` from 10.5 (and `DELETE … RETURNING` from 10.0);
    /// MySQL has neither. A multi-row insert's keys are consecutive (a step of
    /// `auto_increment_increment` apart) under `innodb_autoinc_lock_mode` 0 and 1, not
    /// under 2, where concurrent inserts interleave.
    async fn server_traits(conn: &mut Self::Connection) -> Result<ServerTraits, sqlx::Error> {
        let (version, lock_mode, increment) = sqlx::query_as::<Self, (String, i64, i64)>(
            "SELECT VERSION(), CAST(@@innodb_autoinc_lock_mode AS SIGNED),
                    CAST(@@auto_increment_increment AS SIGNED)",
        )
        .persistent(false)
        .fetch_one(conn)
        .await?;
        Ok(ServerTraits {
            returning: mariadb_version(&version).is_some_and(|v| v >= (10, 5)),
            key_step: (lock_mode < 2).then_some(increment),
        })
    }

    /// `KILL CONNECTION` from a session of its own: the server ends the session with its
    /// statement and rolls its transaction back. (After `KILL QUERY` the connection's
    /// state could not be read back reliably through sqlx.)
    async fn cancel(options: &Options<Self>, id: &u64) -> Result<AfterCancel, sqlx::Error> {
        in_own_session::<Self>(options, &format!("KILL CONNECTION {id}")).await?;
        Ok(AfterCancel::Close)
    }

    /// A deadlock (1213) rolls the whole transaction back; later statements would run
    /// outside it. A lock wait timeout (1205) rolls back only its statement (unless the
    /// server runs with `innodb_rollback_on_timeout`), leaving the transaction open
    /// with part of its work undone: committing it would commit the rest without that
    /// statement, so it fails the transaction too, as on Postgres, unless a savepoint
    /// scope around the statement rolled back. Either way the transaction is retried.
    fn aborts_transaction(error: &sqlx::Error) -> bool {
        matches!(mysql_error_number(error), Some(1213 | 1205))
    }

    fn ends_transaction(error: &sqlx::Error) -> bool {
        mysql_error_number(error) == Some(1213)
    }
}

/// MariaDB's major and minor version from `VERSION()` (`10.11.9-MariaDB-0+deb12u1`);
/// `None` for MySQL.
fn mariadb_version(version: &str) -> Option<(u32, u32)> {
    if !version.contains("MariaDB") {
        return None;
    }
    // Old servers said `5.5.5-10.4.0-MariaDB` to keep 5.x clients working.
    let version = version.strip_prefix("5.5.5-").unwrap_or(version);
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The server's error number, for a database error.
fn mysql_error_number(error: &sqlx::Error) -> Option<u16> {
    error
        .as_database_error()
        .and_then(|db| db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .map(sqlx::mysql::MySqlDatabaseError::number)
}

/// The `SET SESSION` statement that applies `limits`, if any is set: the statement
/// timeout as MariaDB's `max_statement_time` (seconds, any statement) or MySQL's
/// `max_execution_time` (milliseconds, read-only `SELECT`s only: MySQL has no limit
/// for writes), and the lock timeout as `innodb_lock_wait_timeout` (whole seconds,
/// rounded up, at least 1).
fn session_limits_sql(limits: &SessionLimits, mariadb: bool) -> Option<String> {
    let mut set = Vec::new();
    if let Some(timeout) = limits.statement_timeout {
        // 0 would switch the limit off: at least the smallest unit each server counts.
        set.push(if mariadb {
            format!(
                "max_statement_time = {:.6}",
                timeout.as_secs_f64().max(1e-6)
            )
        } else {
            format!(
                "max_execution_time = {}",
                timeout.as_millis().clamp(1, u128::from(u32::MAX))
            )
        });
    }
    if let Some(timeout) = limits.lock_timeout {
        let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        set.push(format!(
            "innodb_lock_wait_timeout = {}",
            seconds.clamp(1, 1_073_741_824)
        ));
    }
    (!set.is_empty()).then(|| format!("SET SESSION {}", set.join(", ")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn mariadb_versions_are_read_from_version() {
        assert_eq!(mariadb_version("10.11.9-MariaDB-0+deb12u1"), Some((10, 11)));
        assert_eq!(mariadb_version("5.5.5-10.4.0-MariaDB"), Some((10, 4)));
        assert_eq!(mariadb_version("11.4.2-MariaDB"), Some((11, 4)));
        assert_eq!(mariadb_version("8.0.36"), None);
        assert_eq!(mariadb_version("MariaDB"), None);
    }

    #[test]
    fn session_limits_are_one_set_statement_per_server() {
        let none = SessionLimits::default();
        assert_eq!(session_limits_sql(&none, true), None);
        let limits = SessionLimits {
            statement_timeout: Some(Duration::from_millis(1500)),
            lock_timeout: Some(Duration::from_millis(200)),
        };
        assert_eq!(
            session_limits_sql(&limits, true).as_deref(),
            Some("SET SESSION max_statement_time = 1.500000, innodb_lock_wait_timeout = 1")
        );
        assert_eq!(
            session_limits_sql(&limits, false).as_deref(),
            Some("SET SESSION max_execution_time = 1500, innodb_lock_wait_timeout = 1")
        );
        let tiny = SessionLimits {
            statement_timeout: Some(Duration::from_nanos(1)),
            lock_timeout: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            session_limits_sql(&tiny, false).as_deref(),
            Some("SET SESSION max_execution_time = 1, innodb_lock_wait_timeout = 3")
        );
    }
}
