#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::{RightJoin, Select, Table};

fn main() {
    // After a RIGHT JOIN a user may have no ride: its rows are not `Ride`s until
    // `.columns(..)` says what to read.
    let _: Select<RightJoin<Ride, User>, Ride> = Ride::select().right_join(Ride::user_id, User::id);
}
