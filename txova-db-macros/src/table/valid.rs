//! Checks across the whole struct, after each attribute parsed on its own.

use std::collections::HashMap;

use super::ast::Container;
use crate::ctxt::Ctxt;

/// Names of the `Table` trait's associated functions: a field with one of these names
/// would become an associated const hiding the function (`User::select`).
const RESERVED: &[&str] = &[
    "select",
    "insert",
    "insert_many",
    "update",
    "delete",
    "find",
    "get",
    "save",
    "delete_by_id",
    "column_named",
];

pub(crate) fn check(cx: &Ctxt, container: &Container<'_>) {
    let mut names: HashMap<&str, &super::ast::Field<'_>> = HashMap::new();
    let mut primary_key: Option<&super::ast::Field<'_>> = None;
    for field in &container.fields {
        if let Some(skip) = field.skip {
            if field.primary_key.is_some()
                || field.generated
                || field.sortable
                || field.secret
                || field.column_name != field.name()
            {
                cx.syn_error(syn::Error::new(
                    skip,
                    "`skip` leaves the field out of the table, so it takes no other `column` key; remove the others or drop `skip`",
                ));
            }
            continue;
        }
        if let Some(earlier) = names.insert(field.column_name.as_str(), field) {
            cx.syn_error(syn::Error::new(
                field.name_span,
                format!(
                    "column `{}` is already mapped by field `{}`; give one of them another `#[column(name = \"...\")]`",
                    field.column_name,
                    earlier.name()
                ),
            ));
        }
        if let Some(span) = field.primary_key {
            match primary_key {
                Some(first) => cx.syn_error(syn::Error::new(
                    span,
                    format!(
                        "`{}` is already the primary key; composite primary keys are not supported, so mark one field",
                        first.name()
                    ),
                )),
                None => primary_key = Some(field),
            }
        }
        if RESERVED.contains(&field.name().as_str()) {
            cx.error_spanned_by(
                field.ident,
                format!(
                    "a field named `{name}` would hide `{ty}::{name}()`; rename the field and keep the column with `#[column(name = \"{name}\")]`",
                    name = field.name(),
                    ty = container.ident
                ),
            );
        }
    }
    if names.is_empty() {
        cx.error_spanned_by(
            container.ident,
            "`#[derive(Table)]` needs at least one column, and every field here is skipped or missing",
        );
    }
}

pub(crate) fn reject_generics(cx: &Ctxt, input: &syn::DeriveInput) {
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "`#[derive(Table)]` does not take generic parameters: a table has one fixed row type",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::RESERVED;

    /// The names of the functions `Table` declares, read from its source: every one
    /// that is not `__`-prefixed (those are the derive's own) must be reserved.
    fn table_functions() -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../txova-db/src/table.rs");
        let source = std::fs::read_to_string(path).expect("txova-db/src/table.rs");
        let start = source.find("pub trait Table:").expect("the Table trait");
        let body = &source[start..];
        // The trait ends at the first line that is a lone closing brace.
        let end = body.find("\n}\n").expect("the end of the trait");
        body[..end]
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix("fn "))
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .filter(|name| !name.starts_with("__"))
            .collect()
    }

    #[test]
    fn every_table_function_is_reserved() {
        let mut functions = table_functions();
        functions.sort();
        let mut reserved: Vec<String> = RESERVED.iter().map(|&s| s.to_owned()).collect();
        reserved.sort();
        assert!(functions.len() >= 10, "{functions:?}");
        assert_eq!(functions, reserved);
    }
}
