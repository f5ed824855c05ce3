use txova_db::Table;

struct Handle;

#[derive(Table)]
struct User {
    #[column(primary_key)]
    id: i64,
    #[column(skip)]
    handle: Handle,
}

fn main() {}
