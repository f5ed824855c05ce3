// A column may be called `save`: the field takes another name and keeps the column
// with `#[column(name = "save")]`, and `ride.save` is still `Table`'s.
use txova_db::Table;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "rides")]
struct Ride {
    #[column(primary_key)]
    id: i64,
    #[column(name = "save")]
    save_: String,
}

#[allow(dead_code)]
fn uses(db: &txova_db::Db, ride: &Ride) {
    let _ = (db, ride);
    let _ = ride.save(db);
    let _ = Ride::save_;
}

fn main() {}
