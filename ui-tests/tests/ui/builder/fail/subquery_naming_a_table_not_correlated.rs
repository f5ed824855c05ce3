#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::{Table, exists};

fn main() {
    // The subquery filters by a column of the outer query's table without
    // `.correlate::<User>()`.
    let _ = User::select().filter(exists(Ride::select().filter(User::name.eq("Ana"))));
}
