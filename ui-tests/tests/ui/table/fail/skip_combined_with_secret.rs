use txova_db::Table;

#[derive(Table)]
struct User {
    #[column(primary_key)]
    id: i64,
    #[column(skip, secret)]
    password: String,
}

fn main() {}
