//! Key templates of `#[cached]`, `#[cache_evict]` and `#[locked]`:
//! `"user:profile:<id>"` → fixed text and placeholders naming parameters or their
//! fields, checked against the function's parameters.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::ctxt::Ctxt;

/// What a template names, for the messages, and what its fixed text may hold.
pub(crate) struct KeyRules {
    /// "cache key", "lock name".
    pub(crate) what: &'static str,
    /// How to write one: `key = "user:profile:<id>"`.
    pub(crate) example: &'static str,
    /// Whether `{` and `}` are refused (a lock name becomes a cluster hash tag).
    pub(crate) forbid_braces: bool,
}

/// A parsed key template.
pub(crate) struct Template {
    pub(crate) lit: syn::LitStr,
    segments: Vec<Segment>,
}

enum Segment {
    Text(String),
    /// `<req.user_id>`: the parameter, then field names or tuple indices.
    Placeholder(Vec<String>),
}

impl Template {
    /// Parses and checks `lit` against `params` (the function's parameter names,
    /// `self` included for methods); every problem is reported on the literal.
    pub(crate) fn parse(
        cx: &Ctxt,
        lit: syn::LitStr,
        params: &[String],
        function: &str,
        rules: &KeyRules,
    ) -> Option<Self> {
        let what = rules.what;
        let text = lit.value();
        if text.is_empty() {
            cx.error_spanned_by(
                &lit,
                format!("the {what} cannot be empty: write e.g. `{}`", rules.example),
            );
            return None;
        }
        let mut segments = Vec::new();
        let mut ok = true;
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let next = rest.find(['<', '>']).unwrap_or(rest.len());
            let (fixed, tail) = rest.split_at(next);
            if !fixed.is_empty() {
                if let Some(bad) = fixed.chars().find(|&c| unsafe_text_char(c)) {
                    cx.error_spanned_by(
                        &lit,
                        format!(
                            "the fixed text of a {what} cannot contain {}: it would make `delete_pattern` globs match other keys; put user-supplied values in `<placeholders>`, which are escaped",
                            describe(bad)
                        ),
                    );
                    ok = false;
                } else if rules.forbid_braces && fixed.contains(['{', '}']) && ok {
                    cx.error_spanned_by(
                        &lit,
                        format!(
                            "the fixed text of a {what} cannot contain `{{` or `}}`: the name is wrapped in a Redis Cluster hash tag (`lock:{{name}}`); write it without braces"
                        ),
                    );
                    ok = false;
                }
                segments.push(Segment::Text(fixed.to_owned()));
            }
            if tail.is_empty() {
                break;
            }
            if tail.starts_with('>') {
                cx.error_spanned_by(&lit, format!("`>` without a matching `<` in the {what}: placeholders are written `<name>`"));
                return None;
            }
            let Some(close) = tail.find('>') else {
                cx.error_spanned_by(
                    &lit,
                    format!("unclosed placeholder `{tail}` in the {what}: write `<name>`"),
                );
                return None;
            };
            let inner = &tail[1..close];
            rest = &tail[close + 1..];
            match placeholder(inner) {
                None => {
                    cx.error_spanned_by(
                        &lit,
                        format!("`<{inner}>` is not a placeholder: write `<parameter>` or `<parameter.field>`"),
                    );
                    ok = false;
                }
                Some(path) if !params.contains(&path[0]) => {
                    let known = if params.is_empty() {
                        format!("`{function}` has no parameters")
                    } else {
                        format!(
                            "its parameters are {}",
                            params
                                .iter()
                                .map(|p| format!("`{p}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    cx.error_spanned_by(
                        &lit,
                        format!("`<{inner}>` names no parameter of `{function}`; {known}"),
                    );
                    ok = false;
                }
                Some(path) => segments.push(Segment::Placeholder(path)),
            }
        }
        ok.then_some(Self { lit, segments })
    }

    /// An expression building the key as a `String`. Placeholder expressions carry the
    /// literal's span, so a missing field or a value that is not `Display` is reported
    /// on the key.
    pub(crate) fn expand(&self) -> TokenStream {
        let span = self.lit.span();
        let capacity = self.lit.value().len() + 16;
        let pushes = self.segments.iter().map(|segment| match segment {
            Segment::Text(text) => quote!(__txova_key.push_literal(#text);),
            Segment::Placeholder(path) => {
                let expr = path_expr(path, span);
                quote_spanned!(span=> __txova_key.push_part(&#expr);)
            }
        });
        quote! {{
            let mut __txova_key = ::txova_db::__private::CacheKey::with_capacity(#capacity);
            #(#pushes)*
            __txova_key.finish()
        }}
    }
}

/// `req.user_id` → `["req", "user_id"]`; `None` unless every part is an identifier
/// (the first) or an identifier or tuple index (the rest).
fn placeholder(inner: &str) -> Option<Vec<String>> {
    let parts: Vec<String> = inner.split('.').map(str::to_owned).collect();
    let ident = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && chars.all(|c| c.is_alphanumeric() || c == '_')
            && s != "_"
    };
    let index = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let first_ok = parts.first().is_some_and(|p| ident(p));
    let rest_ok = parts.iter().skip(1).all(|p| ident(p) || index(p));
    (first_ok && rest_ok).then_some(parts)
}

fn path_expr(path: &[String], span: Span) -> TokenStream {
    let mut tokens = match path[0].as_str() {
        "self" => quote_spanned!(span=> self),
        name => {
            let ident = syn::Ident::new(name, span);
            quote!(#ident)
        }
    };
    for part in &path[1..] {
        if let Ok(index) = part.parse::<u32>() {
            let index = syn::Index { index, span };
            tokens = quote_spanned!(span=> #tokens.#index);
        } else {
            let ident = syn::Ident::new(part, span);
            tokens = quote_spanned!(span=> #tokens.#ident);
        }
    }
    quote_spanned!(span=> (#tokens))
}

/// Characters the fixed text of a key may not hold: glob characters and whitespace.
fn unsafe_text_char(c: char) -> bool {
    matches!(c, '*' | '?' | '[' | ']' | '\\') || c.is_whitespace() || c.is_control()
}

fn describe(c: char) -> String {
    if c.is_whitespace() || c.is_control() {
        format!("whitespace or control characters ({c:?})")
    } else {
        format!("`{c}`")
    }
}

/// The names a key template may refer to: `self` for methods, and every parameter
/// bound to a plain identifier.
pub(crate) fn parameter_names(sig: &syn::Signature) -> Vec<String> {
    sig.inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Receiver(_) => Some("self".to_owned()),
            syn::FnArg::Typed(typed) => match &*typed.pat {
                syn::Pat::Ident(ident) => Some(ident.ident.to_string()),
                _ => None,
            },
        })
        .collect()
}
