#[path = "../../models.rs"]
mod models;
use models::AuditEntry;
use txova_db::Table;

async fn load(db: &txova_db::Db) {
    let _ = AuditEntry::find(db, 1_i64).await;
}

fn main() {}
