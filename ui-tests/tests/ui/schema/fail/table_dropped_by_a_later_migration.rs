use txova_db::Table;

#[derive(Table)]
#[table(name = "old_things", migrations = "../../../../ui-tests/tests/ui/schema/fixtures/postgres")]
struct OldThing {
    #[column(primary_key)]
    id: i32,
}

fn main() {}
