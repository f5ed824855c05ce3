//! The struct checked against the schema its migrations create: the table exists,
//! every field names a column, its Rust type holds the column's SQL type, `Option`
//! exactly where the column is nullable, `primary_key` and `generated` agree with the
//! key and with how the database fills the column, and no column an insert must give
//! is missing. Each finding is a spanned error saying what the migrations say (with
//! file and line) and what to write.

use txova_db_schema::{Column, Dialect, Family, Filled, Table};

use super::ast::{Container, Field};
use super::rust_type::{FieldType, Kind};
use super::sources::Source;
use crate::ctxt::Ctxt;

pub(crate) fn check(cx: &Ctxt, container: &Container<'_>, source: &Source) {
    let replayed = &source.replayed;
    if !replayed.problems.is_empty() {
        // The schema is not known past these: checking against it would report what
        // the unreplayed statements may well have changed.
        if source.report_problems {
            for problem in &replayed.problems {
                cx.syn_error(syn::Error::new(
                    container.ident.span(),
                    format!(
                        "the migrations in `{}` cannot be checked: {problem}",
                        source.shown
                    ),
                ));
            }
        }
        return;
    }
    let Some(table) = replayed.schema.table(&container.table_name) else {
        if let Some(gone) = replayed.schema.gone_table(&container.table_name) {
            let what = match &gone.renamed_to {
                Some(new) => format!(
                    "was renamed to `{new}` ({}); write `#[table(name = \"{new}\")]`",
                    gone.origin
                ),
                None => format!(
                    "was dropped ({}); remove the struct, or check it against no migrations with `#[table(unchecked)]`",
                    gone.origin
                ),
            };
            cx.syn_error(syn::Error::new(
                container.table_span,
                format!("table `{}` {what}", container.table_name),
            ));
            return;
        }
        let mut known: Vec<&str> = replayed.schema.tables.keys().map(String::as_str).collect();
        known.truncate(12);
        cx.syn_error(syn::Error::new(
            container.table_span,
            format!(
                "no migration in `{}` creates table `{}` (its tables: {}); write `#[table(name = \"…\")]` with one of them, or add a migration",
                source.shown,
                container.table_name,
                if known.is_empty() { "none".to_owned() } else { known.join(", ") },
            ),
        ));
        return;
    };
    let fields: Vec<&Field<'_>> = container
        .fields
        .iter()
        .filter(|f| f.skip.is_none())
        .collect();
    for field in &fields {
        match table.column(&field.column_name) {
            Some(column) => check_field(cx, source.dialect, table, field, column),
            None => cx.syn_error(syn::Error::new(
                field.name_span,
                missing_column(table, &field.column_name, &source.shown),
            )),
        }
    }
    check_key(cx, table, &fields);
    for column in &table.columns {
        let covered = fields
            .iter()
            .any(|f| f.column_name.eq_ignore_ascii_case(&column.name));
        if !covered && !column.may_be_omitted() {
            cx.syn_error(syn::Error::new(
                container.ident.span(),
                format!(
                    "column `{}` of `{}` is `{}` with no default ({}): inserting a `{}` would fail; add a field for it",
                    column.name,
                    table.name,
                    column.describe(),
                    column.origin,
                    container.ident,
                ),
            ));
        }
    }
}

fn missing_column(table: &Table, column: &str, shown: &str) -> String {
    if let Some(gone) = table
        .gone
        .get(column)
        .or_else(|| table.gone.get(&column.to_ascii_lowercase()))
    {
        return match &gone.renamed_to {
            Some(new) => format!(
                "column `{column}` of `{}` was renamed to `{new}` ({}); write `#[column(name = \"{new}\")]`, or rename the field",
                table.name, gone.origin
            ),
            None => format!(
                "column `{column}` of `{}` was dropped ({}); remove the field, or mark it `#[column(skip)]` if it is not stored",
                table.name, gone.origin
            ),
        };
    }
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    format!(
        "table `{}` has no column `{column}` in the schema the migrations in `{shown}` create (its columns: {}); write `#[column(name = \"…\")]` with one of them, or `#[column(skip)]` for a field that is not a column",
        table.name,
        names.join(", "),
    )
}

