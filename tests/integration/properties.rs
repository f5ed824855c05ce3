//! Properties of hostile input, over random cases (proptest): values and identifiers
//! through the builders make SQL of exactly the intended shape once parsed back with
//! `sqlparser` for each dialect (one statement, every value a placeholder, every
//! identifier quoted and intact); key-template arguments never make two inputs share a
//! key nor leave a glob character; sort strings give an allowlisted key or a clear
//! error.

use std::ops::ControlFlow;

use proptest::prelude::*;
use sqlparser::ast::{Expr, Statement as Parsed, Value, visit_expressions, visit_relations};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use txova_db::cache::CacheKey;
use txova_db::{Backend, Direction, ErrorKind, Select, Table};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "prop_rows")]
pub struct PropRow {
    #[column(primary_key, generated)]
    pub id: i64,
    #[column(sortable)]
    pub name: String,
    #[column(sortable)]
    pub score: i64,
    pub secret: String,
    pub note: Option<String>,
}

const BACKENDS: [Backend; 3] = [Backend::Postgres, Backend::Sqlite, Backend::MySql];

fn dialect(backend: Backend) -> Box<dyn Dialect> {
    match backend {
        Backend::Sqlite => Box::new(SQLiteDialect {}),
        Backend::MySql => Box::new(MySqlDialect {}),
        _ => Box::new(PostgreSqlDialect {}),
    }
}

/// Parses `sql` as `backend` reads it: exactly one statement.
fn parse_one(sql: &str, backend: Backend) -> Result<Parsed, TestCaseError> {
    let mut statements = Parser::parse_sql(&*dialect(backend), sql)
        .map_err(|e| TestCaseError::fail(format!("{backend}: {e}: {sql}")))?;
    prop_assert_eq!(statements.len(), 1, "{}: {}", backend, sql);
    Ok(statements.remove(0))
}

