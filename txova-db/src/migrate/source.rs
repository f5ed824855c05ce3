//! Migration files: `NNNN_description.up.sql` and `NNNN_description.down.sql`, read from a
//! directory or embedded at compile time, and migrations written in Rust
//! ([`CodeMigration`]), ordered together and validated before anything runs.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use sha2::{Digest as _, Sha256};

use super::MigrateError;
use crate::error::Error;
use crate::transaction::Tx;

/// One migration: its version, its SQL both ways, and the checksum of its `up` file.
///
/// ```
/// use txova_db::Migrator;
///
/// let migrator = Migrator::from_files([
///     ("0001_create_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY)"),
///     ("0001_create_users.down.sql", "DROP TABLE users"),
/// ])?;
/// let first = &migrator.migrations()[0];
/// assert_eq!((first.version, first.description.as_str()), (1, "create_users"));
/// assert!(first.down.is_some());
/// assert_eq!(first.checksum.len(), 64);
/// # Ok::<(), txova_db::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Migration {
    /// The number the file names start with.
    pub version: i64,
    /// The rest of the file name (`create_users`).
    pub description: String,
    /// The `.up.sql` text.
    pub up: String,
    /// The `.down.sql` text, if there is one.
    pub down: Option<String>,
    /// The file opts out of the wrapping transaction with `-- txova:no-transaction`
    /// (for `CREATE INDEX CONCURRENTLY` and the like).
    pub no_transaction: bool,
    /// SHA-256 of the normalised `up` text, hex; of `code:<version>:<description>` for a
    /// [`CodeMigration`].
    pub checksum: String,
    /// The Rust functions of a [`CodeMigration`] (then `up` and `down` hold a comment).
    code: Option<CodeSteps>,
}

impl Migration {
    /// Whether this migration is Rust code rather than SQL.
    pub fn is_code(&self) -> bool {
        self.code.is_some()
    }

    pub(crate) fn code(&self) -> Option<&CodeSteps> {
        self.code.as_ref()
    }
}

/// The body of a [`CodeMigration`]: given the migration's transaction, in which its
/// history row is written too.
pub type MigrationFn = Arc<dyn Fn(Tx) -> BoxFuture<'static, Result<(), Error>> + Send + Sync>;

/// A migration written in Rust (a data backfill, a change SQL cannot express), ordered
/// by its version among the SQL files, with the same history, checksum (of its version
/// and description: rename it and the migrator refuses, as for an edited file), dirty
/// state and dry run. It always runs in a transaction, given to it as a [`Tx`]; on
/// MySQL, where DDL commits by itself, its row is marked dirty before it runs, as for
/// SQL files.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::migrate::{CodeMigration, Migrator};
/// use txova_db::{Db, query};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let backfill = CodeMigration::new(2, "backfill_fares", |tx| async move {
///     for (id, cents) in [(1_i64, 700_i64), (2, 1300)] {
///         query("INSERT INTO fares VALUES (?, ?)").bind(id).bind(cents).execute(&tx).await?;
///     }
///     Ok(())
/// })
/// .down(|tx| async move { query("DELETE FROM fares").execute(&tx).await.map(drop) });
/// let migrator = Migrator::from_files_and_code(
///     [("0001_fares.up.sql", "CREATE TABLE fares (id INTEGER PRIMARY KEY, cents INTEGER)")],
///     [backfill],
/// )?;
/// let applied = migrator.up(&db).await?;
/// assert_eq!(applied.len(), 2);
/// let n: i64 = query("SELECT count(*) FROM fares").fetch_one(&db).await?.try_get(0)?;
/// assert_eq!(n, 2);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use = "give it to Migrator::from_files_and_code"]
pub struct CodeMigration {
    version: i64,
    description: String,
    steps: CodeSteps,
}

impl fmt::Debug for CodeMigration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeMigration")
            .field("version", &self.version)
            .field("description", &self.description)
            .field("down", &self.steps.down.is_some())
            .finish()
    }
}

impl CodeMigration {
    /// Migration `version`, named `description`, applied by `up`.
    pub fn new<F, Fut>(version: i64, description: impl Into<String>, up: F) -> Self
    where
        F: Fn(Tx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        Self {
            version,
            description: description.into(),
            steps: CodeSteps {
                up: boxed(up),
                down: None,
            },
        }
    }

    /// Reverted by `down` (without one, `down` refuses it, as a file without
    /// `.down.sql`).
    pub fn down<F, Fut>(mut self, down: F) -> Self
    where
        F: Fn(Tx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.steps.down = Some(boxed(down));
        self
    }
}

fn boxed<F, Fut>(f: F) -> MigrationFn
where
    F: Fn(Tx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    Arc::new(move |tx| Box::pin(f(tx)))
}

/// The functions of a [`CodeMigration`].
#[derive(Clone)]
pub(crate) struct CodeSteps {
    pub(crate) up: MigrationFn,
    pub(crate) down: Option<MigrationFn>,
}

