use txova_db::Table;

#[derive(Table)]
struct User {
    #[column(primary_key)]
    id: i64,
    #[column(skip, sortable)]
    cached_rank: u32,
}

fn main() {}
