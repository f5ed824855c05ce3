use txova_db::Table;

type Maybe<T> = Option<T>;

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "user accounts")]
pub struct Account {
    #[column(primary_key, generated)]
    pub id: i64,
    #[column(sortable, name = "display_name")]
    pub name: String,
    #[column(sortable)]
    pub r#type: String,
    pub deleted_at: Maybe<String>,
    #[column(secret, name = "password_hash")]
    pub password: String,
    #[column(skip)]
    pub cache_hits: u64,
}

fn main() {
    assert_eq!(Account::NAME, "user accounts");
    assert_eq!(Account::COLUMNS.len(), 5);
    assert!(Account::password.info().secret && !Account::name.info().secret);
    let by_password = Account::select().filter(Account::password.eq("hunter2")).to_sql();
    assert_eq!(by_password.params(), ["***"]);
    assert_eq!(Account::name.name(), "display_name");
    assert_eq!(Account::r#type.name(), "type");
    assert!(Account::deleted_at.info().nullable());
    let sort: AccountSort = "-type".parse().unwrap();
    assert_eq!(sort, AccountSort::TypeDesc);
    assert_eq!(AccountSort::KEYS, ["name", "-name", "type", "-type"]);
    let _ = Account::select().filter(Account::deleted_at.is_null()).order_by(sort);
}
