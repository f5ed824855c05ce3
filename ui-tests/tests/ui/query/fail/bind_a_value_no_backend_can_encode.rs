// An `Instant` is not a SQL value: binding it must be refused at compile time, with a
// message that names the supported types.
fn main() {
    let _ = txova_db::query("SELECT $1").bind(std::time::Instant::now());
}
