// With no `migrations` (here, and no `[package.metadata.txova-db]`), or with
// `#[table(unchecked)]`, the struct is not compared with any schema.
use txova_db::Table;

#[derive(Table)]
#[table(name = "users", unchecked)]
struct User {
    #[column(primary_key)]
    id: i32,
    nick: String,
}

fn main() {}
