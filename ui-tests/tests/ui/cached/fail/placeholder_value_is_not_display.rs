#[path = "../profiles.rs"]
mod profiles;
use profiles::{Profile, Profiles};
use txova_db::{Error, cached};

#[derive(Debug)]
struct UserId(i64);

impl Profiles {
    #[cached(key = "user:profile:<id>")]
    async fn profile(&self, id: UserId) -> Result<Profile, Error> {
        Ok(Profile { id: id.0 })
    }
}

fn main() {}
