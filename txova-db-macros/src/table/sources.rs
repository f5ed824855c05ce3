//! Where the schema a table is checked against comes from: `#[table(migrations =
//! "…")]`, else the crate's `[package.metadata.txova-db]` in its Cargo.toml; nothing
//! at all (today's behaviour) when neither says. Each directory is replayed once per
//! compilation: the proc-macro stays loaded for the whole crate, and a replay is kept
//! by directory with a fingerprint of its files' names and contents.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use proc_macro2::Span;
use txova_db_schema::{Dialect, Replayed};

use super::ast::Container;
use crate::ctxt::Ctxt;

/// One migrations directory, replayed.
pub(crate) struct Source {
    /// The directory as the crate wrote it (`migrations/postgres`).
    pub(crate) shown: String,
    pub(crate) dialect: Dialect,
    pub(crate) replayed: Arc<Replayed>,
    /// Its `.up.sql` files, absolute, for the expansion to include (so editing one
    /// rebuilds the crate).
    pub(crate) files: Vec<PathBuf>,
    /// Whether this derive is the first of the compilation to meet this replay's
    /// problems, and so the one to report them.
    pub(crate) report_problems: bool,
}

/// The sources `container` is checked against; errors in saying where they are go to
/// `cx`.
pub(crate) fn sources(cx: &Ctxt, container: &Container<'_>) -> Vec<Source> {
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) => sources_in(cx, container, Path::new(&dir)),
        None => Vec::new(),
    }
}

/// [`sources`] for the crate whose manifest is in `manifest_dir`.
fn sources_in(cx: &Ctxt, container: &Container<'_>, manifest_dir: &Path) -> Vec<Source> {
    if container.unchecked.is_some() {
        return Vec::new();
    }
    let (dirs, dialect, span) = match &container.migrations {
        Some(lit) => (vec![lit.value()], None, lit.span()),
        None => match metadata(manifest_dir) {
            Ok(Some(metadata)) => (metadata.dirs, metadata.dialect, container.ident.span()),
            Ok(None) => return Vec::new(),
            Err(reason) => {
                cx.syn_error(syn::Error::new(
                    container.ident.span(),
                    format!(
                        "cannot read `[package.metadata.txova-db]` of {}: {reason}",
                        manifest_dir.join("Cargo.toml").display()
                    ),
                ));
                return Vec::new();
            }
        },
    };
    dirs.into_iter()
        .filter_map(|shown| {
            let dialect = dialect.or_else(|| Dialect::of_path(Path::new(&shown)));
            let Some(dialect) = dialect else {
                cx.syn_error(syn::Error::new(
                    span,
                    format!("cannot tell the SQL dialect of `{shown}`: name the directory after it (`migrations/postgres`, `…/sqlite`, `…/mysql`) or write `dialect = \"postgres\"` under `[package.metadata.txova-db]`"),
                ));
                return None;
            };
            load(cx, span, manifest_dir, shown, dialect)
        })
        .collect()
}

/// Of `files`, those no earlier derive of this compilation has included: rustc tracks
/// an included file for the whole crate, so one `include_bytes!` of each is enough to
/// rebuild it when the file changes (a thousand copies of the same bytes made a
/// 100-table crate build noticeably slower).
pub(crate) fn not_yet_tracked(files: Vec<PathBuf>) -> Vec<PathBuf> {
    static TRACKED: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let mut tracked = TRACKED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    files
        .into_iter()
        .filter(|f| tracked.insert(f.clone()))
        .collect()
}

/// `[package.metadata.txova-db]`: `migrations` (a directory or a list of them) and an
/// optional `dialect`.
#[derive(Clone)]
struct Metadata {
    dirs: Vec<String>,
    dialect: Option<Dialect>,
}

