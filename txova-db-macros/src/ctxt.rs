//! An error collector in the manner of serde_derive's `Ctxt`: every problem is kept
//! with its span, and all are reported together. Dropping it unchecked is a bug in
//! this crate, so it panics.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

pub(crate) struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// An error pointing at `tokens`.
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    pub(crate) fn syn_error(&self, err: syn::Error) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(err);
        }
    }

    /// All errors combined into one, or `Ok` if there were none.
    pub(crate) fn check(self) -> Result<(), syn::Error> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut combined: Option<syn::Error> = None;
        for err in errors {
            match &mut combined {
                Some(all) => all.combine(err),
                None => combined = Some(err),
            }
        }
        combined.map_or(Ok(()), Err)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("txova-db-macros: Ctxt dropped without check()");
        }
    }
}
