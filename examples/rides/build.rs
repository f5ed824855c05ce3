//! Rebuilds the service when a migration is added or removed: `#[derive(Table)]` and
//! `embed_migrations!` track the files they read, but only a build script can watch the
//! directories for new ones (cargo scans a directory given to `rerun-if-changed`).

fn main() {
    println!("cargo::rerun-if-changed=../../migrations");
}
