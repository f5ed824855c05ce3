#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::{LeftJoin, Select, Table};

fn main() {
    // A user with no ride has no fare: through a LEFT JOIN it is an `Option<i64>`.
    let _: Select<LeftJoin<User, Ride>, (String, i64)> = User::select()
        .left_join(User::id, Ride::user_id)
        .columns((User::name, Ride::fare_cents));
}
