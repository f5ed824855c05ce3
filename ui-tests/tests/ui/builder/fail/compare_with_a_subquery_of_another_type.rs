#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn main() {
    // An age compared with the latest status: the subquery's value must have the
    // column's type.
    let _ = User::select().filter(User::age.ge_query(Ride::select().columns(Ride::status)));
}
