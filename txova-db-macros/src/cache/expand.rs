//! The rewritten functions: same signature; the body runs inside
//! `Cache::get_or_set` (`#[cached]`) or before an eviction (`#[cache_evict]`).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;

use super::args::{Args, Kind};
use crate::ctxt::Ctxt;
use crate::item_fn::{self, SignatureRules};
use crate::key_template::Template;

pub(crate) fn check_signature(cx: &Ctxt, kind: Kind, function: &syn::ItemFn, args: &Args) {
    let rules = SignatureRules {
        not_async: format!(
            "{} needs an `async fn`: the cache is read and written around the awaited body",
            kind.name()
        ),
        returns_nothing: (kind == Kind::Cached).then(|| "#[cached] stores the function's `Ok` or `Some` value: return `Result<T, E>` or `Option<T>`".into()),
        free_without_source: args.cache.is_none().then(|| format!(
            "a free function must say which cache to use: `{}(key = .., cache = <expr>)]` (methods take it from `self` through `txova_db::cache::UsesCache`)",
            kind.name().trim_end_matches(']')
        )),
    };
    item_fn::check_signature(cx, function, rules);
}

/// The cache, owned (an `Arc` clone), so the body may move `self`.
fn cache_source(args: &Args) -> TokenStream {
    match &args.cache {
        Some(expr) => quote_spanned! {expr.span()=>
            ::txova_db::__private::cache_of(&#expr)
        },
        None => quote! {
            ::txova_db::__private::cache_of(&self)
        },
    }
}

pub(crate) fn expand(
    kind: Kind,
    function: &syn::ItemFn,
    args: &Args,
    key: &Template,
) -> TokenStream {
    let syn::ItemFn {
        attrs, vis, sig, ..
    } = function;
    let (outer, inner) = crate::attr::split_attrs(attrs);
    let cache = cache_source(args);
    let key = key.expand();
    let body = crate::body::pinned_async_body(sig, &function.block, true);
    let return_type = crate::body::return_type(sig);
    // The return type itself (not `->`): where a type that cannot be cached, or that
    // says nothing of success, is reported.
    let output_span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => sig.ident.span(),
    };
    let run = match kind {
        Kind::Cached => {
            let ttl = match args.ttl {
                Some(ttl) => {
                    let (secs, nanos) = (ttl.as_secs(), ttl.subsec_nanos());
                    quote!(::core::option::Option::Some(::core::time::Duration::new(#secs, #nanos)))
                }
                None => quote!(::core::option::Option::None),
            };
            // The call carries the return type's span: a type that cannot be cached
            // is reported once, on it.
            quote_spanned! {output_span=>
                ::txova_db::__private::Cache::get_or_set::<#return_type, _, _>(
                    &__txova_cache,
                    &__txova_key,
                    #ttl,
                    move || #body,
                )
                .await
            }
        }
        Kind::CacheEvict => {
            let succeeded = quote_spanned! {output_span=>
                ::txova_db::__private::EvictOutput::succeeded(&__txova_result)
            };
            quote! {
                let __txova_result: #return_type = #body.await;
                if #succeeded {
                    __txova_cache.evict(::std::vec![__txova_key]).await;
                }
                __txova_result
            }
        }
    };
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            let __txova_cache: ::txova_db::__private::Cache = #cache;
            let __txova_key: ::std::string::String = #key;
            #run
        }
    }
}
