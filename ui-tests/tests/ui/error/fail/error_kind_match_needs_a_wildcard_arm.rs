// `ErrorKind` is #[non_exhaustive]: new kinds may come in minor releases, so a match
// must end with a wildcard arm.
use txova_db::ErrorKind;

fn is_conflict(kind: ErrorKind) -> bool {
    match kind {
        ErrorKind::Duplicate => true,
        ErrorKind::NotFound => false,
    }
}

fn main() {
    let _ = is_conflict(ErrorKind::Duplicate);
}
