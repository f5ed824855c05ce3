#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn main() {
    let _ = User::select()
        .filter(User::id.is_in_query(Ride::select().columns((Ride::user_id, Ride::fare_cents))));
}
