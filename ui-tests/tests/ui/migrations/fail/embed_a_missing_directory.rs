// trybuild compiles this case in target/tests/trybuild/<crate>, which is where
// CARGO_MANIFEST_DIR points: the fixture path climbs back to ui-tests/.
fn main() {
    let _ = txova_db::embed_migrations!("../../../../ui-tests/tests/ui/migrations/fixtures/no_such_dir");
}
