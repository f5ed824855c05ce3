#[path = "../profiles.rs"]
mod profiles;
use profiles::Profiles;
use txova_db::cache_evict;

impl Profiles {
    #[cache_evict(key = "user:profile:<id>")]
    async fn rename(&self, id: i64) -> String {
        id.to_string()
    }
}

fn main() {}
