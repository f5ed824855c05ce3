#[path = "../profiles.rs"]
mod profiles;
use profiles::{Profile, Profiles};
use txova_db::{Error, cached};

impl Profiles {
    #[cached(key = "user:profile:<id>", ttl = "0s")]
    async fn profile(&self, id: i64) -> Result<Profile, Error> {
        Ok(Profile { id })
    }
}

fn main() {}
