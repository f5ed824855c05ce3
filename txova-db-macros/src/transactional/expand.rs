//! The rewritten function: same signature, body inside `transaction_with`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;

use super::args::Args;
use crate::ctxt::Ctxt;

pub(crate) fn check_signature(cx: &Ctxt, function: &syn::ItemFn, args: &Args) {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            "#[transactional] needs an `async fn`: the transaction is awaited around the body",
        );
    }
    if matches!(sig.output, syn::ReturnType::Default) {
        cx.error_spanned_by(
            &sig.ident,
            "#[transactional] functions return `Result<T, E>` with `E: From<txova_db::Error>`, so a failed COMMIT can be reported",
        );
    }
    let has_self = sig
        .inputs
        .iter()
        .any(|input| matches!(input, syn::FnArg::Receiver(_)));
    if !has_self && args.db.is_none() {
        cx.error_spanned_by(
            &sig.ident,
            "a free function must say which database to use: `#[transactional(db = <parameter>)]` (methods take it from `self` through `txova_db::UsesDb`)",
        );
    }
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
    let return_type = match &sig.output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    };
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
    let output_span = sig.output.span();
    // The fake return pins the async block's output to the declared return type, so
    // `?` and `return` inside the body convert as they would in the plain function.
    let body = quote_spanned! {output_span=>
        async {
            #[allow(
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::empty_loop,
                clippy::let_unit_value,
                clippy::needless_return
            )]
            if false {
                let __txova_fake_return: #return_type = loop {};
                return __txova_fake_return;
            }
            #block
        }
    };
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
