use txova_db::Select;

fn search(column: &str, value: String) {
    let sql = format!("{column} = ?");
    let _ = Select::from("users").filter_raw(&sql, value);
}

fn main() {}
