#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::{FullJoin, Select, Table};

fn main() {
    // Both sides of a FULL JOIN may be missing: every column is an `Option`.
    let _: Select<FullJoin<User, Ride>, (i64, Option<i64>)> = User::select()
        .full_join(User::id, Ride::user_id)
        .columns((User::id, Ride::id));
}
