// A column may be called `select`: the field takes another name and keeps the column
// with `#[column(name = "select")]`, and `Ride::select` is still `Table`'s.
use txova_db::Table;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "rides")]
struct Ride {
    #[column(primary_key)]
    id: i64,
    #[column(name = "select")]
    select_: String,
}

#[allow(dead_code)]
fn uses(db: &txova_db::Db, ride: &Ride) {
    let _ = (db, ride);
    let _ = Ride::select();
    let _ = Ride::select_;
}

fn main() {}
