// A bound borrow must outlive the query that holds it.
fn build() -> txova_db::Query<'static> {
    let email = String::from("ana@example.com");
    txova_db::query("SELECT 1 WHERE $1 <> ''").bind(email.as_str())
}

fn main() {
    let _ = build();
}
