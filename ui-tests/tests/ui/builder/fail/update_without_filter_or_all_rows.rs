#[path = "../../models.rs"]
mod models;
use models::User;
use txova_db::Table;

async fn ban_everyone(db: &txova_db::Db) {
    let _ = User::update().set(User::age, 0).execute(db).await;
}

fn main() {}