/// The metadata of a manifest, read once per compilation (per text of the manifest).
fn metadata(manifest_dir: &Path) -> Result<Option<Metadata>, String> {
    type Read = Result<Option<Metadata>, String>;
    static READ: OnceLock<Mutex<HashMap<(PathBuf, u64), Read>>> = OnceLock::new();
    let path = manifest_dir.join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    let key = (path, hasher.finish());
    let mut read = READ
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    read.entry(key)
        .or_insert_with(|| parse_metadata(&text))
        .clone()
}

fn parse_metadata(text: &str) -> Result<Option<Metadata>, String> {
    let manifest: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let Some(section) = manifest
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("txova-db"))
    else {
        return Ok(None);
    };
    let dirs = match section.get("migrations") {
        None => return Ok(None),
        Some(toml::Value::String(dir)) => vec![dir.clone()],
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "`migrations` lists directories as strings".to_owned())
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(
                "`migrations` is a directory (`\"migrations/postgres\"`) or a list of them".into(),
            );
        }
    };
    let dialect =
        match section.get("dialect") {
            None => None,
            Some(value) => Some(value.as_str().and_then(Dialect::from_name).ok_or_else(|| {
                "`dialect` is one of \"postgres\", \"sqlite\", \"mysql\"".to_owned()
            })?),
        };
    Ok(Some(Metadata { dirs, dialect }))
}

/// A replay, by directory, with the fingerprint it was made from.
type Cache = HashMap<PathBuf, (u64, Arc<Replayed>)>;

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Replays whose problems a derive has reported already, by directory and fingerprint.
fn reported() -> &'static Mutex<HashSet<(PathBuf, u64)>> {
    static REPORTED: OnceLock<Mutex<HashSet<(PathBuf, u64)>>> = OnceLock::new();
    REPORTED.get_or_init(Mutex::default)
}

