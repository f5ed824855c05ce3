use txova_db::Table;

#[derive(Table)]
struct Wrapper<T> {
    #[column(primary_key)]
    id: i64,
    value: T,
}

fn main() {}
