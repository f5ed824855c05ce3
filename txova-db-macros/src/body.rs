//! The rewritten body shared by the attribute macros: the function's block as an async
//! block whose output is pinned to the declared return type.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;

/// The declared return type, `()` when there is none.
pub(crate) fn return_type(sig: &syn::Signature) -> TokenStream {
    match &sig.output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    }
}

/// `async { block }` (or `async move`), with a fake return that pins the block's output
/// to the declared return type, so `?` and `return` inside the body convert as they
/// would in the plain function; spanned at the return type so a mismatch points there.
pub(crate) fn pinned_async_body(
    sig: &syn::Signature,
    block: &syn::Block,
    by_move: bool,
) -> TokenStream {
    let return_type = return_type(sig);
    let capture = by_move.then(|| quote!(move));
    quote_spanned! {sig.output.span()=>
        async #capture {
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
    }
}
