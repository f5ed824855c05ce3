//! The crate's layering, checked: a module imports only modules on its own floor or
//! below (DEVELOPERS.md draws the map). Test-only.

use std::collections::BTreeSet;
use std::path::Path;

/// Floors, bottom first. A module may import from its own floor and those below.
const FLOORS: &[&[&str]] = &[
    // ground: errors (with the payloads other modules report), engines, tokens, pages
    &[
        "error",
        "backend",
        "token",
        "page",
        "seconds",
        "observability",
    ],
    // what both chains use: retry and circuit breaking, over errors only
    &["resilience"],
    // values and rows
    &["types", "row"],
    // SQL text
    &["sql"],
    // the executor trait
    &["executor"],
    // the typed builder and raw queries
    &[
        "table", "column", "expr", "select", "write", "query", "schema", "plan",
    ],
    // the pool and its handle
    &["config", "db", "n_plus_one", "testing"],
    &["transaction"],
    &["migrate"],
    // the store chain
    &["store"],
    &["cache", "lock", "session", "rate_limit"],
    // what watches both chains
    &["health"],
    // the macros' facade, which may reach anything
    &["__private"],
];

fn floor(module: &str) -> Option<usize> {
    FLOORS.iter().position(|floor| floor.contains(&module))
}

/// The module a source file belongs to: its first path component.
fn module_of(path: &Path, src: &Path) -> String {
    let relative = path.strip_prefix(src).expect("under src");
    let first = relative
        .components()
        .next()
        .expect("a component")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn nothing_below_imports_anything_above() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = BTreeSet::new();
    let mut unplaced = BTreeSet::new();
    for file in &files {
        let module = module_of(file, &src);
        if module == "lib" || module == "layering" {
            continue;
        }
        let Some(own) = floor(&module) else {
            unplaced.insert(module);
            continue;
        };
        let source = std::fs::read_to_string(file).expect("a source file");
        // Comments (doc links among them) name items without depending on them.
        let text: String = source
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for piece in text.split("crate::").skip(1) {
            let target: String = piece
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if target == module {
                continue;
            }
            match floor(&target) {
                Some(theirs) if theirs > own => {
                    upward.insert(format!(
                        "{} imports {target} (floor {theirs} > {own})",
                        file.strip_prefix(&src).expect("under src").display()
                    ));
                }
                Some(_) => {}
                // Items of the crate root (`crate::Db` in a doc link) are re-exports.
                None => {}
            }
        }
    }
    assert!(unplaced.is_empty(), "modules on no floor: {unplaced:?}");
    assert!(upward.is_empty(), "imports that point up:\n{upward:#?}");
}
