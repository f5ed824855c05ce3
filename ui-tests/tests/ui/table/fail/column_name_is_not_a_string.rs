use txova_db::Table;

#[derive(Table)]
struct User {
    #[column(primary_key)]
    id: i64,
    #[column(name = 42)]
    name: String,
}

fn main() {}
