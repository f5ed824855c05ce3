#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn main() {
    let _ = User::select().filter(User::age.gt(17).or_across(Ride::fare_cents.gt(500)));
}
