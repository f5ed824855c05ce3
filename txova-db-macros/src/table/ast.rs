//! The struct as the derive sees it: table and column attributes parsed leniently,
//! every problem reported to the `Ctxt` with its span.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;

use crate::ctxt::Ctxt;

pub(crate) struct Container<'a> {
    pub(crate) ident: &'a syn::Ident,
    pub(crate) vis: &'a syn::Visibility,
    pub(crate) table_name: String,
    /// Where the table's name was written (`name = "…"`), else the struct's name.
    pub(crate) table_span: Span,
    pub(crate) fields: Vec<Field<'a>>,
    /// `#[table(migrations = "…")]`: the directory to check against, overriding the
    /// crate's `[package.metadata.txova-db]`.
    pub(crate) migrations: Option<syn::LitStr>,
    /// `#[table(unchecked)]`: no check against the migrations.
    pub(crate) unchecked: Option<Span>,
}

/// The `table` attribute's keys.
#[derive(Default)]
struct TableAttrs {
    name: Option<syn::LitStr>,
    migrations: Option<syn::LitStr>,
    unchecked: Option<Span>,
}

pub(crate) struct Field<'a> {
    pub(crate) ident: &'a syn::Ident,
    pub(crate) vis: &'a syn::Visibility,
    pub(crate) ty: &'a syn::Type,
    /// The SQL name, and the token it came from (for duplicate-name errors).
    pub(crate) column_name: String,
    pub(crate) name_span: Span,
    pub(crate) primary_key: Option<Span>,
    pub(crate) generated: bool,
    pub(crate) sortable: bool,
    /// `#[column(secret)]`: every value bound through the column is `Redacted`.
    pub(crate) secret: bool,
    pub(crate) skip: Option<Span>,
}

impl Field<'_> {
    /// The field's name as written, without `r#`.
    pub(crate) fn name(&self) -> String {
        self.ident.unraw().to_string()
    }
}

const TABLE_KEYS: &str = "`name`, `migrations`, `unchecked`";
const COLUMN_KEYS: &str = "`primary_key`, `generated`, `name`, `sortable`, `secret`, `skip`";

impl<'a> Container<'a> {
    /// `None` when the input is not a struct with named fields (already reported).
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a syn::DeriveInput) -> Option<Self> {
        let attrs = parse_table_attrs(cx, input);
        let named = match &input.data {
            syn::Data::Struct(data) => match &data.fields {
                syn::Fields::Named(named) => named,
                syn::Fields::Unnamed(_) => {
                    cx.error_spanned_by(
                        &input.ident,
                        "`#[derive(Table)]` needs named fields, one per column; a tuple struct has none to name the columns after",
                    );
                    return None;
                }
                syn::Fields::Unit => {
                    cx.error_spanned_by(
                        &input.ident,
                        "`#[derive(Table)]` needs a struct with named fields, one per column; this struct has none",
                    );
                    return None;
                }
            },
            syn::Data::Enum(data) => {
                cx.error_spanned_by(
                    data.enum_token,
                    "`#[derive(Table)]` maps a struct to a table; an enum has no fixed columns (for an enum column type use `#[derive(sqlx::Type)]`)",
                );
                return None;
            }
            syn::Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(Table)]` maps a struct to a table; write a struct with named fields instead of a union",
                );
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .filter_map(|field| parse_field(cx, field))
            .collect();
        Some(Self {
            ident: &input.ident,
            vis: &input.vis,
            table_name: attrs.name.as_ref().map_or_else(
                || snake_case(&input.ident.unraw().to_string()),
                syn::LitStr::value,
            ),
            table_span: attrs
                .name
                .as_ref()
                .map_or(input.ident.span(), syn::LitStr::span),
            fields,
            migrations: attrs.migrations,
            unchecked: attrs.unchecked,
        })
    }
}

fn parse_table_attrs(cx: &Ctxt, input: &syn::DeriveInput) -> TableAttrs {
    let mut attrs = TableAttrs::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("table")) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = path_text(&meta.path);
            match key.as_str() {
                "name" | "migrations" => {
                    let Some(value) = string_value(cx, &meta)? else {
                        return Ok(());
                    };
                    let slot = if key == "name" {
                        &mut attrs.name
                    } else {
                        &mut attrs.migrations
                    };
                    if slot.is_some() {
                        cx.error_spanned_by(
                            &meta.path,
                            if key == "name" {
                                "duplicate `table` key `name`: give the table one name"
                            } else {
                                "duplicate `table` key `migrations`: check the table against one directory"
                            },
                        );
                    } else if value.value().trim().is_empty() {
                        cx.error_spanned_by(
                            &value,
                            if key == "name" {
                                "the table name is empty; write `#[table(name = \"users\")]`"
                            } else {
                                "the migrations directory is empty; write `#[table(migrations = \"migrations/postgres\")]`"
                            },
                        );
                    } else {
                        *slot = Some(value);
                    }
                }
                "unchecked" => {
                    if attrs.unchecked.is_some() {
                        cx.error_spanned_by(&meta.path, "duplicate `table` key `unchecked`: write it once");
                    }
                    attrs.unchecked = Some(table_flag(cx, &meta)?);
                }
                _ => {
                    skip_value(&meta)?;
                    cx.error_spanned_by(
                        &meta.path,
                        format!("unknown `table` key `{key}`; valid keys are {TABLE_KEYS}"),
                    );
                }
            }
            Ok(())
        });
        if let Err(err) = parsed {
            cx.syn_error(err);
        }
    }
    if let (Some(unchecked), Some(migrations)) = (attrs.unchecked, &attrs.migrations) {
        cx.syn_error(syn::Error::new(
            unchecked,
            format!(
                "`unchecked` turns off the check against `{}`: keep one of `unchecked` and `migrations`",
                migrations.value()
            ),
        ));
    }
    attrs
}

