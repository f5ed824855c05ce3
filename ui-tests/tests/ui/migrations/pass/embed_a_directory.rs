// trybuild compiles this case in target/tests/trybuild/<crate>, which is where
// CARGO_MANIFEST_DIR points: the fixture path climbs back to ui-tests/.
fn main() {
    let migrator = txova_db::embed_migrations!("../../../../ui-tests/tests/ui/migrations/fixtures/good").unwrap();
    assert_eq!(migrator.migrations().len(), 1);
    assert!(migrator.migrations()[0].down.is_some());
}
