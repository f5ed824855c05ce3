//! What the replay builds: tables, their columns and types, and the enum types.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The SQL dialect a migrations directory is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
    /// MySQL and MariaDB.
    MySql,
}

impl Dialect {
    /// The dialect a directory's path names (`migrations/postgres`, `db/sqlite`,
    /// `migrations/mariadb`): the last component that names one.
    pub fn of_path(path: &std::path::Path) -> Option<Self> {
        path.components().rev().find_map(|c| {
            let name = c.as_os_str().to_str()?.to_ascii_lowercase();
            Self::from_name(&name)
        })
    }

    /// `postgres`, `postgresql` or `pg`; `sqlite`; `mysql` or `mariadb`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "postgres" | "postgresql" | "pg" => Some(Self::Postgres),
            "sqlite" | "sqlite3" => Some(Self::Sqlite),
            "mysql" | "mariadb" => Some(Self::MySql),
            _ => None,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
            Self::MySql => "mysql",
        })
    }
}

/// Where a statement is: its file and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The migration file.
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// The schema the migrations create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// By name, qualified with its schema unless it is the default one (`public` on
    /// Postgres, `main` on SQLite).
    pub tables: BTreeMap<String, Table>,
    /// Enum types (`CREATE TYPE … AS ENUM`) by name, with their labels.
    pub enums: BTreeMap<String, Vec<String>>,
    /// Tables a migration dropped or renamed, by their old name (the last such change).
    pub gone: BTreeMap<String, Gone>,
}

/// What became of a table or column that is no longer there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gone {
    /// Its new name, if it was renamed rather than dropped.
    pub renamed_to: Option<String>,
    /// The statement that did it.
    pub origin: Origin,
}

impl Schema {
    /// The table named `name` (`users`, or `audit.events`), as the database would resolve
    /// it: unquoted names compare case-insensitively.
    pub fn table(&self, name: &str) -> Option<&Table> {
        let key = name.to_ascii_lowercase();
        let key = key
            .strip_prefix("public.")
            .or_else(|| key.strip_prefix("main."))
            .unwrap_or(&key);
        self.tables.get(key).or_else(|| {
            self.tables
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, t)| t)
        })
    }

    /// What became of table `name`, if a migration dropped or renamed it.
    pub fn gone_table(&self, name: &str) -> Option<&Gone> {
        let key = name.to_ascii_lowercase();
        self.gone.get(key.strip_prefix("public.").unwrap_or(&key))
    }
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Its name, qualified as in [`Schema::tables`].
    pub name: String,
    /// In the order the migrations created them.
    pub columns: Vec<Column>,
    /// The primary key's columns, in key order.
    pub primary_key: Vec<String>,
    /// The statement that created it.
    pub origin: Origin,
    /// Columns a migration dropped or renamed, by their old name.
    pub gone: BTreeMap<String, Gone>,
}

impl Table {
    /// The column named `name` (case-insensitive, as unquoted names are).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name).or_else(|| {
            self.columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
        })
    }
}

/// One column, as the last migration to touch it left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type.
    pub sql_type: SqlType,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// Its `DEFAULT` expression, as SQL text.
    pub default: Option<String>,
    /// How the database fills it when an insert leaves it out, beside a default.
    pub filled: Option<Filled>,
    /// The last statement that created or changed it.
    pub origin: Origin,
}

impl Column {
    /// Whether an insert may leave the column out: it has a default, is filled by the
    /// database, or accepts NULL.
    pub fn may_be_omitted(&self) -> bool {
        self.default.is_some() || self.filled.is_some() || self.nullable
    }

    /// `text NOT NULL`, `bigint NULL DEFAULT 0`: the type and nullability, as messages
    /// name them.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} {}",
            self.sql_type.text,
            if self.nullable { "NULL" } else { "NOT NULL" }
        );
        if let Some(filled) = self.filled {
            out.push_str(&format!(" {filled}"));
        }
        out
    }
}

