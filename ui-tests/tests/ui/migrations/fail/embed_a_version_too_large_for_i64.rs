// A version must fit the migrator's i64: the compile-time check and the runtime
// agree, so the name is refused here rather than when the binary starts.
fn main() {
    let _ = txova_db::embed_migrations!("../../../../ui-tests/tests/ui/migrations/fixtures/version_too_large");
}
