use txova_db::Table;

#[derive(Table)]
struct Query {
    #[column(primary_key)]
    id: i64,
    select: String,
}

fn main() {}
