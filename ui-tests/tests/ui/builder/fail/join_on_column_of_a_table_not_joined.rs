#[path = "../../models.rs"]
mod models;
use models::{AuditEntry, Ride, User};
use txova_db::Table;

fn main() {
    let _ = User::select().inner_join_on::<Ride>(|on| on.eq(User::id, AuditEntry::at));
}
