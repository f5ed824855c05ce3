use txova_db::Table;

#[derive(Table)]
struct User {
    #[column(primary_key)]
    id: i64,
    #[column(secret = "yes")]
    password_hash: String,
}

fn main() {}
