#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::{Table, scalar};

fn main() {
    // A scalar subquery selects one value, not a row.
    let _ = User::select().columns((User::name, scalar(Ride::select())));
}
