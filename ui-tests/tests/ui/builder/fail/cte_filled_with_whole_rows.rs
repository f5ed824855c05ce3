#[path = "../../models.rs"]
mod models;
use models::Ride;
use txova_db::Table;
use txova_db::select::Cte;

#[derive(Table, Debug)]
#[table(name = "fares", unchecked)]
struct Fare {
    ride_id: i64,
    fare_cents: i64,
}

fn main() {
    // Whole rows of another table are not the CTE's rows: select its columns.
    let _ = Cte::<Fare>::new(Ride::select());
}
