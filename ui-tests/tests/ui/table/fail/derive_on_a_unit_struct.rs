use txova_db::Table;

#[derive(Table)]
struct Marker;

fn main() {}
