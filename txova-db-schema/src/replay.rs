//! Replaying migration statements onto a [`Schema`].

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, DataType, GeneratedAs,
    Ident, ObjectName, ObjectType, RenameTableNameKind, Statement, TableConstraint,
    UserDefinedTypeRepresentation,
};

use crate::model::{Column, Dialect, Filled, Gone, Origin, Schema, SqlType, Table};
use crate::problem::Problem;

/// Applies statements to a schema, collecting what it cannot replay.
pub(crate) struct Replayer {
    pub(crate) dialect: Dialect,
    pub(crate) schema: Schema,
    pub(crate) problems: Vec<Problem>,
}

/// Where `ident` is: the statement's line moved down to the identifier's own (sqlparser
/// counts lines from the statement's start).
fn at_ident(at: &Origin, ident: &Ident) -> Origin {
    let line = ident.span.start.line as usize;
    Origin {
        file: at.file.clone(),
        line: if line > 0 {
            at.line + line - 1
        } else {
            at.line
        },
    }
}

/// A name as the database stores it: unquoted names fold to lower case.
fn fold(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_ascii_lowercase()
    }
}

impl Replayer {
    pub(crate) fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            schema: Schema::default(),
            problems: Vec::new(),
        }
    }

    /// A table's key in [`Schema::tables`]: qualified unless in the default schema.
    fn key(&self, name: &ObjectName) -> String {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|part| part.as_ident().map(fold))
            .collect();
        match parts.as_slice() {
            [schema, table] if matches!(schema.as_str(), "public" | "main") => table.clone(),
            // MySQL's schema is the database: `test.users` is `users` of database `test`.
            [_, table] if self.dialect == Dialect::MySql => table.clone(),
            _ => parts.join("."),
        }
    }

    fn table_mut(&mut self, name: &ObjectName, at: &Origin) -> Option<&mut Table> {
        let key = self.key(name);
        if !self.schema.tables.contains_key(&key) {
            self.problems.push(Problem::NoSuchTable {
                at: at.clone(),
                table: key,
            });
            return None;
        }
        self.schema.tables.get_mut(&key)
    }

    pub(crate) fn apply(&mut self, statement: &Statement, at: &Origin) {
        match statement {
            Statement::CreateTable(create) => {
                if create.query.is_some() || create.like.is_some() || create.clone.is_some() {
                    self.unsupported(at, "CREATE TABLE … AS / LIKE / CLONE");
                    return;
                }
                let key = self.key(&create.name);
                if self.schema.tables.contains_key(&key) {
                    if !create.if_not_exists {
                        self.problems.push(Problem::TableExists {
                            at: at.clone(),
                            table: key,
                        });
                    }
                    return;
                }
                let mut table = Table {
                    name: key.clone(),
                    columns: Vec::new(),
                    primary_key: Vec::new(),
                    origin: at.clone(),
                    gone: Default::default(),
                };
                for def in &create.columns {
                    let column = self.column(def, at, &mut table.primary_key);
                    table.columns.push(column);
                }
                for constraint in &create.constraints {
                    apply_constraint(&mut table, constraint);
                }
                self.settle(&mut table);
                self.schema.gone.remove(&key);
                self.schema.tables.insert(key, table);
            }
            Statement::AlterTable(alter) => {
                for operation in &alter.operations {
                    self.alter(&alter.name, alter.if_exists, operation, at);
                }
            }
            Statement::RenameTable(renames) => {
                for rename in renames {
                    self.rename_table(&rename.old_name, &rename.new_name, at);
                }
            }
            Statement::Drop {
                object_type,
                if_exists,
                names,
                ..
            } => match object_type {
                ObjectType::Table => {
                    for name in names {
                        let key = self.key(name);
                        if self.schema.tables.remove(&key).is_some() {
                            self.schema.gone.insert(
                                key,
                                Gone {
                                    renamed_to: None,
                                    origin: at.clone(),
                                },
                            );
                        } else if !if_exists {
                            self.problems.push(Problem::NoSuchTable {
                                at: at.clone(),
                                table: key,
                            });
                        }
                    }
                }
                ObjectType::Type => {
                    for name in names {
                        let key = self.key(name);
                        self.schema.enums.remove(&key);
                    }
                }
                _ => {}
            },
            Statement::CreateType {
                name,
                representation,
            } => {
                if let Some(UserDefinedTypeRepresentation::Enum { labels }) = representation {
                    let key = self.key(name);
                    let labels = labels.iter().map(|l| l.value.clone()).collect();
                    self.schema.enums.insert(key, labels);
                }
            }
            Statement::AlterType(alter) => {
                if let sqlparser::ast::AlterTypeOperation::AddValue(add) = &alter.operation {
                    let key = self.key(&alter.name);
                    if let Some(labels) = self.schema.enums.get_mut(&key)
                        && !labels.contains(&add.value.value)
                    {
                        labels.push(add.value.value.clone());
                    }
                }
            }
            // What changes no table's columns.
            Statement::Query { .. }
            | Statement::Insert { .. }
            | Statement::Update { .. }
            | Statement::Delete { .. }
            | Statement::Merge { .. }
            | Statement::Truncate { .. }
            | Statement::Copy { .. }
            | Statement::CreateIndex { .. }
            | Statement::AlterIndex { .. }
            | Statement::CreateView { .. }
            | Statement::AlterView { .. }
            | Statement::CreateFunction { .. }
            | Statement::DropFunction { .. }
            | Statement::CreateProcedure { .. }
            | Statement::DropProcedure { .. }
            | Statement::CreateTrigger { .. }
            | Statement::DropTrigger { .. }
            | Statement::CreateSequence { .. }
            | Statement::CreateExtension { .. }
            | Statement::DropExtension { .. }
            | Statement::CreateSchema { .. }
            | Statement::CreatePolicy { .. }
            | Statement::DropPolicy { .. }
            | Statement::AlterPolicy { .. }
            | Statement::CreateRole { .. }
            | Statement::AlterRole { .. }
            | Statement::Comment { .. }
            | Statement::Grant { .. }
            | Statement::Revoke { .. }
            | Statement::Set { .. }
            | Statement::Reset { .. }
            | Statement::Pragma { .. }
            | Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
            | Statement::Analyze { .. }
            | Statement::Vacuum { .. }
            | Statement::OptimizeTable { .. }
            | Statement::LockTables { .. }
            | Statement::UnlockTables
            | Statement::NOTIFY { .. } => {}
            other => {
                let text = other.to_string();
                let head: String = text
                    .split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ");
                self.unsupported(at, &head);
            }
        }
    }

    fn unsupported(&mut self, at: &Origin, what: &str) {
        self.problems.push(Problem::Unsupported {
            at: at.clone(),
            statement: what.to_owned(),
        });
    }

    fn column(&self, def: &ColumnDef, at: &Origin, primary_key: &mut Vec<String>) -> Column {
        let name = fold(&def.name);
        let filled = serial(&def.data_type, self.dialect);
        let mut column = Column {
            name: name.clone(),
            sql_type: SqlType::classify(
                &type_text(&def.data_type),
                self.dialect,
                &self.schema.enums,
            ),
            nullable: filled.is_none(),
            default: None,
            filled,
            origin: at_ident(at, &def.name),
        };
        for option in &def.options {
            match &option.option {
                ColumnOption::NotNull => column.nullable = false,
                ColumnOption::Null => column.nullable = true,
                ColumnOption::Default(expr) => column.default = Some(expr.to_string()),
                ColumnOption::PrimaryKey(_) => {
                    column.nullable = false;
                    primary_key.clear();
                    primary_key.push(name.clone());
                }
                ColumnOption::Generated {
                    generated_as,
                    generation_expr,
                    ..
                } => {
                    column.filled = Some(match (generation_expr, generated_as) {
                        (Some(_), _) | (None, GeneratedAs::ExpStored) => Filled::Computed,
                        (None, GeneratedAs::Always) => Filled::Identity { always: true },
                        (None, GeneratedAs::ByDefault) => Filled::Identity { always: false },
                    });
                    if column.filled != Some(Filled::Computed) {
                        column.nullable = false;
                    }
                }
                ColumnOption::Identity(_) => {
                    column.filled = Some(Filled::Identity { always: false });
                    column.nullable = false;
                }
                ColumnOption::DialectSpecific(tokens) => {
                    let text = tokens
                        .iter()
                        .map(ToString::to_string)
                        .collect::<String>()
                        .to_ascii_uppercase();
                    if text.contains("AUTO_INCREMENT") {
                        column.filled = Some(Filled::AutoIncrement);
                    } else if text.contains("AUTOINCREMENT") {
                        column.filled = Some(Filled::RowIdAutoIncrement);
                    }
                }
                _ => {}
            }
        }
        column
    }

    /// What a table's definition implies once its key is known: key columns are NOT
    /// NULL, and SQLite's `INTEGER PRIMARY KEY` is the rowid.
    fn settle(&self, table: &mut Table) {
        let single_key = (table.primary_key.len() == 1).then(|| table.primary_key[0].clone());
        for column in &mut table.columns {
            if table.primary_key.contains(&column.name) {
                column.nullable = false;
            }
            if self.dialect == Dialect::Sqlite
                && single_key.as_deref() == Some(column.name.as_str())
                && column.sql_type.text == "integer"
                && column.filled.is_none()
            {
                column.filled = Some(Filled::RowId);
            }
        }
    }

    fn alter(
        &mut self,
        name: &ObjectName,
        if_exists: bool,
        operation: &AlterTableOperation,
        at: &Origin,
    ) {
        if if_exists && !self.schema.tables.contains_key(&self.key(name)) {
            return;
        }
        let dialect = self.dialect;
        match operation {
            AlterTableOperation::AddColumn {
                if_not_exists,
                column_def,
                ..
            } => {
                let mut primary_key = Vec::new();
                let column = self.column(column_def, at, &mut primary_key);
                let Some(table) = self.table_mut(name, at) else {
                    return;
                };
                if table.column(&column.name).is_some() {
                    if !if_not_exists {
                        let (table, column) = (table.name.clone(), column.name);
                        self.problems.push(Problem::ColumnExists {
                            at: at.clone(),
                            table,
                            column,
                        });
                    }
                    return;
                }
                if !primary_key.is_empty() {
                    table.primary_key = primary_key;
                }
                table.columns.push(column);
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                let Some(table) = self.table_mut(name, at) else {
                    return;
                };
                let mut missing = Vec::new();
                for ident in column_names {
                    let column = fold(ident);
                    let before = table.columns.len();
                    table
                        .columns
                        .retain(|c| !c.name.eq_ignore_ascii_case(&column));
                    table
                        .primary_key
                        .retain(|c| !c.eq_ignore_ascii_case(&column));
                    if table.columns.len() < before {
                        let origin = at_ident(at, ident);
                        table.gone.insert(
                            column,
                            Gone {
                                renamed_to: None,
                                origin,
                            },
                        );
                    } else if !if_exists {
                        missing.push((table.name.clone(), column));
                    }
                }
                for (table, column) in missing {
                    self.problems.push(Problem::NoSuchColumn {
                        at: at.clone(),
                        table,
                        column,
                    });
                }
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let (old, new) = (fold(old_column_name), fold(new_column_name));
                let origin = at_ident(at, new_column_name);
                self.with_column(name, &old, at, |table, column| {
                    column.name = new.clone();
                    column.origin = origin.clone();
                    table.gone.remove(&new);
                    table.gone.insert(
                        old.clone(),
                        Gone {
                            renamed_to: Some(new.clone()),
                            origin,
                        },
                    );
                    for key in &mut table.primary_key {
                        if key.eq_ignore_ascii_case(&old) {
                            key.clone_from(&new);
                        }
                    }
                });
            }
            AlterTableOperation::RenameTable { table_name } => {
                let new = match table_name {
                    RenameTableNameKind::As(new) | RenameTableNameKind::To(new) => new,
                };
                self.rename_table(name, new, at);
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let enums = self.schema.enums.clone();
                let origin = at_ident(at, column_name);
                self.with_column(name, &fold(column_name), at, |_, column| {
                    column.origin = origin;
                    match op {
                        AlterColumnOperation::SetNotNull => column.nullable = false,
                        AlterColumnOperation::DropNotNull => column.nullable = true,
                        AlterColumnOperation::SetDefault { value } => {
                            column.default = Some(value.to_string());
                        }
                        AlterColumnOperation::DropDefault => column.default = None,
                        AlterColumnOperation::SetDataType { data_type, .. } => {
                            column.sql_type =
                                SqlType::classify(&type_text(data_type), dialect, &enums);
                        }
                        AlterColumnOperation::AddGenerated { generated_as, .. } => {
                            column.filled = Some(Filled::Identity {
                                always: !matches!(generated_as, Some(GeneratedAs::ByDefault)),
                            });
                        }
                    }
                });
            }
            AlterTableOperation::ChangeColumn {
                old_name,
                new_name,
                data_type,
                options,
                ..
            } => self.redefine(name, old_name, new_name, data_type, options, at),
            AlterTableOperation::ModifyColumn {
                col_name,
                data_type,
                options,
                ..
            } => self.redefine(name, col_name, col_name, data_type, options, at),
            AlterTableOperation::AddConstraint { constraint, .. } => {
                if let Some(table) = self.table_mut(name, at) {
                    apply_constraint(table, constraint);
                    let mut table = table.clone();
                    self.settle(&mut table);
                    let key = self.key(name);
                    self.schema.tables.insert(key, table);
                }
            }
            AlterTableOperation::DropPrimaryKey { .. } => {
                if let Some(table) = self.table_mut(name, at) {
                    table.primary_key.clear();
                }
            }
            // Constraints other than the key, indexes, ownership, storage: no column
            // changes shape.
            AlterTableOperation::DropConstraint { .. }
            | AlterTableOperation::RenameConstraint { .. }
            | AlterTableOperation::EnableRowLevelSecurity
            | AlterTableOperation::DisableRowLevelSecurity
            | AlterTableOperation::OwnerTo { .. }
            | AlterTableOperation::ValidateConstraint { .. }
            | AlterTableOperation::ReplicaIdentity { .. } => {}
            other => self.unsupported(at, &format!("ALTER TABLE … {other}")),
        }
    }

    /// MySQL's `CHANGE`/`MODIFY COLUMN`: the column defined anew, maybe renamed.
    fn redefine(
        &mut self,
        table: &ObjectName,
        old: &Ident,
        new: &Ident,
        data_type: &DataType,
        options: &[ColumnOption],
        at: &Origin,
    ) {
        let def = ColumnDef {
            name: new.clone(),
            data_type: data_type.clone(),
            options: options
                .iter()
                .map(|option| sqlparser::ast::ColumnOptionDef {
                    name: None,
                    option: option.clone(),
                })
                .collect(),
        };
        let mut primary_key = Vec::new();
        let column = self.column(&def, at, &mut primary_key);
        let old = fold(old);
        let renamed = (!old.eq_ignore_ascii_case(&column.name)).then(|| Gone {
            renamed_to: Some(column.name.clone()),
            origin: column.origin.clone(),
        });
        self.with_column(table, &old, at, |table, slot| {
            *slot = column.clone();
            if !primary_key.is_empty() {
                table.primary_key.clone_from(&primary_key);
            }
            if let Some(renamed) = renamed {
                table.gone.remove(&column.name);
                table.gone.insert(old.clone(), renamed);
            }
        });
    }

    fn with_column(
        &mut self,
        table: &ObjectName,
        column: &str,
        at: &Origin,
        change: impl FnOnce(&mut Table, &mut Column),
    ) {
        let Some(found) = self.table_mut(table, at) else {
            return;
        };
        let Some(index) = found
            .columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(column))
        else {
            let table = found.name.clone();
            self.problems.push(Problem::NoSuchColumn {
                at: at.clone(),
                table,
                column: column.to_owned(),
            });
            return;
        };
        let mut slot = found.columns[index].clone();
        change(found, &mut slot);
        found.columns[index] = slot;
    }

    /// Renames a table; an unqualified new name keeps the table in its schema (as
    /// `ALTER TABLE s.t RENAME TO u` does).
    fn rename_table(&mut self, old: &ObjectName, new: &ObjectName, at: &Origin) {
        let old_key = self.key(old);
        let mut new_key = self.key(new);
        if let Some((schema, _)) = old_key.rsplit_once('.')
            && !new_key.contains('.')
        {
            new_key = format!("{schema}.{new_key}");
        }
        match self.schema.tables.remove(&old_key) {
            Some(mut table) => {
                table.name.clone_from(&new_key);
                self.schema.gone.remove(&new_key);
                self.schema.gone.insert(
                    old_key,
                    Gone {
                        renamed_to: Some(new_key.clone()),
                        origin: at.clone(),
                    },
                );
                self.schema.tables.insert(new_key, table);
            }
            None => self.problems.push(Problem::NoSuchTable {
                at: at.clone(),
                table: old_key,
            }),
        }
    }
}

