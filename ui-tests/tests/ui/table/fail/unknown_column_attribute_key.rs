use txova_db::Table;

#[derive(Table)]
struct User {
    #[column(primary)]
    id: i64,
}

fn main() {}
