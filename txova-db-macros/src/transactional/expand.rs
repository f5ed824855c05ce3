//! The rewritten function: same signature, body inside `transaction_with`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;

use super::args::Args;
use crate::ctxt::Ctxt;
use crate::item_fn::{self, SignatureRules};

pub(crate) fn check_signature(cx: &Ctxt, function: &syn::ItemFn, args: &Args) {
    let rules = SignatureRules {
        not_async: "#[transactional] needs an `async fn`: the transaction is awaited around the body".into(),
        returns_nothing: Some("#[transactional] functions return `Result<T, E>` with `E: From<txova_db::Error>`, so a failed COMMIT can be reported".into()),
        free_without_source: args.db.is_none().then(|| "a free function must say which database to use: `#[transactional(db = <parameter>)]` (methods take it from `self` through `txova_db::UsesDb`)".into()),
    };
    item_fn::check_signature(cx, function, rules);
}

pub(crate) fn expand(function: &syn::ItemFn, args: &Args) -> TokenStream {
    let syn::ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = function;
    let (outer, inner) = crate::attr::split_attrs(attrs);
    let db = match &args.db {
        Some(expr) => quote_spanned! {expr.span()=>
            ::txova_db::__private::db_of(&#expr)
        },
        None => quote! {
            ::txova_db::__private::UsesDb::db(self)
        },
    };
    let mut options = quote!(::txova_db::__private::TxOptions::new());
    if let Some((isolation, span)) = args.isolation {
        let variant = syn::Ident::new(isolation, span);
        options = quote!(#options.isolation(::txova_db::__private::Isolation::#variant));
    }
    if args.read_only {
        options = quote!(#options.read_only());
    }
    if let Some(retries) = args.retries {
        options = quote!(#options.retries(#retries));
    }
    if args.savepoint {
        options = quote!(#options.savepoint());
    }
    let body = crate::body::pinned_async_body(sig, block, false);
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            let __txova_db: &::txova_db::__private::Db = #db;
            __txova_db
                .transaction_with(#options, |_: ::txova_db::__private::Tx| #body)
                .await
        }
    }
}