fn apply_constraint(table: &mut Table, constraint: &TableConstraint) {
    if let TableConstraint::PrimaryKey(key) = constraint {
        table.primary_key = key
            .columns
            .iter()
            .map(|c| match &c.column.expr {
                sqlparser::ast::Expr::Identifier(ident) => fold(ident),
                other => other.to_string().to_ascii_lowercase(),
            })
            .collect();
    }
}

/// The type as SQL text (sqlparser's display, e.g. `BIGINT`, `CHARACTER VARYING(80)`).
fn type_text(data_type: &DataType) -> String {
    data_type.to_string()
}

/// Postgres' `serial` family fills the column from a sequence (and makes it NOT NULL,
/// which the caller's options cannot undo in practice).
fn serial(data_type: &DataType, dialect: Dialect) -> Option<Filled> {
    if dialect != Dialect::Postgres {
        return None;
    }
    let text = data_type.to_string().to_ascii_lowercase();
    matches!(
        text.as_str(),
        "serial" | "serial2" | "serial4" | "serial8" | "smallserial" | "bigserial"
    )
    .then_some(Filled::Serial)
}

#[cfg(test)]
mod tests {
    use crate::{Dialect, Family, Filled, Problem, replay};

    fn run(dialect: Dialect, files: &[(&str, &str)]) -> crate::Replayed {
        replay(dialect, files.iter().map(|(n, s)| ((*n).into(), *s)))
    }