/// How the database fills a column an insert leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filled {
    /// `GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY`; `always` refuses explicit values.
    Identity {
        /// `ALWAYS` rather than `BY DEFAULT`.
        always: bool,
    },
    /// Postgres `serial`/`bigserial`.
    Serial,
    /// MySQL's `AUTO_INCREMENT`.
    AutoIncrement,
    /// SQLite's `INTEGER PRIMARY KEY AUTOINCREMENT`: the rowid, never reusing a value.
    RowIdAutoIncrement,
    /// SQLite's `INTEGER PRIMARY KEY`, an alias of the rowid.
    RowId,
    /// `GENERATED ALWAYS AS (expr)`: computed, never written.
    Computed,
}

impl fmt::Display for Filled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Identity { always: true } => "GENERATED ALWAYS AS IDENTITY",
            Self::Identity { always: false } => "GENERATED BY DEFAULT AS IDENTITY",
            Self::Serial => "(serial)",
            Self::AutoIncrement => "AUTO_INCREMENT",
            Self::RowIdAutoIncrement => "AUTOINCREMENT",
            Self::RowId => "(rowid)",
            Self::Computed => "GENERATED ALWAYS AS (…)",
        })
    }
}

/// A column's type: as written (normalised), and the family a check compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlType {
    /// Lower case, as the migration wrote it (`character varying(80)`, `bigint`).
    pub text: String,
    /// What kind of value it holds.
    pub family: Family,
}

/// What kind of value a column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Family {
    /// An integer of `bytes` bytes (SQLite's `INTEGER` is 8).
    Int {
        /// 1, 2, 3 (MySQL `MEDIUMINT`), 4 or 8.
        bytes: u8,
        /// MySQL `UNSIGNED`.
        unsigned: bool,
    },
    /// `boolean`, MySQL `tinyint(1)`.
    Bool,
    /// A binary float of `bytes` bytes.
    Float {
        /// 4 or 8.
        bytes: u8,
    },
    /// `numeric`/`decimal`, and SQLite's NUMERIC affinity.
    Numeric,
    /// Character strings.
    Text,
    /// Byte strings.
    Bytes,
    /// `uuid`.
    Uuid,
    /// `json`, `jsonb`.
    Json,
    /// A date and time; `zone` for `timestamptz` (and MySQL `TIMESTAMP`).
    Timestamp {
        /// With a time zone.
        zone: bool,
    },
    /// `date`.
    Date,
    /// `time`.
    Time,
    /// A Postgres enum type, by name.
    Enum(String),
    /// A type the check does not know (arrays, ranges, domains, geometry, …).
    Other,
}

impl SqlType {
    /// Classifies a type as `dialect` reads it; `enums` names the enum types known so far.
    pub fn classify(text: &str, dialect: Dialect, enums: &BTreeMap<String, Vec<String>>) -> Self {
        let text = text.trim().to_ascii_lowercase();
        let family = match dialect {
            Dialect::Postgres => postgres_family(&text, enums),
            Dialect::MySql => mysql_family(&text),
            Dialect::Sqlite => sqlite_affinity(&text),
        };
        Self { text, family }
    }
}

/// The type name without its `(…)` arguments and array brackets, and whether it is an
/// array.
fn base_name(text: &str) -> (String, bool) {
    let array = text.ends_with("[]") || text.contains(" array");
    let mut base = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => base.push(c),
            _ => {}
        }
    }
    let base = base
        .trim_end_matches("[]")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (base, array)
}

