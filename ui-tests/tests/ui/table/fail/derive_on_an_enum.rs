use txova_db::Table;

#[derive(Table)]
enum Status {
    Active,
    Banned,
}

fn main() {}
