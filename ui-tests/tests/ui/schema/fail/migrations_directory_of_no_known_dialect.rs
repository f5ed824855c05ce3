use txova_db::Table;

#[derive(Table)]
#[table(name = "users", migrations = "../../../../ui-tests/tests/ui/schema/fixtures/no_dialect")]
struct User {
    #[column(primary_key, generated)]
    id: i64,
}

fn main() {}
