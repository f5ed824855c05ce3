use txova_db::Table;

#[derive(Table)]
#[table(name = "notes", migrations = "../../../../ui-tests/tests/ui/schema/fixtures/sqlite")]
struct Note {
    #[column(primary_key, generated)]
    id: i64,
    body: String,
    pinned: bool,
    weight: Option<f64>,
    at: String,
}

fn main() {}