fn check_field(cx: &Ctxt, dialect: Dialect, table: &Table, field: &Field<'_>, column: &Column) {
    let ty = FieldType::read(field.ty);
    let said = |what: String| {
        format!(
            "column `{}` of `{}` is `{}` ({}): {what}",
            column.name,
            table.name,
            column.describe(),
            column.origin
        )
    };
    if let (Family::Enum(name), Kind::String) = (&column.sql_type.family, ty.kind) {
        cx.error_spanned_by(
            field.ty,
            said(format!("`String` does not decode a Postgres enum; make the field a Rust enum with `#[derive(sqlx::Type)]` and `#[sqlx(type_name = \"{name}\")]`")),
        );
    } else if !fits(ty.kind, &column.sql_type.family, dialect) {
        let what = match expected(&column.sql_type.family, dialect) {
            Some(rust) => format!(
                "`{}` does not hold it; make the field `{}`",
                ty.inner,
                ty.with_inner(rust)
            ),
            None => format!("`{}` does not hold it on {dialect}", ty.inner),
        };
        cx.error_spanned_by(field.ty, said(what));
    } else if column.nullable && !ty.optional {
        cx.error_spanned_by(
            field.ty,
            said(format!(
                "make the field `Option<{}>`, since the column holds NULL",
                ty.inner
            )),
        );
    } else if !column.nullable
        && ty.optional
        && !column.filled.is_some_and(|f| f != Filled::Computed)
    {
        cx.error_spanned_by(
            field.ty,
            said(format!(
                "make the field `{}`, since the column is never NULL",
                ty.inner
            )),
        );
    }
    match (column.filled, field.generated) {
        (Some(filled), false) => cx.syn_error(syn::Error::new(
            field.name_span,
            said(format!(
                "the database fills it ({}); mark the field `#[column(generated)]` so inserts leave it out",
                filled_name(filled)
            )),
        )),
        (None, true) if column.default.is_none() => cx.syn_error(syn::Error::new(
            field.name_span,
            said("`#[column(generated)]` says the database fills it, but it has no default, identity or sequence; remove `generated`, or give the column a default in a migration".to_owned()),
        )),
        _ => {}
    }
}

fn filled_name(filled: Filled) -> &'static str {
    match filled {
        Filled::Identity { .. } => "an identity column",
        Filled::Serial => "a serial column",
        Filled::AutoIncrement | Filled::RowIdAutoIncrement => "auto-increment",
        Filled::RowId => "SQLite's rowid",
        Filled::Computed => "a computed column",
    }
}

