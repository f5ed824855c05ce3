#[path = "../profiles.rs"]
mod profiles;
use profiles::Profiles;
use txova_db::cached;

impl Profiles {
    #[cached(key = "user:profile:<id>")]
    async fn profile(&self, id: i64) -> i64 {
        id
    }
}

fn main() {}
