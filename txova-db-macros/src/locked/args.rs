//! Arguments of `#[locked("name:<param>", ttl = "30s", wait = "5s", watchdog = false,
//! locks = expr)]`.

use std::time::Duration;

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser as _};

use crate::attr::{duration_value, first_use, skip_value, ttl_value, value_expr};
use crate::ctxt::Ctxt;

const VALID: &str = "`ttl`, `wait`, `watchdog`, `locks`";

pub(crate) struct Args {
    /// The lock name template, given first.
    pub(crate) name: Option<syn::LitStr>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) wait: Option<Duration>,
    pub(crate) watchdog: Option<bool>,
    /// Where the locks come from, when `self` is not the source.
    pub(crate) locks: Option<syn::Expr>,
}

impl Args {
    pub(crate) fn parse(cx: &Ctxt, tokens: TokenStream) -> Self {
        let mut args = Self {
            name: None,
            ttl: None,
            wait: None,
            watchdog: None,
            locks: None,
        };
        let split = |input: ParseStream<'_>| -> syn::Result<(Option<syn::LitStr>, TokenStream)> {
            let name = if input.peek(syn::LitStr) {
                let name: syn::LitStr = input.parse()?;
                if !input.is_empty() {
                    input.parse::<syn::Token![,]>()?;
                }
                Some(name)
            } else {
                None
            };
            Ok((name, input.parse()?))
        };
        let (name, rest) = match split.parse2(tokens.clone()) {
            Ok(parts) => parts,
            Err(err) => {
                cx.syn_error(err);
                return args;
            }
        };
        args.name = name;
        let mut seen: Vec<String> = Vec::new();
        let parser = syn::meta::parser(|meta| {
            let Some(key) = first_use(cx, &mut seen, &meta)? else {
                return Ok(());
            };
            match key.as_str() {
                "ttl" => args.ttl = ttl_value(cx, &meta, "\"30s\"")?,
                "wait" => {
                    args.wait = duration_value(cx, &meta, "\"5s\"")?.map(|(_, wait)| wait);
                }
                "watchdog" => match value_expr(cx, &meta)? {
                    Some(syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Bool(on),
                        ..
                    })) => args.watchdog = Some(on.value),
                    Some(other) => cx.error_spanned_by(
                        &other,
                        "`watchdog` takes `true` or `false`: write `watchdog = false` to let the lock expire after its `ttl`",
                    ),
                    None => {}
                },
                "locks" => args.locks = value_expr(cx, &meta)?,
                "key" | "name" => {
                    skip_value(&meta)?;
                    cx.error_spanned_by(
                        &meta.path,
                        "the lock name comes first, without a key: write `#[locked(\"ride:assign:<id>\")]`",
                    );
                }
                _ => {
                    skip_value(&meta)?;
                    cx.error_spanned_by(
                        &meta.path,
                        format!("unknown argument `{key}` for #[locked]; valid arguments are {VALID}"),
                    );
                }
            }
            Ok(())
        });
        if let Err(err) = parser.parse2(rest) {
            cx.syn_error(err);
        } else if args.name.is_none() && !seen.iter().any(|k| k == "key" || k == "name") {
            let message =
                "#[locked] needs a lock name first: write `#[locked(\"ride:assign:<id>\")]`";
            if tokens.is_empty() {
                cx.syn_error(syn::Error::new(proc_macro2::Span::call_site(), message));
            } else {
                cx.error_spanned_by(tokens, message);
            }
        }
        args
    }
}
