#[path = "../../models.rs"]
mod models;
use models::{Ride, User};
use txova_db::{Table, exists, max, not_exists};

fn main() {
    // IN over a column of the same type, of an optional one, or an aggregate.
    let _ = User::select().filter(User::id.is_in_query(Ride::select().columns(Ride::user_id)));
    let _ = User::select().filter(User::id.not_in_query(Ride::select().columns(max(Ride::user_id))));
    // Correlated: the subquery names the outer table once it says so.
    let _ = User::select().filter(exists(
        Ride::select()
            .correlate::<User>()
            .filter(Ride::user_id.eq_column(User::id))
            .filter(User::name.eq("Ana")),
    ));
    let _ = User::select().filter(not_exists(Ride::select().filter(Ride::status.eq("open"))));
}
