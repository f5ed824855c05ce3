#[path = "../profiles.rs"]
mod profiles;
use profiles::Profiles;
use txova_db::{Error, cached};

struct Opaque {
    id: i64,
}

impl Profiles {
    #[cached(key = "user:profile:<id>")]
    async fn profile(&self, id: i64) -> Result<Opaque, Error> {
        Ok(Opaque { id })
    }
}

fn main() {}
