//! `txova-db schema show` and `txova-db schema diff`: the schema a migrations directory
//! creates, replayed without a database (what `#[derive(Table)]` checks against), and
//! its drift from a live database.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use txova_db::{Backend, Db, query};
use txova_db_schema::{Dialect, Family, Filled, Replayed, Schema, SqlType};

/// Replays `dir`, refusing a replay that met statements it cannot follow.
pub(crate) fn replay(dir: &Path, dialect: Dialect) -> Result<Replayed, String> {
    let relative_to = std::env::current_dir().unwrap_or_default();
    let replayed =
        txova_db_schema::replay_dir(dir, dialect, &relative_to).map_err(|e| e.to_string())?;
    if replayed.problems.is_empty() {
        return Ok(replayed);
    }
    let mut message = format!("the migrations in {} cannot be replayed:", dir.display());
    for problem in &replayed.problems {
        let _ = write!(message, "\n  {problem}");
    }
    Err(message)
}

/// The schema as JSON: tables with their columns, keys and enums.
pub(crate) fn to_json(schema: &Schema) -> serde_json::Value {
    let tables: Vec<serde_json::Value> = schema
        .tables
        .values()
        .map(|table| {
            let columns: Vec<serde_json::Value> = table
                .columns
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "name": c.name,
                        "type": c.sql_type.text,
                        "nullable": c.nullable,
                        "default": c.default,
                        "filled": c.filled.map(|f| f.to_string()),
                        "defined_at": c.origin.to_string(),
                    })
                })
                .collect();
            serde_json::json!({
                "name": table.name,
                "columns": columns,
                "primary_key": table.primary_key,
                "created_at": table.origin.to_string(),
            })
        })
        .collect();
    serde_json::json!({ "tables": tables, "enums": schema.enums })
}

/// A column as the live catalog describes it.
struct LiveColumn {
    table: String,
    name: String,
    sql_type: String,
    nullable: bool,
    default: bool,
}

/// Every difference between the replayed schema and the database at `db`, one line
/// each; `history` is the migrations' own table, which the replay does not create.
pub(crate) async fn diff(
    db: &Db,
    schema: &Schema,
    dialect: Dialect,
    history: &str,
) -> Result<Vec<String>, String> {
    let live = catalog(db, schema).await.map_err(|e| e.to_string())?;
    let mut by_table: BTreeMap<&str, Vec<&LiveColumn>> = BTreeMap::new();
    for column in &live {
        by_table
            .entry(column.table.as_str())
            .or_default()
            .push(column);
    }
    let mut drift = Vec::new();
    for (name, table) in &schema.tables {
        let Some(columns) = by_table.get(name.as_str()) else {
            drift.push(format!(
                "table `{name}`: created by {}, missing from the database",
                table.origin
            ));
            continue;
        };
        for column in &table.columns {
            let Some(found) = columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&column.name))
            else {
                drift.push(format!(
                    "column `{name}.{}`: defined at {}, missing from the database",
                    column.name, column.origin
                ));
                continue;
            };
            let theirs = SqlType::classify(&found.sql_type, dialect, &schema.enums);
            if !same_type(&column.sql_type, &theirs) {
                drift.push(format!(
                    "column `{name}.{}`: the migrations say `{}` ({}), the database has `{}`",
                    column.name, column.sql_type.text, column.origin, theirs.text
                ));
            }
            if column.nullable != found.nullable {
                drift.push(format!(
                    "column `{name}.{}`: the migrations say {} ({}), the database has {}",
                    column.name,
                    null_text(column.nullable),
                    column.origin,
                    null_text(found.nullable)
                ));
            }
            // A sequence's `nextval` default and an identity count as defaults; the
            // catalogs show none for auto-increment and the rowid, so those are not
            // compared.
            let has_default = column.default.is_some()
                || matches!(
                    column.filled,
                    Some(Filled::Serial | Filled::Identity { .. })
                );
            let comparable = !matches!(
                column.filled,
                Some(Filled::AutoIncrement | Filled::RowIdAutoIncrement | Filled::RowId)
            );
            if comparable && has_default != found.default {
                drift.push(format!(
                    "column `{name}.{}`: the migrations give it {} ({}), the database {}",
                    column.name,
                    if has_default {
                        "a default"
                    } else {
                        "no default"
                    },
                    column.origin,
                    if found.default { "has one" } else { "has none" }
                ));
            }
        }
        for found in columns {
            if table.column(&found.name).is_none() {
                drift.push(format!(
                    "column `{name}.{}`: in the database (`{}`), created by no migration",
                    found.name, found.sql_type
                ));
            }
        }
    }
    for table in by_table.keys() {
        if schema.table(table).is_none() && !table.eq_ignore_ascii_case(history) {
            drift.push(format!(
                "table `{table}`: in the database, created by no migration"
            ));
        }
    }
    Ok(drift)
}

