// A column may be called `column_named`: the field takes another name and keeps the column
// with `#[column(name = "column_named")]`, and `Ride::column_named` is still `Table`'s.
use txova_db::Table;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "rides")]
struct Ride {
    #[column(primary_key)]
    id: i64,
    #[column(name = "column_named")]
    column_named_: String,
}

#[allow(dead_code)]
fn uses(db: &txova_db::Db, ride: &Ride) {
    let _ = (db, ride);
    let _ = Ride::column_named("id");
    let _ = Ride::column_named_;
}

fn main() {}
