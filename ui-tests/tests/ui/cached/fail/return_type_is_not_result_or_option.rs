use serde::{Deserialize, Serialize};
use txova_db::cache::{Cache, UsesCache};
use txova_db::cached;

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
    #[cached(key = "user:profile:<id>")]
    async fn profile(&self, id: i64) -> i64 {
        id
    }
}

fn main() {}
