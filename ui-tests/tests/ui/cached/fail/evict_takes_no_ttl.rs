use serde::{Deserialize, Serialize};
use txova_db::cache::{Cache, UsesCache};
use txova_db::{Error, cache_evict};

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
    #[cache_evict(key = "user:profile:<id>", ttl = "1m")]
    async fn rename(&self, id: i64) -> Result<(), Error> {
        let _ = id;
        Ok(())
    }
}

fn main() {}
