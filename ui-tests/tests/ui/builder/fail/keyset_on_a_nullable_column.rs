#[path = "../../models.rs"]
mod models;
use models::User;
use txova_db::{Db, KeysetRequest, Table};

async fn page(db: &Db) -> txova_db::Result<()> {
    let _ = User::select()
        .keyset(db, User::nickname, txova_db::Direction::Asc, KeysetRequest::first(20))
        .await?;
    Ok(())
}

fn main() {
    let _ = page;
}
