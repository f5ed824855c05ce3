use txova_db::Table;

#[derive(Table)]
#[table(name = "orders", migrations = "../../../../ui-tests/tests/ui/schema/fixtures/mysql")]
struct Order {
    #[column(primary_key, generated)]
    id: i64,
    customer: String,
    paid: bool,
    total: i64,
    remark: Option<String>,
    placed_at: chrono::NaiveDateTime,
}

fn main() {}
