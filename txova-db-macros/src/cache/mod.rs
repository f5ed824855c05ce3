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
    crate::item_fn::rewrite(
        item,
        |cx, function| {
            let args = args::Args::parse(cx, kind, args);
            expand::check_signature(cx, kind, function, &args);
            let key = args.key.clone()?;
            let params = crate::key_template::parameter_names(&function.sig);
            let template = crate::key_template::Template::parse(
                cx,
                key,
                &params,
                &function.sig.ident.to_string(),
                &CACHE_KEY,
            )?;
            Some((args, template))
        },
        |function, (args, template)| expand::expand(kind, function, &args, &template),
    )
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
