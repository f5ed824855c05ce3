// A column cannot be decoded into a type only some enabled backends know: Postgres
// decodes an interval into a Duration, SQLite cannot, and a Row may come from either.
fn first_column(row: &txova_db::Row) -> txova_db::Result<std::time::Duration> {
    row.try_get::<std::time::Duration>(0)
}

fn main() {}
