//! `#[transactional]`: the function's body runs inside `Db::transaction_with`.
//!
//! Built like `tracing::instrument`: the signature, generics, `where` clause, `self`
//! and attributes are re-emitted untouched and only the body is rewritten, so `&self`
//! methods, lifetimes and generics just work.

mod args;
mod expand;

use proc_macro2::TokenStream;

/// The attribute as a plain function over token streams, for unit tests.
pub(crate) fn transactional(args: TokenStream, item: TokenStream) -> TokenStream {
    crate::item_fn::rewrite(
        item,
        |cx, function| {
            let args = args::Args::parse(cx, args);
            expand::check_signature(cx, function, &args);
            Some(args)
        },
        |function, args| expand::expand(function, &args),
    )
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::transactional;

    #[test]
    fn wraps_the_body_and_keeps_the_signature() {
        let out = transactional(
            quote!(isolation = "serializable", retries = 5),
            quote! {
                pub async fn assign<'a, T: Clone>(&'a self, ride: i64, driver: T) -> Result<(), MyError> where T: Send {
                    self.do_it(ride).await?;
                    Ok(())
                }
            },
        )
        .to_string();
        assert!(out.contains("pub async fn assign < 'a , T : Clone > (& 'a self , ride : i64 , driver : T) -> Result < () , MyError > where T : Send"), "{out}");
        assert!(out.contains("Isolation :: Serializable"), "{out}");
        assert!(out.contains(". retries (5u32)"), "{out}");
        assert!(out.contains("transaction_with"), "{out}");
    }

    #[test]
    fn reports_every_bad_argument() {
        let out = transactional(
            quote!(isolation = "snapshot", retries = "x", colour = 1),
            quote!(
                async fn f(&self) -> Result<(), E> {
                    Ok(())
                }
            ),
        )
        .to_string();
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        assert!(out.contains("async fn f"), "the item is kept: {out}");
    }
}
