#[path = "../../models.rs"]
mod models;
use models::Ride;
use txova_db::Table;
use txova_db::select::Cte;

#[derive(Table, Debug)]
#[table(name = "fares", unchecked)]
struct Fare {
    ride_id: i64,
    status: String,
}

fn main() {
    // A CTE's query selects its columns' types in order: (i64, String), not (String, i64).
    let _ = Cte::<Fare>::new(Ride::select().columns((Ride::status, Ride::id)));
}
