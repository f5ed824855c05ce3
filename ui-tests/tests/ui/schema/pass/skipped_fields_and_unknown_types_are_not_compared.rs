// A field type the check does not know (an alias, a newtype) is not compared by type.
use txova_db::Table;

#[derive(Table)]
#[table(name = "users", migrations = "../../../../ui-tests/tests/ui/schema/fixtures/postgres")]
struct User {
    #[column(primary_key, generated)]
    id: i64,
    email: String,
    nickname: Option<String>,
    age: Age,
    score: Option<f64>,
    avatar: Option<Vec<u8>>,
    active: bool,
    created_at: chrono::DateTime<chrono::Utc>,
    phone: String,
    #[column(skip)]
    cached_label: String,
}

/// An alias: the check reads the type as written, `Age`, and does not know it.
type Age = i64;

fn main() {}
