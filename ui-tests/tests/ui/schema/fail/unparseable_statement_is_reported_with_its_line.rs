use txova_db::Table;

#[derive(Table)]
#[table(name = "widgets", migrations = "../../../../ui-tests/tests/ui/schema/fixtures/unparseable/postgres")]
struct Widget {
    #[column(primary_key)]
    id: i64,
}

fn main() {}
