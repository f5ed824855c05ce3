// A column may be called `find`: the field takes another name and keeps the column
// with `#[column(name = "find")]`, and `Ride::find` is still `Table`'s.
use txova_db::Table;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "rides")]
struct Ride {
    #[column(primary_key)]
    id: i64,
    #[column(name = "find")]
    find_: String,
}

#[allow(dead_code)]
fn uses(db: &txova_db::Db, ride: &Ride) {
    let _ = (db, ride);
    let _ = Ride::find(db, 1_i64);
    let _ = Ride::find_;
}

fn main() {}
