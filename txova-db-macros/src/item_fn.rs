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