/// `#[table(unchecked)]`: a flag, no value.
fn table_flag(cx: &Ctxt, meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Span> {
    if meta.input.peek(syn::Token![=]) {
        let value: syn::Expr = meta.value()?.parse()?;
        let key = path_text(&meta.path);
        cx.error_spanned_by(
            &value,
            format!("`{key}` is a flag and takes no value: write `#[table({key})]`"),
        );
    }
    Ok(meta.path.span())
}

fn parse_field<'a>(cx: &Ctxt, field: &'a syn::Field) -> Option<Field<'a>> {
    let ident = field.ident.as_ref()?;
    let mut parsed = Field {
        ident,
        vis: &field.vis,
        ty: &field.ty,
        column_name: ident.unraw().to_string(),
        name_span: ident.span(),
        primary_key: None,
        generated: false,
        sortable: false,
        secret: false,
        skip: None,
    };
    let mut seen: Vec<String> = Vec::new();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("column")) {
        let result = attr.parse_nested_meta(|meta| {
            let key = path_text(&meta.path);
            if seen.contains(&key) {
                skip_value(&meta)?;
                cx.error_spanned_by(&meta.path, format!("duplicate `column` key `{key}`: write it once"));
                return Ok(());
            }
            seen.push(key.clone());
            match key.as_str() {
                "primary_key" => parsed.primary_key = Some(flag(cx, &meta)?),
                "generated" => parsed.generated = flag(cx, &meta).map(|_| true)?,
                "sortable" => parsed.sortable = flag(cx, &meta).map(|_| true)?,
                "secret" => parsed.secret = flag(cx, &meta).map(|_| true)?,
                "skip" => parsed.skip = Some(flag(cx, &meta)?),
                "name" => {
                    if let Some(lit) = string_value(cx, &meta)? {
                        if lit.value().trim().is_empty() {
                            cx.error_spanned_by(&lit, "the column name is empty; write `#[column(name = \"email_address\")]`");
                        } else {
                            parsed.column_name = lit.value();
                            parsed.name_span = lit.span();
                        }
                    }
                }
                _ => {
                    skip_value(&meta)?;
                    cx.error_spanned_by(
                        &meta.path,
                        format!("unknown `column` key `{key}`; valid keys are {COLUMN_KEYS}"),
                    );
                }
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
    Some(parsed)
}

/// A key that takes no value (`primary_key`); reports `primary_key = true` and the like.
fn flag(cx: &Ctxt, meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Span> {
    if meta.input.peek(syn::Token![=]) {
        let value: syn::Expr = meta.value()?.parse()?;
        cx.error_spanned_by(
            &value,
            format!(
                "`{}` is a flag and takes no value: write `#[column({})]`",
                path_text(&meta.path),
                path_text(&meta.path)
            ),
        );
    }
    Ok(meta.path.span())
}

/// `key = "string"`; anything else is reported and skipped.
fn string_value(
    cx: &Ctxt,
    meta: &syn::meta::ParseNestedMeta<'_>,
) -> syn::Result<Option<syn::LitStr>> {
    let key = path_text(&meta.path);
    if !meta.input.peek(syn::Token![=]) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{key}` needs a value: write `{key} = \"...\"`"),
        );
        return Ok(None);
    }
    let value: syn::Expr = meta.value()?.parse()?;
    match value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => Ok(Some(lit)),
        other => {
            cx.error_spanned_by(
                &other,
                format!("`{key}` takes a string literal: write `{key} = \"...\"`"),
            );
            Ok(None)
        }
    }
}

/// Consumes `= value` or `(..)` after an unknown key, so parsing can go on.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    Ok(())
}

fn path_text(path: &syn::Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}

/// `RideEvent` → `ride_event`.
pub(crate) fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

/// `created_at` → `CreatedAt`.
pub(crate) fn pascal_case(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("RideEvent"), "ride_event");
        assert_eq!(snake_case("HTTPLog"), "httplog");
        assert_eq!(pascal_case("created_at"), "CreatedAt");
        assert_eq!(pascal_case("id"), "Id");
    }
}
