use serde::{Deserialize, Serialize};
use txova_db::cache::{Cache, UsesCache};
use txova_db::{Error, cached};

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
    #[cached(key = user_profile)]
    async fn profile(&self, id: i64) -> Result<Profile, Error> {
        Ok(Profile { id })
    }
}

fn main() {}