fn load(
    cx: &Ctxt,
    span: Span,
    manifest_dir: &Path,
    shown: String,
    dialect: Dialect,
) -> Option<Source> {
    let dir = manifest_dir.join(&shown);
    let fail = |reason: String| {
        cx.syn_error(syn::Error::new(span, reason));
        None
    };
    let files = match txova_db_schema::migration_files(&dir) {
        Ok(files) => files,
        Err(problem) => {
            return fail(format!(
                "cannot check against the migrations in `{shown}`: {problem}"
            ));
        }
    };
    let mut texts = Vec::with_capacity(files.len());
    let mut fingerprint = DefaultHasher::new();
    dialect.hash(&mut fingerprint);
    for file in &files {
        match std::fs::read_to_string(file) {
            Ok(text) => {
                file.hash(&mut fingerprint);
                text.hash(&mut fingerprint);
                texts.push(text);
            }
            Err(err) => return fail(format!("cannot read {}: {err}", file.display())),
        }
    }
    let fingerprint = fingerprint.finish();
    let mut cache = cache().lock().unwrap_or_else(PoisonError::into_inner);
    let replayed = match cache.get(&dir) {
        Some((seen, replayed)) if *seen == fingerprint => Arc::clone(replayed),
        _ => {
            let named = files.iter().zip(&texts).map(|(file, text)| {
                let shown = file
                    .strip_prefix(manifest_dir)
                    .unwrap_or(file)
                    .to_path_buf();
                (shown, text.as_str())
            });
            let replayed = Arc::new(txova_db_schema::replay(dialect, named));
            cache.insert(dir.clone(), (fingerprint, Arc::clone(&replayed)));
            replayed
        }
    };
    drop(cache);
    let report_problems = !replayed.problems.is_empty()
        && reported()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((dir, fingerprint));
    Some(Source {
        shown,
        dialect,
        replayed,
        files,
        report_problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("txova-db-macros-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        std::fs::write(dir.join("Cargo.toml"), text).expect("a manifest");
        dir
    }

    #[test]
    fn metadata_names_one_directory_or_several_and_a_dialect() {
        let one = manifest(
            "one",
            "[package]\nname = \"x\"\n[package.metadata.txova-db]\nmigrations = \"migrations/postgres\"\n",
        );
        let read = metadata(&one).expect("valid").expect("present");
        assert_eq!(
            (read.dirs, read.dialect),
            (vec!["migrations/postgres".to_owned()], None)
        );

        let several = manifest(
            "several",
            "[package]\nname = \"x\"\n[package.metadata.txova-db]\nmigrations = [\"db/a\", \"db/b\"]\ndialect = \"sqlite\"\n",
        );
        let read = metadata(&several).expect("valid").expect("present");
        assert_eq!(read.dirs, ["db/a", "db/b"]);
        assert_eq!(read.dialect, Some(Dialect::Sqlite));
    }

    #[test]
    fn a_directory_is_replayed_once_until_a_file_changes() {
        let root = manifest("cache", "[package]\nname = \"x\"\n");
        let dir = root.join("migrations/postgres");
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("0001_t.up.sql");
        std::fs::write(&file, "CREATE TABLE t (id BIGINT PRIMARY KEY);").expect("file");
        let cx = Ctxt::new();
        let span = Span::call_site();
        let load_it = || {
            load(
                &cx,
                span,
                &root,
                "migrations/postgres".into(),
                Dialect::Postgres,
            )
            .expect("loads")
        };
        let (first, second) = (load_it(), load_it());
        assert!(
            Arc::ptr_eq(&first.replayed, &second.replayed),
            "replayed twice"
        );
        assert_eq!(first.files, std::slice::from_ref(&file));
        std::fs::write(&file, "CREATE TABLE t (id BIGINT PRIMARY KEY, n TEXT);").expect("edit");
        let edited = load_it();
        assert!(
            !Arc::ptr_eq(&first.replayed, &edited.replayed),
            "an edit is replayed"
        );
        assert!(
            edited
                .replayed
                .schema
                .table("t")
                .expect("t")
                .column("n")
                .is_some()
        );
        cx.check().expect("no errors");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn the_crate_metadata_applies_to_every_table_but_an_unchecked_one() {
        let root = manifest(
            "optout",
            "[package]\nname = \"x\"\n[package.metadata.txova-db]\nmigrations = \"db/sqlite\"\n",
        );
        std::fs::create_dir_all(root.join("db/sqlite")).expect("dir");
        std::fs::write(
            root.join("db/sqlite/0001_t.up.sql"),
            "CREATE TABLE t (id INTEGER);",
        )
        .expect("file");
        let found = |input: syn::DeriveInput| {
            let cx = Ctxt::new();
            let container = Container::from_ast(&cx, &input).expect("a struct");
            let found: Vec<(String, Dialect)> = sources_in(&cx, &container, &root)
                .into_iter()
                .map(|s| (s.shown, s.dialect))
                .collect();
            cx.check().expect("no errors");
            found
        };
        let checked = found(syn::parse_quote! { struct T { id: i64 } });
        assert_eq!(checked, [("db/sqlite".to_owned(), Dialect::Sqlite)]);
        let unchecked = found(syn::parse_quote! { #[table(unchecked)] struct T { id: i64 } });
        assert!(unchecked.is_empty());
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn a_crate_that_says_nothing_is_not_checked_and_mistakes_are_named() {
        let silent = manifest("silent", "[package]\nname = \"x\"\n");
        assert!(metadata(&silent).expect("valid").is_none());
        let wrong = manifest("wrong", "[package.metadata.txova-db]\nmigrations = 5\n");
        assert!(
            metadata(&wrong)
                .err()
                .expect("refused")
                .contains("`migrations` is a directory")
        );
        let dialect = manifest(
            "dialect",
            "[package.metadata.txova-db]\nmigrations = \"m\"\ndialect = \"oracle\"\n",
        );
        assert!(
            metadata(&dialect)
                .err()
                .expect("refused")
                .contains("`dialect` is one of")
        );
        for dir in [silent, wrong, dialect] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
