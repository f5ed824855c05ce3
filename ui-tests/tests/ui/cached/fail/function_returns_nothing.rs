#[path = "../profiles.rs"]
mod profiles;
use profiles::Profiles;
use txova_db::cached;

impl Profiles {
    #[cached(key = "user:profile:<id>")]
    async fn touch(&self, id: i64) {
        let _ = id;
    }
}

fn main() {}
