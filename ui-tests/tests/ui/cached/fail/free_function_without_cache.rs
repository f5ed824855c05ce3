#[path = "../profiles.rs"]
mod profiles;
use profiles::Profile;
use txova_db::{Error, cached};

#[cached(key = "user:profile:<id>")]
async fn profile(id: i64) -> Result<Profile, Error> {
    Ok(Profile { id })
}

fn main() {}
