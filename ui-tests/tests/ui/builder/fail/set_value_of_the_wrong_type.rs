#[path = "../../models.rs"]
mod models;
use models::User;
use txova_db::Table;

fn main() {
    let _ = User::update().set(User::age, "thirty").all_rows();
}
