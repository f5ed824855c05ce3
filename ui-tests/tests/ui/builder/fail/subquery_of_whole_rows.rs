#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn main() {
    // `IN (SELECT …)` takes one column; a whole row is no id.
    let _ = User::select().filter(User::id.not_in_query(Ride::select()));
}
