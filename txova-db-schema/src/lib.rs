//! The schema a directory of migrations creates, found without a database: the
//! `.up.sql` files replayed in version order with [`sqlparser`].
//!
//! `#[derive(Table)]` checks a struct against it at compile time, and the `txova-db`
//! CLI prints it and compares it with a live database. What the replay understands:
//! `CREATE TABLE` (columns, types, `NULL`/`NOT NULL`, defaults, identity, `serial`,
//! `AUTO_INCREMENT`/`AUTOINCREMENT`, primary keys), `ALTER TABLE` (`ADD`, `DROP`,
//! `RENAME COLUMN`, `ALTER COLUMN … TYPE / SET|DROP NOT NULL / SET|DROP DEFAULT`,
//! MySQL's `CHANGE`/`MODIFY`, `RENAME TO`, primary-key constraints), `RENAME TABLE`,
//! `DROP TABLE`, `CREATE TYPE … AS ENUM` and `ALTER TYPE … ADD VALUE`, with
//! schema-qualified names. Statements that change no column (indexes, views, data,
//! functions, grants, …) pass. Anything else is a [`Problem`] naming its file and
//! line, unless a `-- txova:schema-skip` comment stands on a line before it.
//!
//! ```
//! use txova_db_schema::{Dialect, Family, replay};
//!
//! let files = [
//!     ("0001_users.up.sql", "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL);"),
//!     ("0002_nick.up.sql", "ALTER TABLE users ADD COLUMN nickname TEXT;"),
//! ];
//! let replayed = replay(Dialect::Postgres, files.iter().map(|(n, s)| (n.into(), *s)));
//! assert!(replayed.problems.is_empty());
//! let users = replayed.schema.table("users").unwrap();
//! let nickname = users.column("nickname").unwrap();
//! assert!(nickname.nullable);
//! assert_eq!(nickname.sql_type.family, Family::Text);
//! assert_eq!(nickname.origin.to_string(), "0002_nick.up.sql:1");
//! ```

mod model;
mod problem;
mod replay;
mod split;

use std::path::{Path, PathBuf};

use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

pub use model::{Column, Dialect, Family, Filled, Gone, Origin, Schema, SqlType, Table};
pub use problem::Problem;
pub use split::SKIP_MARKER;

/// The outcome of a replay: the schema as far as it could be followed, and every
/// statement it could not follow.
#[derive(Debug, Default)]
pub struct Replayed {
    /// The schema the migrations create.
    pub schema: Schema,
    /// What could not be replayed, in file order.
    pub problems: Vec<Problem>,
}

/// Replays `(file name, SQL)` pairs: the `.up.sql` ones, in the order given (sort them
/// by version first; [`migration_files`] does).
pub fn replay<'a>(
    dialect: Dialect,
    files: impl IntoIterator<Item = (PathBuf, &'a str)>,
) -> Replayed {
    let mut replayer = replay::Replayer::new(dialect);
    for (file, sql) in files {
        for chunk in split::statements(sql) {
            if chunk.skip {
                continue;
            }
            let at = Origin {
                file: file.clone(),
                line: chunk.line,
            };
            let parsed = match dialect {
                Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, chunk.text),
                Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, chunk.text),
                Dialect::MySql => Parser::parse_sql(&MySqlDialect {}, chunk.text),
            };
            match parsed {
                Ok(statements) => {
                    for statement in &statements {
                        replayer.apply(statement, &at);
                    }
                }
                Err(error) => {
                    let at = Origin {
                        line: at.line
                            + problem::parse_error_line(&error).map_or(0, |l| l.saturating_sub(1)),
                        ..at
                    };
                    replayer.problems.push(Problem::Parse { at, error });
                }
            }
        }
    }
    Replayed {
        schema: replayer.schema,
        problems: replayer.problems,
    }
}

/// The `.up.sql` files of a migrations directory, in version order (by the number
/// their names start with; names that do not start with one come last, by name).
pub fn migration_files(dir: &Path) -> Result<Vec<PathBuf>, Problem> {
    let read = |source| Problem::Read {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        let is_up = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".up.sql"));
        if is_up && path.is_file() {
            files.push(path);
        }
    }
    let version = |path: &PathBuf| -> (u128, PathBuf) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        (digits.parse().unwrap_or(u128::MAX), path.clone())
    };
    files.sort_by_key(version);
    Ok(files)
}

/// Reads and replays a migrations directory. File names in [`Origin`]s are given
/// relative to `relative_to` where they lie under it (the crate's manifest directory,
/// so messages name `migrations/postgres/0003_x.up.sql`).
pub fn replay_dir(dir: &Path, dialect: Dialect, relative_to: &Path) -> Result<Replayed, Problem> {
    let mut texts = Vec::new();
    for path in migration_files(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|source| Problem::Read {
            path: path.clone(),
            source,
        })?;
        let shown = path
            .strip_prefix(relative_to)
            .map_or_else(|_| path.clone(), Path::to_path_buf);
        texts.push((shown, text));
    }
    Ok(replay(
        dialect,
        texts.iter().map(|(p, t)| (p.clone(), t.as_str())),
    ))
}