fn postgres_family(text: &str, enums: &BTreeMap<String, Vec<String>>) -> Family {
    let (base, array) = base_name(text);
    if array {
        return Family::Other;
    }
    match base.as_str() {
        "smallint" | "int2" | "smallserial" | "serial2" => Family::Int {
            bytes: 2,
            unsigned: false,
        },
        "integer" | "int" | "int4" | "serial" | "serial4" => Family::Int {
            bytes: 4,
            unsigned: false,
        },
        "bigint" | "int8" | "bigserial" | "serial8" => Family::Int {
            bytes: 8,
            unsigned: false,
        },
        "real" | "float4" => Family::Float { bytes: 4 },
        "double precision" | "float8" | "double" => Family::Float { bytes: 8 },
        "float" => {
            // float(p): 1..=24 is real, else double precision.
            let precision: Option<u32> = text
                .split_once('(')
                .and_then(|(_, rest)| rest.trim_end_matches(')').trim().parse().ok());
            Family::Float {
                bytes: if precision.is_some_and(|p| p <= 24) {
                    4
                } else {
                    8
                },
            }
        }
        "numeric" | "decimal" => Family::Numeric,
        "text" | "varchar" | "character varying" | "char" | "character" | "bpchar" | "citext"
        | "name" => Family::Text,
        "bytea" => Family::Bytes,
        "uuid" => Family::Uuid,
        "json" | "jsonb" => Family::Json,
        "timestamptz" | "timestamp with time zone" => Family::Timestamp { zone: true },
        "timestamp" | "timestamp without time zone" => Family::Timestamp { zone: false },
        "date" => Family::Date,
        "time" | "time without time zone" | "timetz" | "time with time zone" => Family::Time,
        "boolean" | "bool" => Family::Bool,
        other => {
            let unqualified = other.rsplit('.').next().unwrap_or(other);
            if enums.contains_key(other) || enums.contains_key(unqualified) {
                Family::Enum(unqualified.to_owned())
            } else {
                Family::Other
            }
        }
    }
}

fn mysql_family(text: &str) -> Family {
    let (base, _) = base_name(text);
    let unsigned = base.contains("unsigned");
    let base = base
        .replace("unsigned", "")
        .replace("zerofill", "")
        .replace("signed", "");
    let int = |bytes| Family::Int { bytes, unsigned };
    match base.trim() {
        "tinyint" if text.starts_with("tinyint(1)") && !unsigned => Family::Bool,
        "bool" | "boolean" => Family::Bool,
        "tinyint" => int(1),
        "smallint" => int(2),
        "mediumint" => int(3),
        "int" | "integer" => int(4),
        "bigint" => int(8),
        "float" => Family::Float { bytes: 4 },
        "double" | "double precision" | "real" => Family::Float { bytes: 8 },
        "decimal" | "numeric" | "dec" | "fixed" => Family::Numeric,
        "char" | "varchar" | "character varying" | "tinytext" | "text" | "mediumtext"
        | "longtext" | "enum" | "set" => Family::Text,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => Family::Bytes,
        "json" => Family::Json,
        "datetime" => Family::Timestamp { zone: false },
        "timestamp" => Family::Timestamp { zone: true },
        "date" => Family::Date,
        "time" => Family::Time,
        _ => Family::Other,
    }
}

/// SQLite's column affinity rules (section 3.1 of its datatype documentation), with
/// `BOOLEAN` kept apart so a check can name it.
fn sqlite_affinity(text: &str) -> Family {
    let upper = text.to_ascii_uppercase();
    if upper.contains("INT") {
        Family::Int {
            bytes: 8,
            unsigned: false,
        }
    } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
        Family::Text
    } else if upper.contains("BLOB") || upper.trim().is_empty() {
        Family::Bytes
    } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
        Family::Float { bytes: 8 }
    } else if upper.starts_with("BOOL") {
        Family::Bool
    } else {
        Family::Numeric
    }
}

