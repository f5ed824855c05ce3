use txova_db::Table;

#[derive(Table)]
#[table(name = "users", schema = "public")]
struct User {
    #[column(primary_key)]
    id: i64,
}

fn main() {}
