//! `#[locked("ride:assign:<id>", ttl = "30s", wait = "5s")]`: parse the name template
//! and the arguments, check the signature, run the body under the lock.

mod args;
mod expand;

use proc_macro2::TokenStream;

use crate::key_template::{KeyRules, Template, parameter_names};

const LOCK_NAME: KeyRules = KeyRules {
    what: "lock name",
    example: "#[locked(\"ride:assign:<id>\")]",
    forbid_braces: true,
};

/// The attribute as a plain function over token streams, for unit tests.
pub(crate) fn attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    crate::item_fn::rewrite(
        item,
        |cx, function| {
            let args = args::Args::parse(cx, args);
            expand::check_signature(cx, function, &args);
            let name = args.name.clone()?;
            let params = parameter_names(&function.sig);
            let template = Template::parse(
                cx,
                name,
                &params,
                &function.sig.ident.to_string(),
                &LOCK_NAME,
            )?;
            Some((args, template))
        },
        |function, (args, template)| expand::expand(function, &args, &template),
    )
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::attribute;

    #[test]
    fn runs_the_body_under_the_named_lock() {
        let out = attribute(
            quote!(
                "ride:assign:<ride.id>",
                ttl = "10s",
                wait = "250ms",
                watchdog = false
            ),
            quote! {
                async fn assign(&self, ride: &Ride) -> Result<(), Error> {
                    Ok(())
                }
            },
        )
        .to_string();
        assert!(out.contains("push_literal (\"ride:assign:\")"), "{out}");
        assert!(out.contains("push_part (& (ride . id))"), "{out}");
        assert!(out.contains("Duration :: new (10u64 , 0u32)"), "{out}");
        assert!(
            out.contains("Duration :: new (0u64 , 250000000u32)"),
            "{out}"
        );
        assert!(out.contains(". watchdog (false)"), "{out}");
        assert!(out.contains("run_locked"), "{out}");
    }

    #[test]
    fn reports_every_problem_and_keeps_the_item() {
        let out = attribute(
            quote!("job:{<id>}", ttl = "0s", wait = "later", colour = 1),
            quote!(
                fn f(id: i64) -> Result<(), E> {
                    Ok(())
                }
            ),
        )
        .to_string();
        // braces, ttl, wait, colour, not async, free function without `locks`.
        assert_eq!(out.matches("compile_error").count(), 6, "{out}");
        assert!(out.contains("fn f"), "the item is kept: {out}");
    }
}