/// The schema as SQL: the enum types, then each table with its columns as the replay
/// knows them (type as written, nullability, default, how the database fills it) and
/// its primary key.
///
/// ```
/// use txova_db_schema::{Dialect, replay};
///
/// let sql = "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL DEFAULT '');";
/// let replayed = replay(Dialect::Postgres, [("0001.up.sql".into(), sql)]);
/// assert_eq!(
///     replayed.schema.to_string(),
///     "CREATE TABLE users (\n    id bigint NOT NULL,\n    name text NOT NULL DEFAULT '',\n    PRIMARY KEY (id)\n);\n"
/// );
/// ```
impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, labels) in &self.enums {
            let labels: Vec<String> = labels
                .iter()
                .map(|l| format!("'{}'", l.replace('\'', "''")))
                .collect();
            writeln!(f, "CREATE TYPE {name} AS ENUM ({});", labels.join(", "))?;
        }
        for table in self.tables.values() {
            writeln!(f, "CREATE TABLE {} (", table.name)?;
            let mut lines: Vec<String> = table
                .columns
                .iter()
                .map(|c| {
                    let mut line = format!("    {} {}", c.name, c.sql_type.text);
                    line.push_str(if c.nullable { "" } else { " NOT NULL" });
                    if let Some(default) = &c.default {
                        line.push_str(&format!(" DEFAULT {default}"));
                    }
                    match c.filled {
                        Some(
                            filled @ (Filled::Identity { .. }
                            | Filled::AutoIncrement
                            | Filled::RowIdAutoIncrement),
                        ) => {
                            line.push_str(&format!(" {filled}"));
                        }
                        Some(Filled::Computed) => line.push_str(" /* computed */"),
                        // The type (`bigserial`) or the key (`INTEGER PRIMARY KEY`) says it.
                        Some(Filled::Serial | Filled::RowId) | None => {}
                    }
                    line
                })
                .collect();
            if !table.primary_key.is_empty() {
                lines.push(format!(
                    "    PRIMARY KEY ({})",
                    table.primary_key.join(", ")
                ));
            }
            writeln!(f, "{}\n);", lines.join(",\n"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(text: &str, dialect: Dialect) -> Family {
        SqlType::classify(text, dialect, &BTreeMap::new()).family
    }

    #[test]
    fn postgres_types() {
        assert_eq!(
            family("BIGINT", Dialect::Postgres),
            Family::Int {
                bytes: 8,
                unsigned: false
            }
        );
        assert_eq!(
            family("character varying(80)", Dialect::Postgres),
            Family::Text
        );
        assert_eq!(
            family("TIMESTAMP WITH TIME ZONE", Dialect::Postgres),
            Family::Timestamp { zone: true }
        );
        assert_eq!(
            family("float(10)", Dialect::Postgres),
            Family::Float { bytes: 4 }
        );
        assert_eq!(family("numeric(12, 2)", Dialect::Postgres), Family::Numeric);
        assert_eq!(family("text[]", Dialect::Postgres), Family::Other);
    }

    #[test]
    fn mysql_types() {
        assert_eq!(family("TINYINT(1)", Dialect::MySql), Family::Bool);
        assert_eq!(
            family("BIGINT UNSIGNED", Dialect::MySql),
            Family::Int {
                bytes: 8,
                unsigned: true
            }
        );
        assert_eq!(family("VARCHAR(255)", Dialect::MySql), Family::Text);
        assert_eq!(
            family("DATETIME(6)", Dialect::MySql),
            Family::Timestamp { zone: false }
        );
    }

    #[test]
    fn sqlite_affinities() {
        assert_eq!(
            family("INTEGER", Dialect::Sqlite),
            Family::Int {
                bytes: 8,
                unsigned: false
            }
        );
        assert_eq!(family("VARCHAR(10)", Dialect::Sqlite), Family::Text);
        assert_eq!(
            family("DOUBLE", Dialect::Sqlite),
            Family::Float { bytes: 8 }
        );
        assert_eq!(family("BOOLEAN", Dialect::Sqlite), Family::Bool);
        assert_eq!(family("DATETIME", Dialect::Sqlite), Family::Numeric);
    }

    #[test]
    fn dialect_from_a_path() {
        let path = std::path::Path::new("migrations/postgres");
        assert_eq!(Dialect::of_path(path), Some(Dialect::Postgres));
        assert_eq!(
            Dialect::of_path(std::path::Path::new("db/migrations")),
            None
        );
    }
}
