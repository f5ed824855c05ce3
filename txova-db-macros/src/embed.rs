//! `embed_migrations!("migrations")`: the directory's `.sql` files compiled into the
//! binary, their names checked at compile time.
//!
//! The name rule is the runtime's (`migrate::source::parse_file_name`, a `const fn`):
//! the expansion asks it about each file in a constant, so a name it refuses fails the
//! build, and the rule is written once.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

pub(crate) fn embed_migrations(input: TokenStream) -> TokenStream {
    let lit: syn::LitStr = match syn::parse2(input) {
        Ok(lit) => lit,
        Err(err) => {
            return syn::Error::new(
                err.span(),
                "embed_migrations! takes the directory as a string: embed_migrations!(\"migrations\")",
            )
            .into_compile_error();
        }
    };
    let base = std::env::var("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let dir = base.join(lit.value());
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) => {
            return syn::Error::new(
                lit.span(),
                format!("cannot read migrations directory {}: {err}", dir.display()),
            )
            .into_compile_error();
        }
    };
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "sql"))
        .filter_map(|p| Some((p.file_name()?.to_str()?.to_owned(), p)))
        .collect();
    files.sort();
    let span = lit.span();
    let checks = files.iter().map(|(name, _)| {
        let refused = format!(
            "`{name}` is not a migration file name (expected NNNN_description.up.sql or .down.sql, NNNN a number up to {})",
            i64::MAX
        );
        quote_spanned! {span=>
            const _: () = ::core::assert!(
                ::txova_db::__private::is_migration_file_name(#name),
                #refused
            );
        }
    });
    let pairs = files.iter().map(|(name, path)| {
        let path = path.to_string_lossy();
        quote!((#name, ::core::include_str!(#path)))
    });
    quote! {
        {
            #(#checks)*
            ::txova_db::Migrator::from_files([#(#pairs),*])
        }
    }
}
