#[path = "../../models.rs"]
mod models;
use models::{Ride, User};

fn main() {
    let _ = User::name.of::<Ride>();
}
