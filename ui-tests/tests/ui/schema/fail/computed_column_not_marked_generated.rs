use txova_db::Table;

#[derive(Table)]
#[table(name = "computed", migrations = "../../../../ui-tests/tests/ui/schema/fixtures/postgres")]
struct Computed {
    #[column(primary_key)]
    id: i32,
    doubled: Option<i32>,
}

fn main() {}
