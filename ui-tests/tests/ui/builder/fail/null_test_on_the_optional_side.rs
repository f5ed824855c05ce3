#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::Table;

fn main() {
    // Users with no ride: `fare_cents` is never NULL in `rides`, so ask it of the
    // column as selected through the join, `.nullable().is_null()`.
    let _ = User::select()
        .left_join(User::id, Ride::user_id)
        .filter(Ride::fare_cents.is_null());
}
