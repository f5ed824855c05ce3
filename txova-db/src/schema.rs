//! [`verify_schema`]: compare a `#[derive(Table)]` struct with the live catalog, so
//! drift between code and database shows up in a test rather than in production.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::error::{Backend, Error};
use crate::executor::Executor;
use crate::table::Table;

/// One difference between a struct and its table.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, SchemaProblem, Table, verify_schema};
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key)] id: i64, email: String }
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)").await?;
/// let report = verify_schema::<User, _>(&db).await?;
/// assert!(matches!(&report.problems[..], [SchemaProblem::ColumnMissing { column, .. }] if column == "email"));
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaProblem {
    /// The table does not exist (in the current schema).
    TableMissing,
    /// A field's column does not exist.
    ColumnMissing {
        /// The column.
        column: String,
    },
    /// The column allows NULL but the field is not an `Option`: reading a NULL fails.
    NullableColumnForRequiredField {
        /// The column.
        column: String,
    },
    /// The field is an `Option` but the column is NOT NULL: harmless for reads, but the
    /// struct promises something the database does not allow.
    OptionalFieldForNotNullColumn {
        /// The column.
        column: String,
    },
    /// The column's type does not match what the field's Rust type encodes to.
    TypeMismatch {
        /// The column.
        column: String,
        /// The type the field maps to.
        expected: String,
        /// The column's type in the catalog.
        found: String,
    },
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TableMissing => f.write_str("the table does not exist"),
            Self::ColumnMissing { column } => write!(f, "column `{column}` does not exist"),
            Self::NullableColumnForRequiredField { column } => write!(
                f,
                "column `{column}` allows NULL but its field is not an Option"
            ),
            Self::OptionalFieldForNotNullColumn { column } => {
                write!(
                    f,
                    "column `{column}` is NOT NULL but its field is an Option"
                )
            }
            Self::TypeMismatch {
                column,
                expected,
                found,
            } => write!(
                f,
                "column `{column}` is {found}, the field maps to {expected}"
            ),
        }
    }
}

/// What [`verify_schema`] found.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Table, verify_schema};
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key)] id: i64, email: String }
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)").await?;
/// // At start-up: refuse to serve with a struct that does not match its table.
/// let report = verify_schema::<User, _>(&db).await?;
/// assert!(report.is_ok(), "{report}");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaReport {
    /// The table checked.
    pub table: &'static str,
    /// Every difference found; empty when struct and table agree.
    pub problems: Vec<SchemaProblem>,
}

impl SchemaReport {
    /// Whether struct and table agree.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for SchemaReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(f, "table `{}` matches its struct", self.table);
        }
        write!(f, "table `{}`:", self.table)?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// A set of `#[derive(Table)]` types checked together by [`verify_tables`]: one type,
/// or a tuple of up to 16.
///
/// ```
/// # use txova_db::Table;
/// # #[derive(Table)] #[table(name = "users")] struct User { #[column(primary_key)] id: i64 }
/// # #[derive(Table)] #[table(name = "rides")] struct Ride { #[column(primary_key)] id: i64 }
/// fn checked<T: txova_db::schema::Tables>() {}
/// checked::<User>();
/// checked::<(User, Ride)>();
/// ```
pub trait Tables {
    /// Checks each type against its table, in order.
    #[doc(hidden)]
    fn verify<E: Executor>(
        exec: &E,
    ) -> impl Future<Output = Result<Vec<SchemaReport>, Error>> + Send;
}

impl<T: Table> Tables for T {
    async fn verify<E: Executor>(exec: &E) -> Result<Vec<SchemaReport>, Error> {
        Ok(vec![verify_schema::<T, E>(exec).await?])
    }
}

macro_rules! tables_tuple {
    ($($t:ident),+) => {
        impl<$($t: Table),+> Tables for ($($t,)+) {
            async fn verify<E: Executor>(exec: &E) -> Result<Vec<SchemaReport>, Error> {
                Ok(vec![$(verify_schema::<$t, E>(exec).await?),+])
            }
        }
    };
}

tables_tuple!(A);
tables_tuple!(A, B);
tables_tuple!(A, B, C);
tables_tuple!(A, B, C, D);
tables_tuple!(A, B, C, D, E2);
tables_tuple!(A, B, C, D, E2, F);
tables_tuple!(A, B, C, D, E2, F, G);
tables_tuple!(A, B, C, D, E2, F, G, H);
tables_tuple!(A, B, C, D, E2, F, G, H, I);
tables_tuple!(A, B, C, D, E2, F, G, H, I, J);
tables_tuple!(A, B, C, D, E2, F, G, H, I, J, K);
tables_tuple!(A, B, C, D, E2, F, G, H, I, J, K, L);
tables_tuple!(A, B, C, D, E2, F, G, H, I, J, K, L, M);
tables_tuple!(A, B, C, D, E2, F, G, H, I, J, K, L, M, N);
tables_tuple!(A, B, C, D, E2, F, G, H, I, J, K, L, M, N, O);
tables_tuple!(A, B, C, D, E2, F, G, H, I, J, K, L, M, N, O, P);

