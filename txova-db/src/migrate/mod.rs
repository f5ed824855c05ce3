//! Schema migrations: [`Migrator`] over `NNNN_description.up.sql` /
//! `.down.sql` files, and migrations written in Rust ([`CodeMigration`]) among them.
//!
//! Every file runs in its own transaction together with the update of its history row,
//! so a migration is either applied and recorded or neither. Before a file runs, its
//! row is written with `dirty = true`; a failure leaves that flag (and, for
//! transactional files, no partial schema) until [`Migrator::force`] clears it. A file
//! whose first lines contain `-- txova:no-transaction` runs outside a transaction (for
//! `CREATE INDEX CONCURRENTLY`). Only one migrator runs at a time per database (see
//! the lock notes in `lock.rs`); applied files are checked against their checksums.
//!
//! On MySQL and MariaDB every DDL statement commits by itself, so no migration that
//! changes the schema is all-or-nothing there: each file's row is written `dirty`
//! and committed *before* the file runs, and cleared only once the whole file has
//! run. A dirty row therefore means "this file started and may be partly applied":
//! look at the schema, finish or undo the file by hand, then [`Migrator::force`] the
//! version. (A file of data statements only still runs in one transaction.)
//!
//! ```
//! # async fn demo() -> txova_db::Result<()> {
//! use txova_db::migrate::Migrator;
//!
//! let db = txova_db::Db::connect("sqlite::memory:").await?;
//! let migrator = Migrator::from_files([
//!     ("0001_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY);"),
//!     ("0001_users.down.sql", "DROP TABLE users;"),
//! ])?;
//! let applied = migrator.up(&db).await?;
//! assert_eq!(applied.len(), 1);
//! assert_eq!(migrator.version(&db).await?.map(|v| v.version), Some(1));
//! migrator.down(&db, 1).await?;
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod lock;
pub mod source;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use source::{CodeMigration, Migration, MigrationFn};

pub use crate::error::MigrateError;

use crate::db::Db;
use crate::error::{Backend, Error};
use crate::transaction::{RetryPolicy, Tx, TxOptions};
use crate::types::Param;

impl From<MigrateError> for Error {
    fn from(err: MigrateError) -> Self {
        Error::Migration(Box::new(err))
    }
}

/// Which way a step goes.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Migrator};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let migrator = Migrator::from_files([
///     ("0001_create_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY)"),
///     ("0001_create_users.down.sql", "DROP TABLE users"),
///     ("0002_add_email.up.sql", "ALTER TABLE users ADD COLUMN email TEXT"),
/// ])?;
///
/// use txova_db::migrate::Step;
///
/// let applied = migrator.steps(&db, 1).await?;
/// assert_eq!(applied[0].step, Step::Up);
/// let reverted = migrator.steps(&db, -1).await?;
/// assert_eq!(reverted[0].step, Step::Down);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Applying an `.up.sql`.
    Up,
    /// Reverting with a `.down.sql`.
    Down,
}

/// One step run (or, in a dry run, planned).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Migrator};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let migrator = Migrator::from_files([
///     ("0001_create_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY)"),
///     ("0001_create_users.down.sql", "DROP TABLE users"),
///     ("0002_add_email.up.sql", "ALTER TABLE users ADD COLUMN email TEXT"),
/// ])?;
///
/// for applied in migrator.up(&db).await? {
///     println!("{:04} {} in {:?}", applied.version, applied.description, applied.duration);
/// }
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The migration's version.
    pub version: i64,
    /// Its description.
    pub description: String,
    /// Up or down.
    pub step: Step,
    /// The SQL run.
    pub sql: String,
    /// How long it took (zero in a dry run).
    pub duration: Duration,
}

/// The current version and whether a migration failed there.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Migrator};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let migrator = Migrator::from_files([
///     ("0001_create_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY)"),
///     ("0001_create_users.down.sql", "DROP TABLE users"),
///     ("0002_add_email.up.sql", "ALTER TABLE users ADD COLUMN email TEXT"),
/// ])?;
///
/// assert_eq!(migrator.version(&db).await?, None);
/// migrator.up(&db).await?;
/// let version = migrator.version(&db).await?.expect("migrated");
/// assert_eq!((version.version, version.dirty), (2, false));
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationVersion {
    /// The highest applied version.
    pub version: i64,
    /// A migration failed part-way at this version.
    pub dirty: bool,
}

