//! Helpers for `key = value` attribute arguments shared by the attribute macros:
//! flags, values, durations, and skipping the value of an argument already reported.

use std::time::Duration;

use syn::spanned::Spanned as _;

use crate::ctxt::Ctxt;

/// The argument's name (`isolation` in `isolation = ".."`).
pub(crate) fn key_of(meta: &syn::meta::ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The argument's name the first time it is given; a repeat is reported (and its
/// value skipped) and gives `None`.
pub(crate) fn first_use(
    cx: &Ctxt,
    seen: &mut Vec<String>,
    meta: &syn::meta::ParseNestedMeta<'_>,
) -> syn::Result<Option<String>> {
    let key = key_of(meta);
    if seen.contains(&key) {
        skip_value(meta)?;
        cx.error_spanned_by(
            &meta.path,
            format!("duplicate argument `{key}`: give it once"),
        );
        return Ok(None);
    }
    seen.push(key.clone());
    Ok(Some(key))
}

/// A flag argument (`read_only`); a value given to it is reported.
pub(crate) fn flag(cx: &Ctxt, meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(syn::Token![=]) {
        let value: syn::Expr = meta.value()?.parse()?;
        let key = key_of(meta);
        cx.error_spanned_by(
            &value,
            format!("`{key}` is a flag and takes no value: write `{key}`"),
        );
    }
    Ok(true)
}

/// The value of `key = value`, or `None` (reported) when the `= value` is missing.
pub(crate) fn value_expr(
    cx: &Ctxt,
    meta: &syn::meta::ParseNestedMeta<'_>,
) -> syn::Result<Option<syn::Expr>> {
    if !meta.input.peek(syn::Token![=]) {
        let key = key_of(meta);
        cx.error_spanned_by(
            &meta.path,
            format!("`{key}` needs a value: write `{key} = ...`"),
        );
        return Ok(None);
    }
    Ok(Some(meta.value()?.parse()?))
}

/// The string literal of `key = "..."`; anything else is reported, with `write` saying
/// what to write instead.
pub(crate) fn string_value(
    cx: &Ctxt,
    meta: &syn::meta::ParseNestedMeta<'_>,
    write: &str,
) -> syn::Result<Option<syn::LitStr>> {
    match value_expr(cx, meta)? {
        Some(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        })) => Ok(Some(lit)),
        Some(other) => {
            let key = key_of(meta);
            cx.error_spanned_by(&other, format!("`{key}` takes a string: write {write}"));
            Ok(None)
        }
        None => Ok(None),
    }
}

/// A duration argument (`wait = "5s"`), parsed at compile time with humantime; anything
/// else is reported, with `example` (`"\"5s\""`) in what to write instead.
pub(crate) fn duration_value(
    cx: &Ctxt,
    meta: &syn::meta::ParseNestedMeta<'_>,
    example: &str,
) -> syn::Result<Option<(syn::LitStr, Duration)>> {
    let key = key_of(meta);
    let Some(lit) = string_value(cx, meta, &format!("`{key} = {example}`"))? else {
        return Ok(None);
    };
    match humantime::parse_duration(&lit.value()) {
        Ok(value) => Ok(Some((lit, value))),
        Err(err) => {
            cx.error_spanned_by(
                &lit,
                format!("`{key}` is not a duration ({err}): write e.g. {example}, \"500ms\" or \"1m 30s\""),
            );
            Ok(None)
        }
    }
}

/// A time to live (`ttl = "15m"`): a duration of at least 1 ms, since Redis expires keys
/// in whole milliseconds.
pub(crate) fn ttl_value(
    cx: &Ctxt,
    meta: &syn::meta::ParseNestedMeta<'_>,
    example: &str,
) -> syn::Result<Option<Duration>> {
    let Some((lit, ttl)) = duration_value(cx, meta, example)? else {
        return Ok(None);
    };
    if ttl < Duration::from_millis(1) {
        cx.error_spanned_by(
            &lit,
            "`ttl` must be at least 1ms: Redis expires keys in whole milliseconds",
        );
        return Ok(None);
    }
    Ok(Some(ttl))
}

/// Consumes the value of an argument that is being rejected.
pub(crate) fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    let _ = meta.path.span();
    Ok(())
}

/// Outer and inner attributes of a function, apart: the outer ones go back on the
/// function, the inner ones (`#![allow(..)]`) to the top of its new body.
pub(crate) fn split_attrs(
    attrs: &[syn::Attribute],
) -> (Vec<&syn::Attribute>, Vec<&syn::Attribute>) {
    attrs
        .iter()
        .partition(|a| matches!(a.style, syn::AttrStyle::Outer))
}