fn null_text(nullable: bool) -> &'static str {
    if nullable { "NULL" } else { "NOT NULL" }
}

/// Same family (and, for types the check does not know, the same text).
fn same_type(ours: &SqlType, theirs: &SqlType) -> bool {
    match (&ours.family, &theirs.family) {
        (Family::Other, Family::Other) => ours.text == theirs.text,
        (a, b) => a == b,
    }
}

/// The database's columns: of its current schema, and of the schemas the migrations
/// name (Postgres); of the main database (SQLite). Tables of the current schema are
/// named unqualified, as the replay names them.
async fn catalog(db: &Db, schema: &Schema) -> txova_db::Result<Vec<LiveColumn>> {
    let rows = match db.backend() {
        Backend::Postgres => {
            let mut schemas: Vec<String> = schema
                .tables
                .keys()
                .filter_map(|k| k.split_once('.').map(|(s, _)| s.to_owned()))
                .collect();
            schemas.sort();
            schemas.dedup();
            query(
                "SELECT (CASE WHEN n.nspname = current_schema() THEN '' ELSE n.nspname || '.' END
                         || c.relname)::text,
                        a.attname::text,
                        format_type(a.atttypid, a.atttypmod),
                        NOT a.attnotnull,
                        d.adbin IS NOT NULL OR a.attidentity <> ''
                 FROM pg_attribute a
                 JOIN pg_class c ON c.oid = a.attrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
                   AND (n.nspname = current_schema()
                        OR n.nspname = ANY(string_to_array($1, ',')))
                 ORDER BY 1, a.attnum",
            )
            .bind(schemas.join(","))
            .fetch_all(db)
            .await?
        }
        Backend::MySql => {
            // MariaDB shows a `DEFAULT NULL` as the text `NULL` (a string default is
            // quoted there); auto-increment counts as a default, as identity does.
            query(
                "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE,
                        CAST(IS_NULLABLE = 'YES' AS SIGNED),
                        CAST((COLUMN_DEFAULT IS NOT NULL AND COLUMN_DEFAULT <> 'NULL')
                             OR EXTRA LIKE '%auto_increment%' AS SIGNED)
                 FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA = DATABASE()
                 ORDER BY TABLE_NAME, ORDINAL_POSITION",
            )
            .fetch_all(db)
            .await?
        }
        _ => {
            query(
                "SELECT m.name, p.name, p.type, p.\"notnull\" = 0 AND p.pk = 0, p.dflt_value IS NOT NULL
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
                 ORDER BY m.name, p.cid",
            )
            .fetch_all(db)
            .await?
        }
    };
    // Every query answers: table, column, type, nullable, has a default (MySQL's
    // truth values as integers).
    let flag = |row: &txova_db::Row, at: usize| match db.backend() {
        Backend::MySql => row.try_get::<i64>(at).map(|n| n != 0),
        _ => row.try_get::<bool>(at),
    };
    rows.iter()
        .map(|row| {
            Ok(LiveColumn {
                table: row.try_get(0)?,
                name: row.try_get(1)?,
                sql_type: row.try_get(2)?,
                nullable: flag(row, 3)?,
                default: flag(row, 4)?,
            })
        })
        .collect()
}