/// One file's state, from [`Migrator::status`].
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Migrator};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let migrator = Migrator::from_files([
///     ("0001_create_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY)"),
///     ("0001_create_users.down.sql", "DROP TABLE users"),
///     ("0002_add_email.up.sql", "ALTER TABLE users ADD COLUMN email TEXT"),
/// ])?;
///
/// migrator.steps(&db, 1).await?;
/// let status = migrator.status(&db).await?;
/// assert!(status[0].applied_at.is_some());
/// assert!(status[1].applied_at.is_none()); // pending
/// assert!(!status[0].checksum_mismatch);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The version.
    pub version: i64,
    /// The description.
    pub description: String,
    /// When it was applied (`None`: pending).
    pub applied_at: Option<String>,
    /// How long it took.
    pub duration_ms: Option<i64>,
    /// It failed part-way.
    pub dirty: bool,
    /// Its file changed since it ran.
    pub checksum_mismatch: bool,
}

struct HistoryRow {
    version: i64,
    checksum: String,
    dirty: bool,
    applied_at: String,
    duration_ms: i64,
}

/// Runs migrations against a [`Db`]; see the [module docs](self).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Migrator};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let migrator = Migrator::from_files([
///     ("0001_create_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY)"),
///     ("0001_create_users.down.sql", "DROP TABLE users"),
///     ("0002_add_email.up.sql", "ALTER TABLE users ADD COLUMN email TEXT"),
/// ])?;
///
/// let applied = migrator.up(&db).await?;
/// assert_eq!(applied.len(), 2);
/// assert!(migrator.up(&db).await?.is_empty()); // nothing left to do
/// migrator.down(&db, 1).await.unwrap_err(); // 0002 has no .down.sql
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Migrator {
    migrations: Vec<Migration>,
    table: String,
    lock_timeout: Duration,
    dry_run: bool,
}

impl Migrator {
    /// The migrations of a directory.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(Self::new(source::from_dir(dir.as_ref())?))
    }

    /// The migrations of `(file name, SQL)` pairs (what `embed_migrations!` gives).
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Error> {
        Ok(Self::new(source::from_files(files)?))
    }

    /// The migrations of `(file name, SQL)` pairs and of Rust code, ordered by version
    /// together; see [`CodeMigration`].
    pub fn from_files_and_code<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
        code: impl IntoIterator<Item = CodeMigration>,
    ) -> Result<Self, Error> {
        Ok(Self::new(source::from_files_and_code(files, code)?))
    }

    /// The migrations of a directory and of Rust code, ordered by version together.
    pub fn from_dir_and_code(
        dir: impl AsRef<Path>,
        code: impl IntoIterator<Item = CodeMigration>,
    ) -> Result<Self, Error> {
        let files = source::read_dir(dir.as_ref())?;
        Self::from_files_and_code(files.iter().map(|(n, t)| (n.as_str(), t.as_str())), code)
    }

    fn new(migrations: Vec<Migration>) -> Self {
        Self {
            migrations,
            table: String::from("_txova_migrations"),
            lock_timeout: Duration::from_secs(60),
            dry_run: false,
        }
    }

    /// The history table's name (default `_txova_migrations`).
    pub fn table(mut self, name: impl Into<String>) -> Self {
        self.table = name.into();
        self
    }

    /// How long to wait for another migrator to finish (default 60 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Plan only: `up`/`down`/`steps` return what they would run and change nothing.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// The migrations, by version.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// Applies every pending migration.
    pub async fn up(&self, db: &Db) -> Result<Vec<Applied>, Error> {
        self.run(db, Target::Up(usize::MAX)).await
    }

    /// Reverts the last `n` applied migrations.
    pub async fn down(&self, db: &Db, n: usize) -> Result<Vec<Applied>, Error> {
        self.run(db, Target::Down(n)).await
    }

    /// Reverts every applied migration.
    pub async fn down_all(&self, db: &Db) -> Result<Vec<Applied>, Error> {
        self.run(db, Target::Down(usize::MAX)).await
    }

    /// `n > 0`: applies the next `n`; `n < 0`: reverts the last `-n`.
    pub async fn steps(&self, db: &Db, n: i64) -> Result<Vec<Applied>, Error> {
        let count = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
        self.run(
            db,
            if n >= 0 {
                Target::Up(count)
            } else {
                Target::Down(count)
            },
        )
        .await
    }

    /// The current version, or `None` when nothing is applied.
    pub async fn version(&self, db: &Db) -> Result<Option<MigrationVersion>, Error> {
        self.ensure_table(db).await?;
        Ok(self.history(db).await?.last().map(|row| MigrationVersion {
            version: row.version,
            dirty: row.dirty,
        }))
    }

    /// Every file with its state.
    pub async fn status(&self, db: &Db) -> Result<Vec<MigrationStatus>, Error> {
        self.ensure_table(db).await?;
        let history = self.history(db).await?;
        Ok(self
            .migrations
            .iter()
            .map(|m| {
                let row = history.iter().find(|r| r.version == m.version);
                MigrationStatus {
                    version: m.version,
                    description: m.description.clone(),
                    applied_at: row.map(|r| r.applied_at.clone()),
                    duration_ms: row.map(|r| r.duration_ms),
                    dirty: row.is_some_and(|r| r.dirty),
                    checksum_mismatch: row.is_some_and(|r| r.checksum != m.checksum),
                }
            })
            .collect())
    }

    /// Declares `version` the current, clean version, after fixing a failed migration
    /// by hand: rows above it are removed, its own row is marked clean (or recorded).
    /// `force(0)` forgets every migration.
    pub async fn force(&self, db: &Db, version: i64) -> Result<(), Error> {
        let lock = lock::acquire(db, &self.table, self.lock_timeout).await?;
        let result = async {
            self.ensure_table(db).await?;
            self.exec(
                db,
                &format!(
                    "DELETE FROM {} WHERE version > {}",
                    self.quoted(db),
                    version
                ),
                vec![],
            )
            .await?;
            if let Some(m) = self.migrations.iter().find(|m| m.version == version) {
                self.record(db, m, false, 0).await?;
            }
            Ok(())
        }
        .await;
        lock.release().await;
        result
    }

    /// Accepts the current files' checksums for applied migrations edited on purpose
    /// (e.g. whitespace or a comment); returns how many rows changed.
    pub async fn repair(&self, db: &Db) -> Result<usize, Error> {
        let lock = lock::acquire(db, &self.table, self.lock_timeout).await?;
        let result = async {
            self.ensure_table(db).await?;
            let mut changed = 0;
            for row in self.history(db).await? {
                if let Some(m) = self.migrations.iter().find(|m| m.version == row.version)
                    && m.checksum != row.checksum
                {
                    let sql = format!(
                        "UPDATE {} SET checksum = {} WHERE version = {}",
                        self.quoted(db),
                        placeholder(db, 1),
                        row.version
                    );
                    self.exec(db, &sql, vec![Arc::new(m.checksum.clone())])
                        .await?;
                    changed += 1;
                }
            }
            Ok(changed)
        }
        .await;
        lock.release().await;
        result
    }

    async fn run(&self, db: &Db, target: Target) -> Result<Vec<Applied>, Error> {
        let lock = lock::acquire(db, &self.table, self.lock_timeout).await?;
        let result = self.run_locked(db, target).await;
        lock.release().await;
        result
    }

    async fn run_locked(&self, db: &Db, target: Target) -> Result<Vec<Applied>, Error> {
        self.ensure_table(db).await?;
        let history = self.history(db).await?;
        self.validate(&history)?;
        let applied: Vec<&Migration> = history
            .iter()
            .filter_map(|row| self.migrations.iter().find(|m| m.version == row.version))
            .collect();
        let plan: Vec<(&Migration, Step)> = match target {
            Target::Up(n) => self
                .migrations
                .iter()
                .filter(|m| !history.iter().any(|r| r.version == m.version))
                .take(n)
                .map(|m| (m, Step::Up))
                .collect(),
            Target::Down(n) => applied
                .iter()
                .rev()
                .take(n)
                .map(|m| (*m, Step::Down))
                .collect(),
        };
        let mut done = Vec::with_capacity(plan.len());
        for (migration, step) in plan {
            let sql = match step {
                Step::Up => migration.up.clone(),
                Step::Down => migration.down.clone().ok_or(MigrateError::NoDown {
                    version: migration.version,
                })?,
            };
            let started = Instant::now();
            if !self.dry_run {
                self.apply(db, migration, step, &sql).await?;
            }
            let duration = started.elapsed();
            tracing::info!(
                target: "txova_db::migrate",
                version = migration.version,
                description = %migration.description,
                step = ?step,
                duration_ms = duration.as_secs_f64() * 1e3,
                dry_run = self.dry_run,
                "migration"
            );
            done.push(Applied {
                version: migration.version,
                description: migration.description.clone(),
                step,
                sql,
                duration,
            });
        }
        Ok(done)
    }

    /// Refuses to run over a dirty database, an edited applied file, or an applied
    /// version without a file.
    fn validate(&self, history: &[HistoryRow]) -> Result<(), MigrateError> {
        for row in history {
            if row.dirty {
                return Err(MigrateError::Dirty {
                    version: row.version,
                });
            }
            let Some(file) = self.migrations.iter().find(|m| m.version == row.version) else {
                return Err(MigrateError::MissingFile {
                    version: row.version,
                });
            };
            if file.checksum != row.checksum {
                return Err(MigrateError::ChecksumMismatch {
                    version: row.version,
                    applied: row.checksum.clone(),
                    file: file.checksum.clone(),
                });
            }
        }
        Ok(())
    }

    async fn apply(&self, db: &Db, m: &Migration, step: Step, sql: &str) -> Result<(), Error> {
        let failed = |source: Error| MigrateError::Failed {
            version: m.version,
            description: m.description.clone(),
            source: Box::new(source),
        };
        match step {
            Step::Up if !m.no_transaction && db.backend() != Backend::MySql => {
                // The migration and its history row commit together, so a failure, or
                // a caller that drops this future midway, leaves neither. A failure is
                // then recorded as dirty on its own, for the operator to look at.
                let started = Instant::now();
                let applied = db
                    .transaction_with(TxOptions::new().retry(RetryPolicy::none()), |tx| async {
                        run_body(db, tx, m, step, sql).await?;
                        self.record(db, m, false, elapsed_ms(started)).await
                    })
                    .await;
                if let Err(source) = applied {
                    if let Err(unrecorded) = self.record(db, m, true, 0).await {
                        tracing::warn!(target: "txova_db::migrate", version = m.version, error = %unrecorded, "a failed migration could not be marked dirty");
                    }
                    return Err(failed(source).into());
                }
            }
            Step::Up => {
                // Outside a transaction, or on MySQL, whose DDL commits by itself: part
                // of the migration may apply before a failure or a drop. So dirty
                // first, committed on its own; only a finished migration clears it.
                self.record(db, m, true, 0).await?;
                let started = Instant::now();
                if m.no_transaction {
                    db.execute_script(sql).await.map_err(failed)?;
                    self.mark_clean(db, m.version, elapsed_ms(started)).await?;
                } else {
                    db.transaction_with(TxOptions::new().retry(RetryPolicy::none()), |tx| async {
                        run_body(db, tx, m, step, sql).await?;
                        self.mark_clean(db, m.version, elapsed_ms(started)).await
                    })
                    .await
                    .map_err(failed)?;
                }
            }
            Step::Down => {
                let delete = format!(
                    "DELETE FROM {} WHERE version = {}",
                    self.quoted(db),
                    m.version
                );
                if m.no_transaction {
                    db.execute_script(sql).await.map_err(failed)?;
                    self.exec(db, &delete, vec![]).await?;
                } else {
                    db.transaction_with(TxOptions::new().retry(RetryPolicy::none()), |tx| async {
                        run_body(db, tx, m, step, sql).await?;
                        self.exec(db, &delete, vec![]).await.map(|_| ())
                    })
                    .await
                    .map_err(failed)?;
                }
            }
        }
        Ok(())
    }

    fn quoted(&self, db: &Db) -> String {
        let quote = if db.backend() == Backend::MySql {
            '`'
        } else {
            '"'
        };
        let escaped = self.table.replace(quote, &format!("{quote}{quote}"));
        format!("{quote}{escaped}{quote}")
    }

    async fn ensure_table(&self, db: &Db) -> Result<(), Error> {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (
                version BIGINT PRIMARY KEY,
                description TEXT NOT NULL,
                checksum TEXT NOT NULL,
                dirty BOOLEAN NOT NULL,
                applied_at TEXT NOT NULL,
                duration_ms BIGINT NOT NULL
            )",
            self.quoted(db)
        );
        self.exec(db, &sql, vec![]).await.map(|_| ())
    }

    async fn history(&self, db: &Db) -> Result<Vec<HistoryRow>, Error> {
        let sql = format!(
            "SELECT version, checksum, dirty, applied_at, duration_ms FROM {} ORDER BY version",
            self.quoted(db)
        );
        let rows = crate::query(sql).fetch_all(db).await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryRow {
                    version: r.try_get(0)?,
                    checksum: r.try_get(1)?,
                    dirty: r.try_get(2)?,
                    applied_at: r.try_get(3)?,
                    duration_ms: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Writes `m`'s history row (replacing any), dirty or clean.
    async fn record(
        &self,
        db: &Db,
        m: &Migration,
        dirty: bool,
        duration_ms: i64,
    ) -> Result<(), Error> {
        let table = self.quoted(db);
        self.exec(
            db,
            &format!("DELETE FROM {table} WHERE version = {}", m.version),
            vec![],
        )
        .await?;
        let sql = format!(
            "INSERT INTO {table} (version, description, checksum, dirty, applied_at, duration_ms)
             VALUES ({}, {}, {}, {}, {}, {})",
            placeholder(db, 1),
            placeholder(db, 2),
            placeholder(db, 3),
            placeholder(db, 4),
            placeholder(db, 5),
            placeholder(db, 6),
        );
        let now = chrono_like_now();
        self.exec(
            db,
            &sql,
            vec![
                Arc::new(m.version),
                Arc::new(m.description.clone()),
                Arc::new(m.checksum.clone()),
                Arc::new(dirty),
                Arc::new(now),
                Arc::new(duration_ms),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn mark_clean(&self, db: &Db, version: i64, duration_ms: i64) -> Result<(), Error> {
        let sql = format!(
            "UPDATE {} SET dirty = {}, duration_ms = {} WHERE version = {}",
            self.quoted(db),
            placeholder(db, 1),
            placeholder(db, 2),
            placeholder(db, 3),
        );
        self.exec(
            db,
            &sql,
            vec![Arc::new(false), Arc::new(duration_ms), Arc::new(version)],
        )
        .await
        .map(|_| ())
    }

    async fn exec(&self, db: &Db, sql: &str, params: Vec<Arc<dyn Param>>) -> Result<u64, Error> {
        Ok(db.run_execute(sql, &params).await?.rows_affected())
    }
}

/// Runs a migration's body in its transaction `tx`: its SQL, or its Rust function.
async fn run_body(db: &Db, tx: Tx, m: &Migration, step: Step, sql: &str) -> Result<(), Error> {
    let code = m.code().and_then(|code| match step {
        Step::Up => Some(&code.up),
        Step::Down => code.down.as_ref(),
    });
    match code {
        Some(body) => body(tx).await,
        None => db.execute_script(sql).await.map(drop),
    }
}

enum Target {
    Up(usize),
    Down(usize),
}

fn placeholder(db: &Db, n: usize) -> String {
    match db.backend() {
        Backend::Postgres => format!("${n}"),
        Backend::Sqlite | Backend::MySql => String::from("?"),
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Seconds since the Unix epoch, as text: the history table stays portable across
/// backends without a timestamp type.
fn chrono_like_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", now.as_secs(), now.subsec_millis())
}
