#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Expr;

fn main() {
    let cond: Expr<User> = User::age.gt(3) & Ride::fare_cents.gt(5);
    let _ = cond;
}
