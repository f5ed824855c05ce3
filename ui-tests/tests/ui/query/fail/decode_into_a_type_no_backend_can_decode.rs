// A column cannot be decoded into a type no enabled backend knows.
fn first_column(row: &txova_db::Row) -> txova_db::Result<std::time::Duration> {
    row.try_get::<std::time::Duration>(0)
}

fn main() {}
