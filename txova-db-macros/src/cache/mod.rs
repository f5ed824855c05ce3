//! `#[cached]` and `#[cache_evict]`: parse the arguments and the key template, check
//! the signature, rewrite only the body (as `tracing::instrument` does).

mod args;
mod expand;

use proc_macro2::TokenStream;

pub(crate) use args::Kind;

const CACHE_KEY: crate::key_template::KeyRules = crate::key_template::KeyRules {
    what: "cache key",
    example: "key = \"user:profile:<id>\"",
    forbid_braces: false,
};

/// Either attribute as a plain function over token streams, for unit tests.
pub(crate) fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        // Keep the item so the IDE keeps working; the parse error says what is wrong.
        Err(err) => {
            let err = err.into_compile_error();
            return quote::quote! { #err #item };
        }
    };
    let cx = crate::ctxt::Ctxt::new();
    let args = args::Args::parse(&cx, kind, args);
    expand::check_signature(&cx, kind, &function, &args);
    let template = args.key.clone().and_then(|lit| {
        let params = crate::key_template::parameter_names(&function.sig);
        crate::key_template::Template::parse(
            &cx,
            lit,
            &params,
            &function.sig.ident.to_string(),
            &CACHE_KEY,
        )
    });
    match (cx.check(), template) {
        (Ok(()), Some(template)) => expand::expand(kind, &function, &args, &template),
        (Err(err), _) => {
            let err = err.into_compile_error();
            quote::quote! { #err #function }
        }
        // Without a key, `Args::parse` has reported it.
        (Ok(()), None) => quote::quote! { #function },
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::{Kind, attribute};

    #[test]
    fn builds_the_key_from_parameters_and_fields() {
        let out = attribute(
            Kind::Cached,
            quote!(key = "user:profile:<id>:<req.page>", ttl = "90s"),
            quote! {
                pub async fn profile(&self, id: i64, req: Req) -> Result<Profile, Error> {
                    Ok(load(id).await?)
                }
            },
        )
        .to_string();
        assert!(out.contains("push_literal (\"user:profile:\")"), "{out}");
        assert!(out.contains("push_part (& (id))"), "{out}");
        assert!(out.contains("push_part (& (req . page))"), "{out}");
        assert!(out.contains("Duration :: new (90u64 , 0u32)"), "{out}");
        assert!(
            out.contains(
                "pub async fn profile (& self , id : i64 , req : Req) -> Result < Profile , Error >"
            ),
            "{out}"
        );
    }

    #[test]
    fn reports_every_problem_and_keeps_the_item() {
        let out = attribute(
            Kind::Cached,
            quote!(key = "user:<nope>", ttl = "soon", colour = 1),
            quote!(
                fn f(&self) -> Option<i64> {
                    None
                }
            ),
        )
        .to_string();
        assert_eq!(out.matches("compile_error").count(), 4, "{out}");
        assert!(out.contains("fn f"), "the item is kept: {out}");
    }
}
