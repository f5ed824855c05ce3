// A column may be called `update`: the field takes another name and keeps the column
// with `#[column(name = "update")]`, and `Ride::update` is still `Table`'s.
use txova_db::Table;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "rides")]
struct Ride {
    #[column(primary_key)]
    id: i64,
    #[column(name = "update")]
    update_: String,
}

#[allow(dead_code)]
fn uses(db: &txova_db::Db, ride: &Ride) {
    let _ = (db, ride);
    let _ = Ride::update();
    let _ = Ride::update_;
}

fn main() {}
