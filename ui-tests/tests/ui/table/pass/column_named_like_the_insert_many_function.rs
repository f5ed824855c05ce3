// A column may be called `insert_many`: the field takes another name and keeps the column
// with `#[column(name = "insert_many")]`, and `Ride::insert_many` is still `Table`'s.
use txova_db::Table;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "rides")]
struct Ride {
    #[column(primary_key)]
    id: i64,
    #[column(name = "insert_many")]
    insert_many_: String,
}

#[allow(dead_code)]
fn uses(db: &txova_db::Db, ride: &Ride) {
    let _ = (db, ride);
    let _ = Ride::insert_many([ride]);
    let _ = Ride::insert_many_;
}

fn main() {}
