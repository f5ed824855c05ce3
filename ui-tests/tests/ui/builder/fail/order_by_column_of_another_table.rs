#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn main() {
    let _ = User::select().order_by(Ride::fare_cents.desc());
}
