//! The rewritten function: same signature; the body runs inside
//! `Locks::run_locked`, which takes the lock, runs it and releases the lock.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;

use super::args::Args;
use crate::ctxt::Ctxt;
use crate::item_fn::{self, SignatureRules};
use crate::key_template::Template;

pub(crate) fn check_signature(cx: &Ctxt, function: &syn::ItemFn, args: &Args) {
    let rules = SignatureRules {
        not_async: "#[locked] needs an `async fn`: the lock is held while the body is awaited".into(),
        returns_nothing: Some("#[locked] functions return `Result<T, E>` with `E: From<txova_db::Error>`, so a lock that cannot be taken can be reported".into()),
        free_without_source: args.locks.is_none().then(|| "a free function must say which locks to use: `#[locked(\"..\", locks = <expr>)]` (methods take them from `self` through `txova_db::lock::UsesLocks`)".into()),
    };
    item_fn::check_signature(cx, function, rules);
}

fn duration(value: std::time::Duration) -> TokenStream {
    let (secs, nanos) = (value.as_secs(), value.subsec_nanos());
    quote!(::core::time::Duration::new(#secs, #nanos))
}

pub(crate) fn expand(function: &syn::ItemFn, args: &Args, name: &Template) -> TokenStream {
    let syn::ItemFn {
        attrs, vis, sig, ..
    } = function;
    let (outer, inner) = crate::attr::split_attrs(attrs);
    let locks = match &args.locks {
        Some(expr) => quote_spanned! {expr.span()=> ::txova_db::__private::locks_of(&#expr) },
        None => quote! { ::txova_db::__private::locks_of(&self) },
    };
    let mut options = quote!(::txova_db::__private::LockOptions::new());
    if let Some(ttl) = args.ttl {
        let ttl = duration(ttl);
        options = quote!(#options.ttl(#ttl));
    }
    if let Some(wait) = args.wait {
        let wait = duration(wait);
        options = quote!(#options.wait(#wait));
    }
    if let Some(on) = args.watchdog {
        options = quote!(#options.watchdog(#on));
    }
    let key = name.expand();
    let body = crate::body::pinned_async_body(sig, &function.block, true);
    let output_span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => sig.ident.span(),
    };
    // Spanned at the return type: a type that is not `Result<T, E: From<Error>>` is
    // reported there.
    let run = quote_spanned! {output_span=>
        ::txova_db::__private::Locks::run_locked(&__txova_locks, &__txova_name, #options, move || #body)
            .await
    };
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            let __txova_locks: ::txova_db::__private::Locks = #locks;
            let __txova_name: ::std::string::String = #key;
            #run
        }
    }
}
