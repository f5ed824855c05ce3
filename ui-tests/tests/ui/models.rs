// Tables shared by the builder cases (included with #[path]).
#![allow(dead_code)]

use txova_db::Table;

#[derive(Table, Debug, Clone)]
#[table(name = "users")]
pub struct User {
    #[column(primary_key, generated)]
    pub id: i64,
    #[column(sortable)]
    pub name: String,
    pub age: i32,
    pub nickname: Option<String>,
}

#[derive(Table, Debug, Clone)]
#[table(name = "rides")]
pub struct Ride {
    #[column(primary_key, generated)]
    pub id: i64,
    pub user_id: i64,
    pub status: String,
    pub fare_cents: i64,
}

#[derive(Table, Debug, Clone)]
#[table(name = "audit_log")]
pub struct AuditEntry {
    pub at: i64,
    pub message: String,
}
