use txova_db::Table;

#[derive(Table)]
#[table(name = "users", migrations = "../../../../ui-tests/tests/ui/schema/fixtures/postgres")]
struct User {
    #[column(generated)]
    id: i64,
    email: String,
    nickname: Option<String>,
    age: i64,
    score: Option<f64>,
    avatar: Option<Vec<u8>>,
    active: bool,
    created_at: chrono::DateTime<chrono::Utc>,
    phone: String,
}

fn main() {}
