#[path = "../profiles.rs"]
mod profiles;
use profiles::Profiles;
use txova_db::{Error, cache_evict};

impl Profiles {
    #[cache_evict(key = "user:profile:<user>")]
    async fn rename(&self, id: i64) -> Result<(), Error> {
        let _ = id;
        Ok(())
    }
}

fn main() {}
