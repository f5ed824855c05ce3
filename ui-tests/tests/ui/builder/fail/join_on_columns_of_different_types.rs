#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn main() {
    let _ = User::select().inner_join(User::id, Ride::status);
}
