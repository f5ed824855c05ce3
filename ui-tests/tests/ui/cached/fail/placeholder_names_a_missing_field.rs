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

struct Request {
    user_id: i64,
}

impl Profiles {
    #[cached(key = "user:profile:<req.user>")]
    async fn profile(&self, req: Request) -> Result<Profile, Error> {
        Ok(Profile { id: req.user_id })
    }
}

fn main() {}
