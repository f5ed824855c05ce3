#[path = "../../models.rs"]
mod models;
use models::{User, UserSort};
use txova_db::Table;

fn main() {
    let _ = User::select().order_by(UserSort::AgeDesc);
}
