//! Arguments of `#[cached(key = "..", ttl = "15m", cache = expr)]` and
//! `#[cache_evict(key = "..", cache = expr)]`.

use std::time::Duration;

use proc_macro2::TokenStream;
use syn::parse::Parser as _;

use crate::attr::{first_use, skip_value, string_value, ttl_value, value_expr};
use crate::ctxt::Ctxt;

/// Which attribute the arguments belong to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Cached,
    CacheEvict,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Cached => "#[cached]",
            Self::CacheEvict => "#[cache_evict]",
        }
    }

    fn keys(self) -> &'static str {
        match self {
            Self::Cached => "`key`, `ttl`, `cache`",
            Self::CacheEvict => "`key`, `cache`",
        }
    }
}

pub(crate) struct Args {
    pub(crate) key: Option<syn::LitStr>,
    pub(crate) ttl: Option<Duration>,
    /// Where the cache comes from, when `self` is not the source.
    pub(crate) cache: Option<syn::Expr>,
}

impl Args {
    pub(crate) fn parse(cx: &Ctxt, kind: Kind, tokens: TokenStream) -> Self {
        let mut args = Self {
            key: None,
            ttl: None,
            cache: None,
        };
        let mut seen: Vec<String> = Vec::new();
        let parser = syn::meta::parser(|meta| {
            let Some(key) = first_use(cx, &mut seen, &meta)? else {
                return Ok(());
            };
            match key.as_str() {
                "key" => args.key = string_value(cx, &meta, "`key = \"user:profile:<id>\"`")?,
                "ttl" if kind == Kind::Cached => args.ttl = ttl_value(cx, &meta, "\"15m\"")?,
                "cache" => args.cache = value_expr(cx, &meta)?,
                _ => {
                    skip_value(&meta)?;
                    cx.error_spanned_by(
                        &meta.path,
                        format!(
                            "unknown argument `{key}` for {}; valid arguments are {}",
                            kind.name(),
                            kind.keys()
                        ),
                    );
                }
            }
            Ok(())
        });
        if let Err(err) = parser.parse2(tokens.clone()) {
            cx.syn_error(err);
        } else if args.key.is_none() && !seen.iter().any(|k| k == "key") {
            let message = format!(
                "{} needs a key: write `#[{}(key = \"user:profile:<id>\")]`",
                kind.name(),
                kind.name().trim_start_matches("#[").trim_end_matches(']')
            );
            if tokens.is_empty() {
                cx.syn_error(syn::Error::new(proc_macro2::Span::call_site(), message));
            } else {
                cx.error_spanned_by(tokens, message);
            }
        }
        args
    }
}
