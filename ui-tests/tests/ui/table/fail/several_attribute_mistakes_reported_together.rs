use txova_db::Table;

#[derive(Table)]
#[table(nme = "users")]
struct User {
    #[column(primary_key, generatd)]
    id: i64,
    #[column(name = "")]
    name: String,
}

fn main() {}
