#[path = "../../models.rs"]
mod models;
use models::User;
use txova_db::Table;

fn main() {
    let _ = User::select().group_by(User::age).having(User::age.gt(3));
}
