//! The frame every function attribute shares: parse the function, collect every
//! problem the arguments and signature have, then expand — or report the problems and
//! keep the function as written, so the IDE keeps working.

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;

/// Parses `item` as a function, runs `validate` (which reports into the `Ctxt` and
/// returns what `expand` needs, or `None` when there is nothing to expand), and calls
/// `expand` only if no problem was reported.
pub(crate) fn rewrite<P>(
    item: TokenStream,
    validate: impl FnOnce(&Ctxt, &syn::ItemFn) -> Option<P>,
    expand: impl FnOnce(&syn::ItemFn, P) -> TokenStream,
) -> TokenStream {
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        // The parse error says what is wrong.
        Err(err) => {
            let err = err.into_compile_error();
            return quote::quote! { #err #item };
        }
    };
    let cx = Ctxt::new();
    let plan = validate(&cx, &function);
    match (cx.check(), plan) {
        (Ok(()), Some(plan)) => expand(&function, plan),
        (Err(err), _) => {
            let err = err.into_compile_error();
            quote::quote! { #err #function }
        }
        // A missing required argument, already reported.
        (Ok(()), None) => quote::quote! { #function },
    }
}

/// What a function attribute asks of the signature it wraps; each message says what to
/// write instead.
pub(crate) struct SignatureRules {
    /// Reported on the `fn` token of a function that is not `async`.
    pub(crate) not_async: String,
    /// Reported on the name of a function that returns nothing, when it must return.
    pub(crate) returns_nothing: Option<String>,
    /// Reported on the name of a function without `self` when the attribute was not
    /// told where its database, cache or locks come from; `None` when it was.
    pub(crate) free_without_source: Option<String>,
}

/// Checks `function`'s signature against `rules`, reporting every breach.
pub(crate) fn check_signature(cx: &Ctxt, function: &syn::ItemFn, rules: SignatureRules) {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(sig.fn_token, rules.not_async);
    }
    if let Some(message) = rules.returns_nothing
        && matches!(sig.output, syn::ReturnType::Default)
    {
        cx.error_spanned_by(&sig.ident, message);
    }
    let has_self = sig
        .inputs
        .iter()
        .any(|input| matches!(input, syn::FnArg::Receiver(_)));
    if let Some(message) = rules.free_without_source
        && !has_self
    {
        cx.error_spanned_by(&sig.ident, message);
    }
}
