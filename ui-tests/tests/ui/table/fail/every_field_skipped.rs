use txova_db::Table;

#[derive(Table)]
struct Scratch {
    #[column(skip)]
    notes: String,
}

fn main() {}
