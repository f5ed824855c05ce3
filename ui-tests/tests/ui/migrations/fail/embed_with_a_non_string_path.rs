fn main() {
    let _ = txova_db::embed_migrations!(migrations);
}
