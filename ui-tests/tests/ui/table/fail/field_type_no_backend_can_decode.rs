use txova_db::Table;

#[derive(Table)]
struct Timer {
    #[column(primary_key)]
    id: i64,
    started: std::time::Instant,
}

fn main() {}
