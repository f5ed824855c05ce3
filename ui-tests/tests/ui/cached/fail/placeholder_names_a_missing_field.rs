#[path = "../profiles.rs"]
mod profiles;
use profiles::{Profile, Profiles};
use txova_db::{Error, cached};

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