impl PartialEq for CodeSteps {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.up, &other.up)
            && match (&self.down, &other.down) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

impl Eq for CodeSteps {}

impl fmt::Debug for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migration")
            .field("version", &self.version)
            .field("description", &self.description)
            .field("no_transaction", &self.no_transaction)
            .field("checksum", &self.checksum)
            .field("code", &self.code.is_some())
            .finish_non_exhaustive()
    }
}

/// The marker line that runs a file outside a transaction.
pub const NO_TRANSACTION: &str = "-- txova:no-transaction";

/// Text as it is hashed: no BOM, `\n` line ends, no trailing blanks on lines or at the
/// end. Saving a file with another editor does not change its checksum.
pub fn normalise(sql: &str) -> String {
    let sql = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let mut out = String::with_capacity(sql.len());
    for line in sql.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let trimmed = out.trim_end_matches('\n').len();
    out.truncate(trimmed);
    out
}

/// The checksum of a migration's text.
pub fn checksum(sql: &str) -> String {
    let digest = Sha256::digest(normalise(sql).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which half of a migration a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Up,
    Down,
}

/// A migration file name read: `0001_create_users.up.sql` is version 1, description
/// `create_users` (at `description` in the name), direction up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileName {
    pub(crate) version: i64,
    pub(crate) description: std::ops::Range<usize>,
    pub(crate) direction: Direction,
}

/// Reads a migration file name: `NNNN_description.up.sql` or `.down.sql`, where NNNN is
/// ASCII digits making a number that fits `i64` and the description is not empty.
///
/// The one statement of the rule: `const` so that `embed_migrations!` checks each
/// embedded name with it at compile time (through `__private`), and the migrator reads
/// the same names with it at run time.
pub(crate) const fn parse_file_name(name: &str) -> Option<FileName> {
    let bytes = name.as_bytes();
    let (stem, direction) = if ends_with(bytes, b".up.sql") {
        (bytes.len() - b".up.sql".len(), Direction::Up)
    } else if ends_with(bytes, b".down.sql") {
        (bytes.len() - b".down.sql".len(), Direction::Down)
    } else {
        return None;
    };
    let mut version: i64 = 0;
    let mut i = 0;
    while i < stem && bytes[i] != b'_' {
        if !bytes[i].is_ascii_digit() {
            return None;
        }
        let digit = (bytes[i] - b'0') as i64;
        version = match version.checked_mul(10) {
            Some(shifted) => match shifted.checked_add(digit) {
                Some(next) => next,
                None => return None,
            },
            None => return None,
        };
        i += 1;
    }
    // No digits, no `_`, or nothing after it.
    if i == 0 || i + 1 >= stem {
        return None;
    }
    Some(FileName {
        version,
        description: i + 1..stem,
        direction,
    })
}

