#[path = "../../models.rs"]
mod models;
use models::User;
use txova_db::Table;

txova_db::alias!(Referrer);

fn main() {
    // The alias names a second reading of `users`, which this query does not join.
    let _ = User::select().columns((User::name, User::name.of::<Referrer>()));
}