/// What [`verify_tables`] found: one [`SchemaReport`] per table, in the order given.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Table};
///
/// #[derive(Table)]
/// #[table(name = "users")]
/// struct User { #[column(primary_key)] id: i64, email: String }
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride { #[column(primary_key)] id: i64, user_id: i64 }
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute_script(
///     "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
///      CREATE TABLE rides (id INTEGER PRIMARY KEY, user_id INTEGER)",
/// ).await?;
/// let report = db.verify_tables::<(User, Ride)>().await?;
/// assert!(!report.is_ok());
/// assert_eq!(report.to_string(), "table `rides`:\n  - column `user_id` allows NULL but its field is not an Option");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablesReport {
    /// One per table checked.
    pub tables: Vec<SchemaReport>,
}

impl TablesReport {
    /// Whether every struct agrees with its table.
    pub fn is_ok(&self) -> bool {
        self.tables.iter().all(SchemaReport::is_ok)
    }

    /// The reports of the tables that disagree.
    pub fn failures(&self) -> impl Iterator<Item = &SchemaReport> {
        self.tables.iter().filter(|t| !t.is_ok())
    }
}

impl fmt::Display for TablesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(f, "{} tables match their structs", self.tables.len());
        }
        for (i, report) in self.failures().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{report}")?;
        }
        Ok(())
    }
}

/// Checks every type of `T` (a `Table`, or a tuple of them) against the live catalog,
/// on any backend: what a service runs at start-up, beside the compile-time check
/// against its migrations, to catch a database that drifted from them.
pub async fn verify_tables<T: Tables, E: Executor>(exec: &E) -> Result<TablesReport, Error> {
    Ok(TablesReport {
        tables: T::verify(exec).await?,
    })
}

struct CatalogColumn {
    name: String,
    nullable: bool,
    sql_type: String,
}

/// Compares `T` with the table the database has (Postgres: the current schema;
/// SQLite: the main database).
///
/// ```
/// # use txova_db::{Table, verify_schema};
/// # #[derive(Table)] #[table(name = "users")]
/// # struct User { #[column(primary_key)] id: i64, name: String, nickname: Option<String> }
/// # async fn demo() -> txova_db::Result<()> {
/// let db = txova_db::Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)").await?;
/// let report = verify_schema::<User, _>(&db).await?;
/// assert_eq!(report.problems.len(), 2); // `name` allows NULL; `nickname` is missing
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub async fn verify_schema<T: Table, E: Executor>(exec: &E) -> Result<SchemaReport, Error> {
    let backend = exec.backend();
    let catalog = read_catalog(exec, T::NAME).await?;
    let mut problems = Vec::new();
    if catalog.is_empty() {
        problems.push(SchemaProblem::TableMissing);
    }
    for info in T::COLUMNS.iter().filter(|_| !catalog.is_empty()) {
        let Some(found) = catalog.iter().find(|c| c.name == info.name) else {
            problems.push(SchemaProblem::ColumnMissing {
                column: info.name.to_owned(),
            });
            continue;
        };
        match (info.nullable(), found.nullable) {
            (false, true) if !info.primary_key => {
                problems.push(SchemaProblem::NullableColumnForRequiredField {
                    column: info.name.to_owned(),
                });
            }
            (true, false) => problems.push(SchemaProblem::OptionalFieldForNotNullColumn {
                column: info.name.to_owned(),
            }),
            _ => {}
        }
        if let Some(expected) = info.sql_type(backend)
            && !types_agree(backend, &expected, &found.sql_type)
        {
            problems.push(SchemaProblem::TypeMismatch {
                column: info.name.to_owned(),
                expected,
                found: found.sql_type.clone(),
            });
        }
    }
    Ok(SchemaReport {
        table: T::NAME,
        problems,
    })
}

