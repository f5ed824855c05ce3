// A column may be called `delete`: the field takes another name and keeps the column
// with `#[column(name = "delete")]`, and `Ride::delete` is still `Table`'s.
use txova_db::Table;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "rides")]
struct Ride {
    #[column(primary_key)]
    id: i64,
    #[column(name = "delete")]
    delete_: String,
}

#[allow(dead_code)]
fn uses(db: &txova_db::Db, ride: &Ride) {
    let _ = (db, ride);
    let _ = Ride::delete();
    let _ = Ride::delete_;
}

fn main() {}
