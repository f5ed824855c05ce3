#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn main() {
    // Ids compared with statuses: the subquery's column must have the column's type.
    let _ = User::select().filter(User::id.is_in_query(Ride::select().columns(Ride::status)));
}
