use serde::{Deserialize, Serialize};
use txova_db::cache::{Cache, UsesCache};
use txova_db::cache_evict;

#[derive(Serialize, Deserialize)]
struct Profile {
    id: i64,
}

struct Profiles {
    cache: Cache,
}

impl UsesCache for Profiles {
    fn cache(&self) -> &Cache {
        &self.cache
    }
}

impl Profiles {
    #[cache_evict(key = "user:profile:<id>")]
    async fn rename(&self, id: i64) -> String {
        id.to_string()
    }
}

fn main() {}
