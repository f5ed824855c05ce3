//! The migration lock: one migrator at a time per database.
//!
//! Postgres: `pg_try_advisory_lock`, polled until a deadline on a dedicated connection
//! that never opens a transaction (so `CREATE INDEX CONCURRENTLY`, which waits for
//! older transactions, cannot wait on it). The lock belongs to that connection's
//! session: dropping the connection — on success, error, panic, a dropped future or a
//! killed process — releases it. MySQL/MariaDB: `GET_LOCK`, polled the same way on a
//! dedicated connection, whose session owns the lock just as Postgres's does. SQLite:
//! an OS file lock beside the database file, released by the kernel when the file
//! closes; in memory, a process-wide mutex.

use std::sync::{Arc, OnceLock};
use std::time::Duration;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use std::time::Instant;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use super::MigrateError;
use crate::db::Db;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use crate::db::Pool;
use crate::error::Error;

/// Held while migrations run; released when dropped.
pub(crate) enum MigrationLock {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgConnection),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlConnection),
    #[cfg(feature = "sqlite")]
    File(#[allow(dead_code)] std::fs::File),
    Memory(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>),
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
const POLL: Duration = Duration::from_millis(100);

/// A lock key per history table, so migrators of different tables do not exclude each
/// other: FNV-1a of the table name.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn key(table: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "txova-db migrations:".bytes().chain(table.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(unused_variables)
)]
pub(crate) async fn acquire(
    db: &Db,
    table: &str,
    timeout: Duration,
) -> Result<MigrationLock, Error> {
    match &db.inner.pool {
        #[cfg(feature = "postgres")]
        Pool::Postgres(pool) => postgres(db, pool, table, timeout).await,
        #[cfg(feature = "mysql")]
        Pool::MySql(pool) => mysql(db, pool, table, timeout).await,
        #[cfg(feature = "sqlite")]
        Pool::Sqlite(pool) => sqlite(pool, timeout).await,
        #[allow(unreachable_patterns)]
        _ => memory().await,
    }
}

#[cfg(feature = "postgres")]
async fn postgres(
    db: &Db,
    pool: &crate::db::pool::ConnPool<sqlx::Postgres>,
    table: &str,
    timeout: Duration,
) -> Result<MigrationLock, Error> {
    use sqlx::ConnectOptions as _;
    let mut conn = pool
        .connect_options()
        .connect()
        .await
        .map_err(|e| db.error(e))?;
    // Advisory locks are database-wide; history tables are per schema.
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| db.error(e))?;
    let key = key(&format!("{schema}.{table}"));
    let deadline = Instant::now() + timeout;
    loop {
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| db.error(e))?;
        if locked {
            return Ok(MigrationLock::Postgres(conn));
        }
        if Instant::now() >= deadline {
            let holder: Option<(i32, String)> = sqlx::query_as(
                "SELECT a.pid, coalesce(a.application_name, '')
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted
                   AND l.classid = ($1 >> 32)::int::oid AND l.objid = ($1 & 4294967295)::bigint::oid",
            )
            .bind(key)
            .fetch_optional(&mut conn)
            .await
            .map_err(|e| db.error(e))?;
            return Err(MigrateError::LockTimeout {
                after: timeout,
                holder: holder.map(|(pid, app)| format!("pid {pid}, application_name {app:?}")),
            }
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `GET_LOCK` names are at most 64 characters and server-wide: a hash of the database
/// and the history table.
#[cfg(feature = "mysql")]
async fn mysql(
    db: &Db,
    pool: &crate::db::pool::ConnPool<sqlx::MySql>,
    table: &str,
    timeout: Duration,
) -> Result<MigrationLock, Error> {
    use sqlx::ConnectOptions as _;
    let mut conn = pool
        .connect_options()
        .connect()
        .await
        .map_err(|e| db.error(e))?;
    let database: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| db.error(e))?;
    let name = format!(
        "txova_db_migrate_{:016x}",
        key(&format!("{}.{table}", database.unwrap_or_default()))
    );
    let deadline = Instant::now() + timeout;
    loop {
        // 1: taken; 0: another session holds it (NULL only on an error, reported).
        let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| db.error(e))?;
        if locked == Some(1) {
            return Ok(MigrationLock::MySql(conn));
        }
        if Instant::now() >= deadline {
            let holder: Option<(i64, String, String)> = sqlx::query_as(
                "SELECT p.ID, p.USER, p.HOST FROM information_schema.PROCESSLIST p
                 WHERE p.ID = IS_USED_LOCK(?)",
            )
            .bind(&name)
            .fetch_optional(&mut conn)
            .await
            .map_err(|e| db.error(e))?;
            return Err(MigrateError::LockTimeout {
                after: timeout,
                holder: holder.map(|(id, user, host)| {
                    format!("connection {id}, user {user:?} from {host:?}")
                }),
            }
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(feature = "sqlite")]
async fn sqlite(
    pool: &crate::db::pool::ConnPool<sqlx::Sqlite>,
    timeout: Duration,
) -> Result<MigrationLock, Error> {
    let path = pool.connect_options().get_filename().to_path_buf();
    let name = path.to_string_lossy();
    if name.is_empty() || name.starts_with("file:sqlx-in-memory") || name.contains(":memory:") {
        return memory().await;
    }
    // The lock file stays when the lock is released, as Cargo's own lock files do:
    // removing it would let a process that opened it just before take a lock on a
    // file no longer there while a third creates and locks a new one.
    let mut lock_path = path.into_os_string();
    lock_path.push(".migrate-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| MigrateError::Read {
            path: lock_path.to_string_lossy().into_owned(),
            source,
        })?;
    let deadline = Instant::now() + timeout;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(MigrationLock::File(file)),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(POLL).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(MigrateError::LockTimeout {
                    after: timeout,
                    holder: Some(format!(
                        "another process holds {}",
                        lock_path.to_string_lossy()
                    )),
                }
                .into());
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(MigrateError::Read {
                    path: lock_path.to_string_lossy().into_owned(),
                    source,
                }
                .into());
            }
        }
    }
}

async fn memory() -> Result<MigrationLock, Error> {
    static LOCK: OnceLock<Arc<tokio::sync::Mutex<()>>> = OnceLock::new();
    let lock = Arc::clone(LOCK.get_or_init(Default::default));
    Ok(MigrationLock::Memory(lock.lock_owned().await))
}

impl MigrationLock {
    /// Releases at once (dropping would too, a moment later on Postgres).
    pub(crate) async fn release(self) {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(conn) => {
                // Ending the session releases its advisory locks.
                let _ = sqlx::Connection::close(conn).await;
            }
            #[cfg(feature = "mysql")]
            Self::MySql(conn) => {
                // Ending the session releases its named locks.
                let _ = sqlx::Connection::close(conn).await;
            }
            #[cfg(feature = "sqlite")]
            Self::File(file) => drop(file),
            Self::Memory(guard) => drop(guard),
        }
    }
}
