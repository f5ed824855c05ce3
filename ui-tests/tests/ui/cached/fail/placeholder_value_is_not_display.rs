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

#[derive(Debug)]
struct UserId(i64);

impl Profiles {
    #[cached(key = "user:profile:<id>")]
    async fn profile(&self, id: UserId) -> Result<Profile, Error> {
        Ok(Profile { id: id.0 })
    }
}

fn main() {}
