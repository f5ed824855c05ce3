// A column may be called `insert`: the field takes another name and keeps the column
// with `#[column(name = "insert")]`, and `Ride::insert` is still `Table`'s.
use txova_db::Table;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "rides")]
struct Ride {
    #[column(primary_key)]
    id: i64,
    #[column(name = "insert")]
    insert_: String,
}

#[allow(dead_code)]
fn uses(db: &txova_db::Db, ride: &Ride) {
    let _ = (db, ride);
    let _ = Ride::insert(ride);
    let _ = Ride::insert_;
}

fn main() {}