async fn read_catalog<E: Executor>(exec: &E, table: &str) -> Result<Vec<CatalogColumn>, Error> {
    let name: Arc<dyn crate::types::Param> = Arc::new(table.to_owned());
    let (sql, nullable_when) = match exec.backend() {
        Backend::Postgres => (
            "SELECT column_name::text, is_nullable::text, udt_name::text
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1",
            "YES",
        ),
        Backend::Sqlite => (
            "SELECT name, CASE WHEN \"notnull\" = 0 AND pk = 0 THEN 'YES' ELSE 'NO' END, type
             FROM pragma_table_info(?)",
            "YES",
        ),
        Backend::MySql => (
            "SELECT column_name, is_nullable, data_type FROM information_schema.columns
             WHERE table_schema = DATABASE() AND table_name = ?",
            "YES",
        ),
    };
    let rows = exec.fetch_all_statement(sql, &[name]).await?;
    rows.iter()
        .map(|row| {
            Ok(CatalogColumn {
                name: row.try_get(0)?,
                nullable: row.try_get::<String>(1)? == nullable_when,
                sql_type: row.try_get(2)?,
            })
        })
        .collect()
}

/// Whether a column of catalog type `found` holds what sqlx encodes as `expected`.
/// Types the tables below do not know (user-defined enums, domains) are not judged.
fn types_agree(backend: Backend, expected: &str, found: &str) -> bool {
    match backend {
        Backend::Postgres => {
            let family = |name: &str| -> Option<&'static str> {
                Some(match name.to_ascii_lowercase().as_str() {
                    "int2" => "int2",
                    "int4" => "int4",
                    "int8" => "int8",
                    "float4" => "float4",
                    "float8" => "float8",
                    "bool" => "bool",
                    "text" | "varchar" | "bpchar" | "name" | "citext" => "text",
                    "bytea" => "bytea",
                    "uuid" => "uuid",
                    "timestamptz" => "timestamptz",
                    "timestamp" => "timestamp",
                    "date" => "date",
                    "json" | "jsonb" => "json",
                    "numeric" => "numeric",
                    _ => return None,
                })
            };
            match (family(expected), family(found)) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
        }
        Backend::Sqlite => {
            let affinity = |declared: &str| -> &'static str {
                let d = declared.to_ascii_uppercase();
                if d.contains("INT") {
                    "INTEGER"
                } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
                    "TEXT"
                } else if d.contains("BLOB") || d.is_empty() {
                    "BLOB"
                } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
                    "REAL"
                } else {
                    "NUMERIC"
                }
            };
            let (a, b) = (affinity(expected), affinity(found));
            // NUMERIC (booleans, dates) and BLOB-typed columns take any storage class.
            a == b || a == "NUMERIC" || b == "NUMERIC" || b == "BLOB"
        }
        Backend::MySql => {
            // sqlx names `BIGINT`, `VARCHAR`, `BOOLEAN` (for tinyint(1)), …; the catalog's
            // `data_type` names `bigint`, `varchar`, `tinyint`, ….
            let family = |name: &str| -> Option<&'static str> {
                let name = name.to_ascii_lowercase();
                let name = name.trim_end_matches(" unsigned");
                Some(match name {
                    "tinyint" | "boolean" | "bool" => "tiny",
                    "smallint" => "short",
                    "mediumint" | "int" | "integer" => "int",
                    "bigint" => "bigint",
                    "float" => "float",
                    "double" | "real" => "double",
                    "char" | "varchar" | "text" | "tinytext" | "mediumtext" | "longtext"
                    | "enum" | "set" => "text",
                    "binary" | "varbinary" | "blob" | "tinyblob" | "mediumblob" | "longblob" => {
                        "bytes"
                    }
                    "datetime" | "timestamp" => "datetime",
                    "date" => "date",
                    "time" => "time",
                    "json" => "json",
                    "decimal" | "numeric" => "decimal",
                    _ => return None,
                })
            };
            match (family(expected), family(found)) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_type_families() {
        assert!(types_agree(Backend::Postgres, "TEXT", "varchar"));
        assert!(types_agree(Backend::Postgres, "INT8", "int8"));
        assert!(!types_agree(Backend::Postgres, "INT8", "int4"));
        assert!(!types_agree(Backend::Postgres, "TEXT", "int4"));
        assert!(types_agree(Backend::Postgres, "user_status", "user_status"));
    }

    #[test]
    fn mysql_type_families() {
        assert!(types_agree(Backend::MySql, "BIGINT", "bigint"));
        assert!(types_agree(Backend::MySql, "VARCHAR", "text"));
        assert!(types_agree(Backend::MySql, "BOOLEAN", "tinyint"));
        assert!(!types_agree(Backend::MySql, "BIGINT", "varchar"));
        assert!(!types_agree(Backend::MySql, "INT", "bigint"));
    }

    #[test]
    fn sqlite_affinities() {
        assert!(types_agree(Backend::Sqlite, "INTEGER", "BIGINT"));
        assert!(types_agree(Backend::Sqlite, "TEXT", "VARCHAR(20)"));
        assert!(!types_agree(Backend::Sqlite, "INTEGER", "TEXT"));
        assert!(types_agree(Backend::Sqlite, "BOOLEAN", "INTEGER"));
    }
}
