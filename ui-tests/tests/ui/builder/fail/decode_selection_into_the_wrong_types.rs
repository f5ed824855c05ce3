#[path = "../../models.rs"]
mod models;
use models::User;
use txova_db::Table;

async fn names(db: &txova_db::Db) -> txova_db::Result<Vec<(i64, String)>> {
    User::select().columns((User::name, User::id)).fetch_all(db).await
}

fn main() {}
