//! `#[derive(Table)]`: parse → validate → expand.

mod ast;
mod expand;
mod rust_type;
mod schema_check;
mod sources;
mod valid;

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;

pub(crate) use ast::snake_case;

/// The derive as a plain function over token streams, so it can be unit-tested.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(err) => return err.into_compile_error(),
    };
    let cx = Ctxt::new();
    valid::reject_generics(&cx, &input);
    let container =
        ast::Container::from_ast(&cx, &input).filter(|_| input.generics.params.is_empty());
    let mut tracked = Vec::new();
    if let Some(container) = &container {
        valid::check(&cx, container);
        for source in sources::sources(&cx, container) {
            schema_check::check(&cx, container, &source);
            tracked.extend(sources::not_yet_tracked(source.files));
        }
    }
    // With a usable struct, the expansion is emitted even beside errors: the user then
    // sees the attribute mistakes only, not every use of `User::select()` failing too.
    let mut expanded = container.as_ref().map(expand::expand).unwrap_or_default();
    // Editing a migration the struct was checked against rebuilds the crate.
    for file in tracked {
        let file = file.to_string_lossy();
        expanded.extend(quote::quote! {
            const _: &[u8] = ::core::include_bytes!(#file);
        });
    }
    match cx.check() {
        Ok(()) => expanded,
        Err(err) => {
            let errors = err.into_compile_error();
            quote::quote! { #errors #expanded }
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::derive;

    fn expand(input: proc_macro2::TokenStream) -> String {
        derive(input).to_string()
    }

    #[test]
    fn expands_table_impl_columns_and_key() {
        let out = expand(quote! {
            #[table(name = "users")]
            pub struct User {
                #[column(primary_key, generated)]
                pub id: i64,
                #[column(name = "email_address")]
                pub email: String,
            }
        });
        assert!(
            out.contains("impl :: txova_db :: __private :: Table for User"),
            "{out}"
        );
        assert!(
            out.contains("const NAME : & 'static str = \"users\""),
            "{out}"
        );
        assert!(out.contains("\"email_address\""), "{out}");
        assert!(
            out.contains("impl :: txova_db :: __private :: PrimaryKey for User"),
            "{out}"
        );
        assert!(out.contains("pub const email"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn collects_every_attribute_error() {
        let out = expand(quote! {
            #[table(name = "users", schema = "x")]
            struct User {
                #[column(primary, name = 5)]
                id: i64,
                #[column(skip, sortable)]
                cache: String,
            }
        });
        assert_eq!(out.matches("compile_error").count(), 4, "{out}");
        assert!(out.contains("unknown `table` key `schema`"), "{out}");
        assert!(out.contains("unknown `column` key `primary`"), "{out}");
    }

    #[test]
    fn default_table_name_is_snake_case() {
        let out = expand(quote! {
            struct RideEvent { #[column(primary_key)] id: i64 }
        });
        assert!(out.contains("\"ride_event\""), "{out}");
    }

    #[test]
    fn sortable_fields_make_a_sort_enum() {
        let out = expand(quote! {
            struct User { #[column(primary_key)] id: i64, #[column(sortable)] created_at: i64 }
        });
        assert!(out.contains("enum UserSort"), "{out}");
        assert!(out.contains("CreatedAtDesc"), "{out}");
        assert!(out.contains("\"-created_at\""), "{out}");
    }

    #[test]
    fn rejects_enums_and_tuple_structs() {
        assert!(expand(quote! { enum E { A } }).contains("compile_error"));
        assert!(expand(quote! { struct T(i64); }).contains("compile_error"));
    }
}
