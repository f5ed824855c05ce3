// The repository shared by the #[cached]/#[cache_evict] cases (included with #[path]).
#![allow(dead_code)]

use serde::{Deserialize, Serialize};
use txova_db::cache::{Cache, UsesCache};

#[derive(Serialize, Deserialize)]
pub struct Profile {
    pub id: i64,
}

pub struct Profiles {
    pub cache: Cache,
}

impl UsesCache for Profiles {
    fn cache(&self) -> &Cache {
        &self.cache
    }
}
