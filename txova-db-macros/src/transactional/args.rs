//! `#[transactional(isolation = "serializable", read_only, retries = 5, savepoint, db = expr)]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser as _;

use crate::attr::{first_use, flag, skip_value, string_value, value_expr};
use crate::ctxt::Ctxt;

const KEYS: &str = "`isolation`, `read_only`, `retries`, `savepoint`, `db`";
const ISOLATIONS: &str = "\"read_committed\", \"repeatable_read\" or \"serializable\"";

#[derive(Default)]
pub(crate) struct Args {
    pub(crate) isolation: Option<(&'static str, Span)>,
    pub(crate) read_only: bool,
    pub(crate) retries: Option<u32>,
    pub(crate) savepoint: bool,
    /// Where the `Db` comes from, when `self` is not the source.
    pub(crate) db: Option<syn::Expr>,
}

impl Args {
    pub(crate) fn parse(cx: &Ctxt, tokens: TokenStream) -> Self {
        let mut args = Self::default();
        let mut seen: Vec<String> = Vec::new();
        let parser = syn::meta::parser(|meta| {
            let Some(key) = first_use(cx, &mut seen, &meta)? else {
                return Ok(());
            };
            match key.as_str() {
                "isolation" => {
                    if let Some(lit) = string_value(cx, &meta, ISOLATIONS)? {
                        match lit.value().as_str() {
                            "read_committed" => {
                                args.isolation = Some(("ReadCommitted", lit.span()))
                            }
                            "repeatable_read" => {
                                args.isolation = Some(("RepeatableRead", lit.span()))
                            }
                            "serializable" => args.isolation = Some(("Serializable", lit.span())),
                            other => cx.error_spanned_by(
                                &lit,
                                format!("unknown isolation level \"{other}\"; write {ISOLATIONS}"),
                            ),
                        }
                    }
                }
                "retries" => {
                    let value = value_expr(cx, &meta)?;
                    match &value {
                        Some(syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Int(int),
                            ..
                        })) => match int.base10_parse::<u32>() {
                            Ok(n) if n <= 100 => args.retries = Some(n),
                            _ => cx.error_spanned_by(
                                int,
                                "`retries` takes a whole number from 0 to 100",
                            ),
                        },
                        Some(other) => cx.error_spanned_by(
                            other,
                            "`retries` takes a whole number from 0 to 100, e.g. `retries = 5`",
                        ),
                        None => {}
                    }
                }
                "read_only" => args.read_only = flag(cx, &meta)?,
                "savepoint" => args.savepoint = flag(cx, &meta)?,
                "db" => args.db = value_expr(cx, &meta)?,
                _ => {
                    skip_value(&meta)?;
                    cx.error_spanned_by(
                        &meta.path,
                        format!("unknown argument `{key}`; valid arguments are {KEYS}"),
                    );
                }
            }
            Ok(())
        });
        if let Err(err) = parser.parse2(tokens) {
            cx.syn_error(err);
        }
        args
    }
}
