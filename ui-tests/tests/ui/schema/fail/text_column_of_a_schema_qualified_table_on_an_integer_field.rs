use txova_db::Table;

#[derive(Table)]
#[table(name = "audit.events", migrations = "../../../../ui-tests/tests/ui/schema/fixtures/postgres")]
struct Event {
    #[column(primary_key, generated)]
    id: i64,
    kind: i64,
    at: chrono::NaiveDateTime,
}

fn main() {}
