use txova_db::Table;

#[derive(Table)]
struct User {
    #[column(primary_key)]
    id: i64,
    #[column(sortable, sortable)]
    name: String,
}

fn main() {}
