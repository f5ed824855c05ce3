//! `alias!`'s SQL name: the alias type's name in snake case.

use proc_macro2::TokenStream;
use quote::quote;

use crate::table::snake_case;

/// `__alias_name!(PreviousRide)` → `"previous_ride"`.
pub(crate) fn alias_name(input: TokenStream) -> TokenStream {
    match syn::parse2::<syn::Ident>(input) {
        Ok(ident) => {
            let name = snake_case(&ident.to_string());
            quote!(#name)
        }
        Err(err) => err.to_compile_error(),
    }
}