    #[test]
    fn alters_follow_in_order() {
        let out = run(
            Dialect::Postgres,
            &[
                (
                    "1.up.sql",
                    "CREATE TYPE mood AS ENUM ('ok', 'sad');
                     CREATE TABLE app.users (id SERIAL PRIMARY KEY, nick TEXT, age INT NOT NULL DEFAULT 0, m mood);",
                ),
                (
                    "2.up.sql",
                    "ALTER TABLE app.users RENAME COLUMN nick TO nickname;
                     ALTER TABLE app.users ALTER COLUMN nickname SET NOT NULL;
                     ALTER TABLE app.users ALTER COLUMN age TYPE BIGINT, ALTER COLUMN age DROP DEFAULT;
                     ALTER TABLE app.users DROP COLUMN m;
                     ALTER TABLE app.users RENAME TO members;
                     CREATE INDEX members_nick ON app.members (nickname);",
                ),
            ],
        );
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert!(out.schema.table("app.users").is_none());
        let members = out.schema.table("app.members").expect("renamed");
        let names: Vec<&str> = members.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "nickname", "age"]);
        let id = members.column("id").unwrap();
        assert_eq!((id.nullable, id.filled), (false, Some(Filled::Serial)));
        let nickname = members.column("nickname").unwrap();
        assert!(!nickname.nullable);
        assert_eq!(nickname.origin.to_string(), "2.up.sql:2");
        let age = members.column("age").unwrap();
        assert_eq!(
            age.sql_type.family,
            Family::Int {
                bytes: 8,
                unsigned: false
            }
        );
        assert_eq!(age.default, None);
        assert_eq!(members.primary_key, ["id"]);
        assert_eq!(out.schema.enums["mood"], ["ok", "sad"]);
        let nick = &members.gone["nick"];
        assert_eq!(
            (nick.renamed_to.as_deref(), nick.origin.line),
            (Some("nickname"), 1)
        );
        assert_eq!(members.gone["m"].renamed_to, None);
        assert_eq!(
            out.schema
                .gone_table("app.users")
                .unwrap()
                .renamed_to
                .as_deref(),
            Some("app.members")
        );
    }

    #[test]
    fn identity_enum_columns_and_table_keys() {
        let out = run(
            Dialect::Postgres,
            &[(
                "1.up.sql",
                "CREATE TYPE status AS ENUM ('a');
                 CREATE TABLE t (a BIGINT GENERATED ALWAYS AS IDENTITY, b status NOT NULL,
                                 c INT GENERATED ALWAYS AS (a * 2) STORED, PRIMARY KEY (a, b));",
            )],
        );
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        let t = out.schema.table("t").unwrap();
        assert_eq!(t.primary_key, ["a", "b"]);
        assert_eq!(
            t.column("a").unwrap().filled,
            Some(Filled::Identity { always: true })
        );
        assert_eq!(
            t.column("b").unwrap().sql_type.family,
            Family::Enum("status".into())
        );
        assert_eq!(t.column("c").unwrap().filled, Some(Filled::Computed));
    }

    #[test]
    fn sqlite_rowid_and_mysql_change_column() {
        let lite = run(
            Dialect::Sqlite,
            &[(
                "1.up.sql",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT);",
            )],
        );
        assert_eq!(
            lite.schema.table("t").unwrap().column("id").unwrap().filled,
            Some(Filled::RowId)
        );
        let my = run(
            Dialect::MySql,
            &[(
                "1.up.sql",
                "CREATE TABLE t (id BIGINT AUTO_INCREMENT PRIMARY KEY, n VARCHAR(10));
                 ALTER TABLE t CHANGE COLUMN n name VARCHAR(20) NOT NULL;
                 ALTER TABLE t MODIFY COLUMN name TEXT NULL;",
            )],
        );
        assert!(my.problems.is_empty(), "{:?}", my.problems);
        let t = my.schema.table("t").unwrap();
        assert_eq!(t.column("id").unwrap().filled, Some(Filled::AutoIncrement));
        let name = t.column("name").unwrap();
        assert_eq!((name.nullable, name.sql_type.text.as_str()), (true, "text"));
    }

    #[test]
    fn auto_increment_is_shown_in_its_dialects_spelling() {
        let my = run(
            Dialect::MySql,
            &[(
                "1.up.sql",
                "CREATE TABLE t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY);",
            )],
        );
        assert!(
            my.schema
                .to_string()
                .contains("id bigint NOT NULL AUTO_INCREMENT"),
            "{}",
            my.schema
        );
        let lite = run(
            Dialect::Sqlite,
            &[(
                "1.up.sql",
                "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT);",
            )],
        );
        let id = lite.schema.table("t").unwrap().column("id").unwrap();
        assert_eq!(id.filled, Some(Filled::RowIdAutoIncrement));
        assert!(
            lite.schema
                .to_string()
                .contains("id integer NOT NULL AUTOINCREMENT"),
            "{}",
            lite.schema
        );
    }

    #[test]
    fn what_it_cannot_replay_is_named_by_file_and_line_unless_skipped() {
        let out = run(
            Dialect::Postgres,
            &[(
                "1.up.sql",
                "CREATE TABLE t (id INT);\nCREATE TABLE t (id INT);\nALTER TABLE nope ADD COLUMN x INT;\nTHIS IS NOT SQL;\n-- txova:schema-skip\nTHIS IS NOT SQL EITHER;\nALTER TABLE t DROP COLUMN ghost;",
            )],
        );
        let found: Vec<String> = out.problems.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(matches!(&out.problems[0], Problem::TableExists { at, .. } if at.line == 2));
        assert!(
            matches!(&out.problems[1], Problem::NoSuchTable { at, table } if at.line == 3 && table == "nope")
        );
        assert!(matches!(&out.problems[2], Problem::Parse { at, .. } if at.line == 4));
        assert!(
            matches!(&out.problems[3], Problem::NoSuchColumn { at, column, .. } if at.line == 7 && column == "ghost")
        );
        assert!(
            found[2].starts_with("1.up.sql:4: the statement does not parse (Expected: "),
            "{}",
            found[2]
        );
        assert!(!found[2].contains("Line:"), "{}", found[2]);
    }

    #[test]
    fn keys_types_and_renames_added_later() {
        let out = run(
            Dialect::Postgres,
            &[(
                "1.up.sql",
                "CREATE TYPE mood AS ENUM ('ok');
                 ALTER TYPE mood ADD VALUE 'sad';
                 CREATE TYPE gone AS ENUM ('x');
                 DROP TYPE gone;
                 CREATE TABLE t (a INT NOT NULL, b TEXT);
                 ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY (a);
                 ALTER TABLE IF EXISTS nowhere ADD COLUMN c INT;
                 ALTER TABLE t ADD COLUMN IF NOT EXISTS b TEXT;
                 ALTER TABLE t ADD COLUMN b TEXT;
                 ALTER TABLE t ALTER COLUMN b SET DEFAULT 'x';
                 ALTER TABLE t ALTER COLUMN b DROP NOT NULL;
                 ALTER TABLE t ALTER COLUMN a ADD GENERATED ALWAYS AS IDENTITY;
                 ALTER TABLE t DROP CONSTRAINT t_pk;
                 ALTER TABLE t DROP COLUMN IF EXISTS ghost;
                 DROP TABLE IF EXISTS nothing;
                 CREATE TABLE IF NOT EXISTS t (z INT);
                 ALTER TABLE t ENABLE ROW LEVEL SECURITY;
                 CREATE TABLE d (id INT);
                 DROP TABLE d;",
            )],
        );
        assert_eq!(out.schema.enums["mood"], ["ok", "sad"]);
        assert!(!out.schema.enums.contains_key("gone"));
        let t = out.schema.table("t").unwrap();
        assert_eq!(t.primary_key, ["a"]);
        assert_eq!(
            t.column("a").unwrap().filled,
            Some(Filled::Identity { always: true })
        );
        let b = t.column("b").unwrap();
        assert_eq!((b.default.as_deref(), b.nullable), (Some("'x'"), true));
        assert!(
            t.column("z").is_none(),
            "IF NOT EXISTS leaves the table as it was"
        );
        assert_eq!(out.schema.gone_table("d").unwrap().renamed_to, None);
        assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
        assert!(
            matches!(&out.problems[0], Problem::ColumnExists { at, column, .. } if at.line == 9 && column == "b")
        );

        let my = run(
            Dialect::MySql,
            &[(
                "1.up.sql",
                "CREATE TABLE a (id INT PRIMARY KEY, n INT);
                 RENAME TABLE a TO b;
                 ALTER TABLE b DROP PRIMARY KEY;
                 ALTER TABLE b MODIFY COLUMN n BIGINT UNSIGNED NOT NULL PRIMARY KEY;
                 RENAME TABLE missing TO other;",
            )],
        );
        let b = my.schema.table("b").unwrap();
        assert_eq!(b.primary_key, ["n"]);
        assert_eq!(
            b.column("n").unwrap().sql_type.family,
            Family::Int {
                bytes: 8,
                unsigned: true
            }
        );
        assert_eq!(
            my.schema.gone_table("a").unwrap().renamed_to.as_deref(),
            Some("b")
        );
        assert!(
            matches!(&my.problems[..], [Problem::NoSuchTable { table, .. }] if table == "missing")
        );
    }

    #[test]
    fn statements_it_does_not_know_are_named() {
        let out = run(
            Dialect::Postgres,
            &[(
                "1.up.sql",
                "CREATE TABLE t (id INT);\nALTER TABLE t SET TBLPROPERTIES ('a' = 'b');\nCREATE TABLE u AS SELECT 1;\nTRUNCATE t;",
            )],
        );
        let found: Vec<String> = out.problems.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].starts_with("1.up.sql:2: `ALTER TABLE … "),
            "{}",
            found[0]
        );
        assert!(
            found[1].starts_with("1.up.sql:3: `CREATE TABLE … AS"),
            "{}",
            found[1]
        );
    }
}
