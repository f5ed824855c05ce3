// A column cannot be decoded into a type of the application's own that no backend
// knows: decode a type the backends support and convert it.
struct Celsius(f64);

fn first_column(row: &txova_db::Row) -> txova_db::Result<Celsius> {
    row.try_get::<Celsius>(0)
}

fn main() {}
