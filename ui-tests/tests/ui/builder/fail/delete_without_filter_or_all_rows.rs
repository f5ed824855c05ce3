#[path = "../../models.rs"]
mod models;
use models::User;
use txova_db::Table;

async fn wipe(db: &txova_db::Db) {
    let _ = User::delete().execute(db).await;
}

fn main() {}
