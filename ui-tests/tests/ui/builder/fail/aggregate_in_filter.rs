#[path = "../../models.rs"]
mod models;
use models::User;
use txova_db::Table;

fn main() {
    let _ = User::select().filter(txova_db::count().gt(3));
}
