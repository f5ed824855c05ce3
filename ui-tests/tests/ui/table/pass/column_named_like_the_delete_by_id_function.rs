// A column may be called `delete_by_id`: the field takes another name and keeps the column
// with `#[column(name = "delete_by_id")]`, and `Ride::delete_by_id` is still `Table`'s.
use txova_db::Table;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "rides")]
struct Ride {
    #[column(primary_key)]
    id: i64,
    #[column(name = "delete_by_id")]
    delete_by_id_: String,
}

#[allow(dead_code)]
fn uses(db: &txova_db::Db, ride: &Ride) {
    let _ = (db, ride);
    let _ = Ride::delete_by_id(db, 1_i64);
    let _ = Ride::delete_by_id_;
}

fn main() {}
