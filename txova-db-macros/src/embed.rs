//! `embed_migrations!("migrations")`: the directory's `.sql` files compiled into the
//! binary, checked for well-formed names at compile time.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ctxt::Ctxt;

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
    let cx = Ctxt::new();
    for (name, _) in &files {
        if !well_formed(name) {
            cx.syn_error(syn::Error::new(
                lit.span(),
                format!("`{name}` is not a migration file name (expected NNNN_description.up.sql or .down.sql, NNNN a number up to {})", i64::MAX),
            ));
        }
    }
    if let Err(err) = cx.check() {
        return err.into_compile_error();
    }
    let pairs = files.iter().map(|(name, path)| {
        let path = path.to_string_lossy();
        quote!((#name, ::core::include_str!(#path)))
    });
    quote! {
        ::txova_db::Migrator::from_files([#(#pairs),*])
    }
}

fn well_formed(name: &str) -> bool {
    let Some(stem) = name
        .strip_suffix(".up.sql")
        .or_else(|| name.strip_suffix(".down.sql"))
    else {
        return false;
    };
    match stem.split_once('_') {
        // The same rule as the runtime's `migrate::source` (versions are i64 there), so
        // a name accepted here is accepted when the migrator reads it.
        Some((number, description)) => {
            !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
                && number.parse::<i64>().is_ok()
                && !description.is_empty()
        }
        None => false,
    }
}
