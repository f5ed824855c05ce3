use txova_db::Table;

#[derive(Table)]
struct Point(i64, i64);

fn main() {}