/// The statement's values: every one must be a placeholder (or a keyword value the
/// builder writes itself: TRUE, FALSE, NULL); returns how many placeholders it has.
fn placeholders_only(statement: &Parsed, sql: &str) -> Result<usize, TestCaseError> {
    let mut placeholders = 0;
    let mut inlined = None;
    let _ = visit_expressions(statement, |expr| {
        if let Expr::Value(value) = expr {
            match &value.value {
                Value::Placeholder(_) => placeholders += 1,
                Value::Boolean(_) | Value::Null => {}
                other => {
                    inlined = Some(format!("{other:?}"));
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    });
    if let Some(value) = inlined {
        return Err(TestCaseError::fail(format!(
            "a value inlined ({value}): {sql}"
        )));
    }
    Ok(placeholders)
}

/// Every relation the statement names is quoted and spelled `expected`.
fn relations_quoted(statement: &Parsed, expected: &str, sql: &str) -> Result<(), TestCaseError> {
    let mut bad = None;
    let _ = visit_relations(statement, |name| {
        for part in &name.0 {
            match part.as_ident() {
                Some(ident) if ident.quote_style.is_some() && ident.value == expected => {}
                other => {
                    bad = Some(format!("{other:?}"));
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    });
    match bad {
        Some(part) => Err(TestCaseError::fail(format!("relation {part}: {sql}"))),
        None => Ok(()),
    }
}

/// Any text: quotes, backslashes, comment and statement markers, unicode, NUL.
fn hostile() -> impl Strategy<Value = String> {
    r#"[a-zA-Z0-9 '"`\\;:?$%*/\-#\n\x00é中😀]{0,16}"#
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Values through every typed builder path are placeholders, never SQL.
    #[test]
    fn values_are_always_placeholders(
        text in hostile(),
        texts in proptest::collection::vec(hostile(), 1..4),
        number in any::<i64>(),
    ) {
        let row = PropRow {
            id: 0,
            name: text.clone(),
            score: number,
            secret: text.clone(),
            note: Some(text.clone()),
        };
        for backend in BACKENDS {
            let mut statements = vec![
                PropRow::select()
                    .filter(
                        (PropRow::name.eq(text.clone()) & PropRow::score.gt(number))
                            | PropRow::name.is_in(texts.clone())
                            | PropRow::note.is_null()
                            | PropRow::secret.ne(text.clone()),
                    )
                    .to_sql_for(backend),
                PropRow::update()
                    .set(PropRow::name, text.clone())
                    .set(PropRow::note, None::<String>)
                    .filter(PropRow::score.le(number))
                    .to_sql_for(backend),
                PropRow::delete()
                    .filter(PropRow::name.eq(text.clone()))
                    .to_sql_for(backend),
            ];
            // An insert may be split into chunks: each is one statement.
            statements.extend(PropRow::insert(&row).to_sql_for(backend));
            for statement in statements {
                let sql = statement.sql();
                let parsed = parse_one(sql, backend)?;
                let placeholders = placeholders_only(&parsed, sql)?;
                prop_assert_eq!(placeholders, statement.params().len(), "{}", sql);
                relations_quoted(&parsed, "prop_rows", sql)?;
            }
        }
    }

    /// A table and column names from outside, through the dynamic builder: each is
    /// quoted and intact, or refused (NUL, empty) with `InvalidColumn`; never SQL.
    #[test]
    fn names_from_outside_are_quoted_or_refused(
        table in hostile(),
        columns in proptest::collection::vec(hostile(), 1..4),
        sort in hostile(),
    ) {
        for backend in BACKENDS {
            let built = Select::from(table.clone())
                .columns(columns.clone())
                .and_then(|select| select.order_by_name(&sort, Direction::Desc));
            let bad_name = |name: &str| name.is_empty() || name.contains('\0');
            let refused = columns.iter().any(|c| bad_name(c)) || bad_name(&sort);
            match built {
                Err(err) => {
                    prop_assert!(refused, "{}: refused {:?}", backend, err);
                    prop_assert_eq!(err.kind(), ErrorKind::InvalidColumn);
                }
                Ok(select) => {
                    prop_assert!(!refused, "{}: accepted a NUL or empty name", backend);
                    if table.is_empty() || table.contains('\0') {
                        // Not a name a server would take; nothing to parse back.
                        continue;
                    }
                    let statement = select.to_sql_for(backend);
                    let sql = statement.sql();
                    let parsed = parse_one(sql, backend)?;
                    relations_quoted(&parsed, &table, sql)?;
                    prop_assert_eq!(placeholders_only(&parsed, sql)?, 0);
                }
            }
        }
    }

    /// Sort keys from outside: an allowlisted key (a sortable column, `-` for
    /// descending, `+` optional) or `InvalidColumn` naming the key and the choices.
    #[test]
    fn sort_strings_are_allowlisted_keys_or_clear_errors(key in hostile()) {
        let allowed = ["name", "+name", "-name", "score", "+score", "-score"];
        match key.parse::<PropRowSort>() {
            Ok(sort) => prop_assert!(allowed.contains(&key.as_str()), "{key:?} -> {sort}"),
            Err(err) => {
                prop_assert!(!allowed.contains(&key.as_str()));
                prop_assert_eq!(&err.key, &key);
                prop_assert_eq!(err.expected, "name, score");
                let err: txova_db::Error = err.into();
                prop_assert_eq!(err.kind(), ErrorKind::InvalidColumn);
            }
        }
        // The same through the runtime path.
        let by_name = PropRow::select().order_by_name(key.trim_start_matches(['+', '-']), Direction::Asc);
        let bare = key.trim_start_matches(['+', '-']);
        prop_assert_eq!(by_name.is_ok(), bare == "name" || bare == "score", "{:?}", key);
    }

    /// An allowlist set after names were given checks them then: `allowlist` succeeds
    /// exactly when every column and sort name given before is on the list, and the
    /// statement it leaves names only listed columns. Before the list, only names that
    /// could never be a column (empty, or holding NUL) are refused.
    #[test]
    fn an_allowlist_set_late_refuses_the_names_given_before_it(
        columns in proptest::collection::vec(prop_oneof![Just("id".to_owned()), Just("name".to_owned()), hostile()], 1..4),
        sort in prop_oneof![Just("name".to_owned()), hostile()],
        listed in proptest::collection::vec(prop_oneof![Just("id".to_owned()), Just("name".to_owned()), hostile()], 0..4),
    ) {
        let never = |name: &str| name.is_empty() || name.contains('\0');
        let select = Select::from("prop_rows").columns(columns.iter().map(String::as_str));
        let select = match select {
            Ok(select) => select,
            Err(err) => {
                prop_assert!(columns.iter().any(|c| never(c)), "{:?}: {}", columns, err);
                prop_assert_eq!(err.kind(), ErrorKind::InvalidColumn);
                return Ok(());
            }
        };
        prop_assert!(!columns.iter().any(|c| never(c)));
        let select = match select.order_by_name(&sort, Direction::Desc) {
            Ok(select) => select,
            Err(err) => {
                prop_assert!(never(&sort), "{:?}: {}", sort, err);
                return Ok(());
            }
        };
        let given: Vec<&String> = columns.iter().chain([&sort]).collect();
        let all_listed = given.iter().all(|name| listed.contains(name));
        match select.allowlist(listed.iter().map(String::as_str)) {
            Ok(select) => {
                prop_assert!(all_listed, "{:?} passed the list {:?}", given, listed);
                for backend in BACKENDS {
                    let sql = select.to_sql_for(backend).sql().to_owned();
                    parse_one(&sql, backend)?;
                }
            }
            Err(err) => {
                prop_assert!(!all_listed, "{:?} refused by the list {:?}: {}", given, listed, err);
                prop_assert_eq!(err.kind(), ErrorKind::InvalidColumn);
            }
        }
    }

    /// Key-template parts: distinct arguments, distinct keys; and a part never holds a
    /// separator, a glob character, a hash tag brace, whitespace or a control character.
    #[test]
    fn cache_key_parts_are_injective_and_inert(
        a in hostile(), b in hostile(), c in hostile(), d in hostile(),
    ) {
        let key = |x: &str, y: &str| CacheKey::new("user:profile").part(x).part(y).finish();
        let (first, second) = (key(&a, &b), key(&c, &d));
        prop_assert_eq!(first == second, (&a, &b) == (&c, &d), "{} / {}", first, second);
        let parts = first.strip_prefix("user:profile:").expect("the prefix");
        let (x, y) = parts.split_once(':').expect("exactly one separator between the parts");
        for part in [x, y] {
            prop_assert!(
                !part.chars().any(|ch| matches!(ch, ':' | '*' | '?' | '[' | ']' | '{' | '}' | '\\')
                    || ch.is_whitespace()
                    || ch.is_control()),
                "{:?} holds an active character", part
            );
        }
    }
}
