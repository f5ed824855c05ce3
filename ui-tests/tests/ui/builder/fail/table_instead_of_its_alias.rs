#[path = "../../models.rs"]
mod models;
use models::Ride;
use txova_db::Select;
use txova_db::table::Aliased;

txova_db::alias!(Earlier);

fn main() {
    // The query reads `rides AS earlier`: its columns are `Ride::id.of::<Earlier>()`, ...
    let _ = Select::<Aliased<Ride, Earlier>, Ride>::aliased().filter(Ride::id.eq(1));
}
