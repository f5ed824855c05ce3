#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn main() {
    // `rides` is not in the query: the comparison would fail on the server.
    let _ = User::select().filter(User::id.eq_column(Ride::user_id));
}