fn check_key(cx: &Ctxt, table: &Table, fields: &[&Field<'_>]) {
    let key = &table.primary_key;
    let in_key = |f: &Field<'_>| key.iter().any(|k| k.eq_ignore_ascii_case(&f.column_name));
    let key_text = if key.is_empty() {
        "it has none".to_owned()
    } else {
        format!("its key is ({})", key.join(", "))
    };
    for field in fields {
        if let Some(span) = field.primary_key
            && !in_key(field)
        {
            cx.syn_error(syn::Error::new(
                span,
                format!(
                    "`{}` is not the primary key of `{}` in the migrations ({key_text}, {}); move `primary_key` to the key's field",
                    field.column_name, table.name, table.origin
                ),
            ));
        }
    }
    let marked = fields.iter().any(|f| f.primary_key.is_some());
    if !marked
        && let [only] = key.as_slice()
        && let Some(field) = fields
            .iter()
            .find(|f| f.column_name.eq_ignore_ascii_case(only))
    {
        cx.syn_error(syn::Error::new(
            field.name_span,
            format!(
                "`{only}` is the primary key of `{}` ({}); mark the field `#[column(primary_key)]`",
                table.name, table.origin
            ),
        ));
    }
}

/// Whether a field of `kind` decodes the column's values on `dialect` (what sqlx's
/// `Type::compatible` accepts for it).
fn fits(kind: Kind, family: &Family, dialect: Dialect) -> bool {
    use Kind as K;
    if kind == K::Unknown || *family == Family::Other {
        return true;
    }
    match dialect {
        Dialect::Postgres => match (family, kind) {
            (Family::Int { bytes, .. }, K::Int { bits, signed: true }) => {
                u16::from(*bytes) * 8 == u16::from(bits)
            }
            (Family::Float { bytes }, K::Float { bits }) => {
                u16::from(*bytes) * 8 == u16::from(bits)
            }
            (Family::Bool, K::Bool)
            | (Family::Text, K::String)
            | (Family::Bytes, K::Bytes)
            | (Family::Uuid, K::Uuid)
            | (Family::Json, K::Json)
            | (Family::Numeric, K::Decimal)
            | (Family::Timestamp { zone: true }, K::ZonedDateTime)
            | (Family::Timestamp { zone: false }, K::LocalDateTime)
            | (Family::Date, K::Date)
            | (Family::Time, K::Time) => true,
            _ => false,
        },
        Dialect::MySql => match (family, kind) {
            (Family::Int { bytes, unsigned }, K::Int { bits, signed }) => {
                signed != *unsigned && u16::from(bits) >= u16::from(*bytes) * 8
            }
            (
                Family::Bool,
                K::Bool
                | K::Int {
                    bits: 8,
                    signed: true,
                },
            ) => true,
            (Family::Float { bytes }, K::Float { bits }) => {
                u16::from(*bytes) * 8 == u16::from(bits)
            }
            (Family::Timestamp { .. }, K::ZonedDateTime | K::LocalDateTime)
            | (Family::Text, K::String | K::Uuid)
            | (Family::Bytes, K::Bytes | K::Uuid)
            | (Family::Json, K::Json)
            | (Family::Numeric, K::Decimal)
            | (Family::Date, K::Date)
            | (Family::Time, K::Time) => true,
            _ => false,
        },
        // SQLite stores any value in any column; what decodes is what the declared type's
        // affinity makes of it.
        Dialect::Sqlite => match (family, kind) {
            (Family::Int { .. } | Family::Bool, K::Int { bits, signed }) => signed || bits < 64,
            (Family::Int { .. } | Family::Bool, K::Bool) => true,
            (Family::Float { .. }, K::Float { .. }) => true,
            (Family::Text, K::String | K::Uuid | K::Json) => true,
            (Family::Bytes, K::Bytes | K::Uuid) => true,
            (
                Family::Text | Family::Int { .. } | Family::Float { .. } | Family::Numeric,
                K::ZonedDateTime | K::LocalDateTime | K::Date | K::Time,
            ) => true,
            (Family::Numeric, k) => k != K::Bytes,
            _ => false,
        },
    }
}

/// The Rust type to write for a column of `family` on `dialect`.
fn expected(family: &Family, dialect: Dialect) -> Option<&'static str> {
    Some(match family {
        Family::Int {
            bytes: 1,
            unsigned: true,
        } => "u8",
        Family::Int { bytes: 1, .. } => "i8",
        Family::Int {
            bytes: 2,
            unsigned: true,
        } => "u16",
        Family::Int { bytes: 2, .. } => "i16",
        Family::Int {
            bytes: 3 | 4,
            unsigned: true,
        } => "u32",
        Family::Int { bytes: 3 | 4, .. } => "i32",
        Family::Int { unsigned: true, .. } => "u64",
        Family::Int { .. } => "i64",
        Family::Float { bytes: 4 } if dialect != Dialect::Sqlite => "f32",
        Family::Float { .. } => "f64",
        Family::Bool => "bool",
        Family::Text => "String",
        Family::Bytes => "Vec<u8>",
        Family::Uuid => "uuid::Uuid",
        Family::Json => "serde_json::Value",
        Family::Numeric if dialect == Dialect::Sqlite => return None,
        Family::Numeric => "rust_decimal::Decimal",
        Family::Timestamp { zone: true } => "chrono::DateTime<chrono::Utc>",
        Family::Timestamp { zone: false } => "chrono::NaiveDateTime",
        Family::Date => "chrono::NaiveDate",
        Family::Time => "chrono::NaiveTime",
        Family::Enum(_) | Family::Other => return None,
    })
}
