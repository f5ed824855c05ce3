#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn upsert(user: &User) {
    let _ = User::insert(user).on_conflict([Ride::id]).do_nothing();
}

fn main() {}
