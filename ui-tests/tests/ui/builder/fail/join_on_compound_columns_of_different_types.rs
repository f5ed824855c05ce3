#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn main() {
    let _ = User::select().inner_join_on::<Ride>(|on| {
        on.eq(User::id, Ride::user_id).eq(User::name, Ride::fare_cents)
    });
}
