//! Rendered SQL of the repository helpers (`find`, `get`, `delete_by_id`), kept per
//! table and backend: their text never changes, so it is written once per process.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use crate::error::Backend;

/// Which helper a statement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Helper {
    FindByKey,
    DeleteByKey,
}

type Key = (TypeId, Helper, Backend);

fn cache() -> &'static RwLock<HashMap<Key, &'static str>> {
    static CACHE: OnceLock<RwLock<HashMap<Key, &'static str>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The SQL for `(T, helper, backend)`, rendered by `render` the first time.
///
/// The text is leaked on purpose: one string per table, helper and backend, for the
/// life of the process, in exchange for passing it on without a copy or a lock held.
pub(crate) fn statement<T: 'static>(
    helper: Helper,
    backend: Backend,
    render: impl FnOnce() -> String,
) -> &'static str {
    let key = (TypeId::of::<T>(), helper, backend);
    if let Some(sql) = cache()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return sql;
    }
    let sql: &'static str = Box::leak(render().into_boxed_str());
    let mut cached = cache()
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cached.entry(key).or_insert(sql)
}
