use serde::{Deserialize, Serialize};
use txova_db::cache::{Cache, UsesCache};
use std::sync::Arc;

use txova_db::{Db, Error, cache_evict, cached, transactional, UsesDb};

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

type RepoResult<T> = Result<T, Error>;

struct Request {
    user_id: i64,
    page: (u32, u32),
}

impl Profiles {
    /// A `Result` alias, a field placeholder, a tuple index, a field of `self`.
    #[cached(key = "user:profile:<req.user_id>:<req.page.0>", ttl = "1h 30m")]
    pub async fn profile(&self, req: &Request) -> RepoResult<Profile> {
        Ok(Profile { id: req.user_id })
    }

    /// `Option`, a generic parameter, a lifetime, an owned argument the body moves.
    #[cached(key = "user:name:<name>")]
    async fn by_name<'a, N: std::fmt::Display + Send>(&'a self, name: N) -> Option<Profile> {
        let owned = name.to_string();
        drop(owned);
        None
    }

    /// `Result<Option<T>, E>`: `Ok(None)` is cached as an absence.
    #[cached(key = "user:maybe:<id>")]
    async fn maybe(self: Arc<Self>, id: i64) -> Result<Option<Profile>, Error> {
        Ok(Some(Profile { id }))
    }

    /// Early returns and `?` convert as in the plain function.
    #[cached(key = "user:early:<id>")]
    async fn early(&self, id: i64) -> Result<Profile, Error> {
        if id < 0 {
            return Err(Error::NotFound);
        }
        let checked: Result<i64, Error> = Ok(id);
        Ok(Profile { id: checked? })
    }

    #[cache_evict(key = "user:profile:<id>:0")]
    #[cache_evict(key = "user:maybe:<id>")]
    async fn rename(&self, id: i64, name: String) -> Result<u64, Error> {
        drop(name);
        Ok(id as u64)
    }

    #[cache_evict(key = "user:all")]
    async fn clear(&self) {}
}

/// A free function names its cache.
#[cached(key = "rides:count:<city>", cache = cache, ttl = "30s")]
async fn ride_count(cache: &Cache, city: &str) -> Result<i64, Error> {
    Ok(city.len() as i64)
}

struct Rides {
    db: Db,
    cache: Cache,
}

impl UsesDb for Rides {
    fn db(&self) -> &Db {
        &self.db
    }
}

impl Rides {
    /// With `#[transactional]`: the eviction waits for the commit.
    #[transactional]
    #[cache_evict(key = "ride:<id>", cache = self.cache)]
    async fn cancel(&self, id: i64) -> Result<(), Error> {
        let _ = id;
        Ok(())
    }
}

/// The futures stay `Send`, so the methods can run on a multi-threaded runtime.
fn assert_send<T: Send>(_: T) {}

#[allow(dead_code)]
fn futures_are_send(profiles: Arc<Profiles>, rides: &Rides, cache: &Cache) {
    let req = Request { user_id: 1, page: (0, 10) };
    assert_send(profiles.profile(&req));
    assert_send(profiles.by_name("ana"));
    assert_send(profiles.clone().maybe(1));
    assert_send(profiles.rename(1, String::new()));
    assert_send(rides.cancel(1));
    assert_send(ride_count(cache, "maputo"));
}

fn main() {}
