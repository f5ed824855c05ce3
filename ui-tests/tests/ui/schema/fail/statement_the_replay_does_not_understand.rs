use txova_db::Table;

// `CREATE TABLE … AS SELECT` is reported; the one after `-- txova:schema-skip` is not.
#[derive(Table)]
#[table(name = "widgets", migrations = "../../../../ui-tests/tests/ui/schema/fixtures/unsupported/postgres")]
struct Widget {
    #[column(primary_key)]
    id: i64,
}

fn main() {}