const fn ends_with(bytes: &[u8], suffix: &[u8]) -> bool {
    if bytes.len() < suffix.len() {
        return false;
    }
    let start = bytes.len() - suffix.len();
    let mut i = 0;
    while i < suffix.len() {
        if bytes[start + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Parses `0001_create_users.up.sql` into `(1, "create_users", Up)`.
fn parse_name(name: &str) -> Option<(i64, String, Direction)> {
    let read = parse_file_name(name)?;
    Some((
        read.version,
        name[read.description].to_owned(),
        read.direction,
    ))
}

/// Builds the ordered, validated migration list from `(file name, text)` pairs.
///
/// Refused before anything runs: a file name that does not parse, two files for the
/// same version and direction, versions that disagree on their description, a `.down`
/// without its `.up`, and a gap in the version sequence.
pub fn from_files<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Migration>, MigrateError> {
    from_files_and_code(files, [])
}

/// [`from_files`] with migrations written in Rust among them: a code migration's
/// version must not be a file's, and the versions of both together have no gap.
pub fn from_files_and_code<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    code: impl IntoIterator<Item = CodeMigration>,
) -> Result<Vec<Migration>, MigrateError> {
    let mut by_version: BTreeMap<i64, (String, Option<String>, Option<String>)> = BTreeMap::new();
    for (name, text) in files {
        if !name.ends_with(".sql") {
            continue;
        }
        let (version, description, direction) =
            parse_name(name).ok_or_else(|| MigrateError::BadFileName {
                file: name.to_owned(),
            })?;
        let entry = by_version
            .entry(version)
            .or_insert_with(|| (description.clone(), None, None));
        if entry.0 != description {
            return Err(MigrateError::DuplicateVersion {
                version,
                files: format!("{}, {name}", entry.0),
            });
        }
        let slot = match direction {
            Direction::Up => &mut entry.1,
            Direction::Down => &mut entry.2,
        };
        if slot.replace(text.to_owned()).is_some() {
            return Err(MigrateError::DuplicateVersion {
                version,
                files: name.to_owned(),
            });
        }
    }
    let mut migrations: BTreeMap<i64, Migration> = BTreeMap::new();
    for (version, (description, up, down)) in by_version {
        let Some(up) = up else {
            return Err(MigrateError::DownWithoutUp { version });
        };
        let no_transaction = up.lines().any(|l| l.trim() == NO_TRANSACTION);
        migrations.insert(
            version,
            Migration {
                version,
                checksum: checksum(&up),
                description,
                up,
                down,
                no_transaction,
                code: None,
            },
        );
    }
    for migration in code {
        let CodeMigration {
            version,
            description,
            steps,
        } = migration;
        if description.trim().is_empty() || version < 0 {
            return Err(MigrateError::BadFileName {
                file: format!("code migration {version} `{description}`"),
            });
        }
        if let Some(taken) = migrations.get(&version) {
            return Err(MigrateError::DuplicateVersion {
                version,
                files: format!("{}, code migration {description}", taken.description),
            });
        }
        let marker = format!("-- code migration {version}: {description}");
        migrations.insert(
            version,
            Migration {
                version,
                checksum: checksum(&format!("code:{version}:{description}")),
                up: marker.clone(),
                down: steps.down.is_some().then_some(marker),
                description,
                no_transaction: false,
                code: Some(steps),
            },
        );
    }
    let mut previous: Option<i64> = None;
    for &version in migrations.keys() {
        if let Some(previous) = previous
            && version != previous + 1
        {
            return Err(MigrateError::Gap {
                after: previous,
                next: version,
            });
        }
        previous = Some(version);
    }
    Ok(migrations.into_values().collect())
}

/// Reads every `*.sql` file of `dir` (not recursing).
pub fn from_dir(dir: &Path) -> Result<Vec<Migration>, MigrateError> {
    let files = read_dir(dir)?;
    from_files(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
}

/// Every file of `dir` (not recursing), as `(name, text)`.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, MigrateError> {
    let read_error = |source| MigrateError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).map_err(|source| MigrateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        files.push((name, text));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_or_are_refused() {
        assert_eq!(
            parse_name("0001_create_users.up.sql"),
            Some((1, "create_users".into(), Direction::Up))
        );
        assert_eq!(
            parse_name("0012_a_b.down.sql"),
            Some((12, "a_b".into(), Direction::Down))
        );
        assert_eq!(
            parse_name("9223372036854775807_last.up.sql"),
            Some((i64::MAX, "last".into(), Direction::Up))
        );
        for bad in [
            "create.up.sql",
            "01.up.sql",
            "x1_a.up.sql",
            "0001_a.sql",
            "_a.up.sql",
            "0001_.up.sql",
            "0001.up.sql",
            "1_a.UP.sql",
            "99999999999999999999_huge.up.sql",
            "\u{661}_arabic_indic_digit.up.sql",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn checksums_ignore_bom_crlf_and_trailing_blanks() {
        let plain = "CREATE TABLE t (x int);\nINSERT INTO t VALUES (1);";
        let edited = "\u{feff}CREATE TABLE t (x int);  \r\nINSERT INTO t VALUES (1);\r\n\r\n";
        assert_eq!(checksum(plain), checksum(edited));
        assert_ne!(checksum(plain), checksum("CREATE TABLE t (x bigint);"));
    }

    #[test]
    fn bad_sets_are_refused_before_anything_runs() {
        let err = |files: &[(&str, &str)]| from_files(files.iter().copied()).unwrap_err();
        assert!(matches!(
            err(&[("0001_a.up.sql", ""), ("0003_c.up.sql", "")]),
            MigrateError::Gap { after: 1, next: 3 }
        ));
        assert!(matches!(
            err(&[("0001_a.up.sql", ""), ("0001_b.up.sql", "")]),
            MigrateError::DuplicateVersion { version: 1, .. }
        ));
        // The same version, description and direction twice (`1` and `0001` are one
        // version): the second file is named.
        match err(&[("0001_a.up.sql", ""), ("1_a.up.sql", "")]) {
            MigrateError::DuplicateVersion { version: 1, files } => {
                assert_eq!(files, "1_a.up.sql");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            err(&[("0001_a.down.sql", "")]),
            MigrateError::DownWithoutUp { version: 1 }
        ));
        assert!(matches!(
            err(&[("0001-a.up.sql", "")]),
            MigrateError::BadFileName { .. }
        ));
        let ok = from_files([
            (
                "0002_b.up.sql",
                "-- txova:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);",
            ),
            ("0001_a.up.sql", "CREATE TABLE t (x int);"),
            ("0001_a.down.sql", "DROP TABLE t;"),
            ("README.md", "ignored"),
        ])
        .expect("valid");
        assert_eq!(ok.iter().map(|m| m.version).collect::<Vec<_>>(), [1, 2]);
        assert!(ok[1].no_transaction && !ok[0].no_transaction);
        assert!(ok[0].down.is_some() && ok[1].down.is_none());
    }
}
