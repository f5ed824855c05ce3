//! Index advice: a documented rule over a plan's full scans, not a cost model.

use std::fmt;

use super::{Plan, PlanNode};
use crate::error::Backend;

/// An index that would serve a full scan of a plan, from [`Plan::advice`].
///
/// The rule: a step that reads the whole of a table *and* filters its rows by some of
/// its columns, or feeds a sort by some of them, would be served by an index on the
/// filtered columns (in the order the condition names them) followed by the sorted
/// ones. The columns come from the step's condition where the backend prints one
/// (Postgres' `Filter`, MariaDB's `attached_condition`), else from the statement's
/// `WHERE` (SQLite); sort columns from the plan's sort step (Postgres `Sort`, MariaDB
/// `filesort`), else the statement's `ORDER BY` (SQLite's temporary B-tree). A full
/// scan that neither filters nor sorts (every row wanted) gets no advice. The rule
/// does not weigh table sizes or selectivity: on a table of a few rows a full scan is
/// the right plan, and the advice says only what index would let the planner choose
/// otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexAdvice {
    /// The backend the statement to create it is written for.
    pub backend: Backend,
    /// The table.
    pub table: String,
    /// The columns, in index order.
    pub columns: Vec<String>,
}

impl fmt::Display for IndexAdvice {
    /// `CREATE INDEX "rides_status_idx" ON "rides" ("status")`, quoted for the backend.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = |name: &str| match self.backend {
            Backend::MySql => format!("`{}`", name.replace('`', "``")),
            Backend::Postgres | Backend::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
        };
        let name = format!("{}_{}_idx", self.table, self.columns.join("_"));
        let columns: Vec<String> = self.columns.iter().map(|c| quote(c)).collect();
        write!(
            f,
            "CREATE INDEX {} ON {} ({})",
            quote(&name),
            quote(&self.table),
            columns.join(", ")
        )
    }
}

pub(super) fn advise(plan: &Plan) -> Vec<IndexAdvice> {
    let mut out: Vec<IndexAdvice> = Vec::new();
    let sorted = sort_keys(plan);
    for scan in plan.seq_scans() {
        let Some(table) = scan.relation.as_deref() else {
            continue;
        };
        let filter = match &scan.condition {
            Some(condition) => compared_columns(condition),
            None if plan.backend == Backend::Sqlite => clause(
                plan.sql(),
                " WHERE ",
                &[" GROUP BY ", " ORDER BY ", " LIMIT ", " RETURNING "],
            )
            .map(compared_columns)
            .unwrap_or_default(),
            None => Vec::new(),
        };
        let mut columns: Vec<String> = Vec::new();
        for (qualifier, column) in filter.iter().chain(&sorted) {
            if qualifier.as_deref().is_none_or(|q| q == table) && !columns.contains(column) {
                columns.push(column.clone());
            }
        }
        let advice = IndexAdvice {
            backend: plan.backend,
            table: table.to_owned(),
            columns,
        };
        if !advice.columns.is_empty() && !out.contains(&advice) {
            out.push(advice);
        }
    }
    out
}

/// The columns the plan sorts by: its sort steps' keys, or on SQLite (whose sort step
/// names none) the statement's `ORDER BY`.
fn sort_keys(plan: &Plan) -> Vec<(Option<String>, String)> {
    let from_nodes: Vec<_> = plan
        .nodes()
        .flat_map(|node: &PlanNode| &node.sort_key)
        .filter_map(|key| first_identifier(key))
        .collect();
    if !from_nodes.is_empty() {
        return from_nodes;
    }
    let sorts_in_temp = plan
        .nodes()
        .any(|node| node.operation.contains("FOR ORDER BY"));
    if plan.backend == Backend::Sqlite && sorts_in_temp {
        return clause(plan.sql(), " ORDER BY ", &[" LIMIT ", " OFFSET ", " FOR "])
            .map(|keys| keys.split(',').filter_map(first_identifier).collect())
            .unwrap_or_default();
    }
    Vec::new()
}

/// The text between `start` and the first of `ends` after it (keywords matched in any
/// case), in statements our builders write or others alike.
fn clause<'s>(sql: &'s str, start: &str, ends: &[&str]) -> Option<&'s str> {
    let upper = sql.to_ascii_uppercase();
    let from = upper.find(start)? + start.len();
    let to = ends
        .iter()
        .filter_map(|end| upper[from..].find(end).map(|at| from + at))
        .min()
        .unwrap_or(sql.len());
    Some(&sql[from..to])
}

/// A token of a condition, as far as finding compared columns needs.
#[derive(Debug, PartialEq)]
enum Token {
    /// A column or table name, qualified (`rides.status`, `"rides"."status"`).
    Name(Vec<String>),
    /// A comparison: `=`, `<>`, `<`, `~~`, `IN`, `IS`, `LIKE`, `BETWEEN`.
    Comparison,
    /// `(`, which after a name makes it a function.
    Open,
    /// `::`, after which comes a type name (Postgres).
    Cast,
    /// Anything else: literals, `)`, `AND`, commas.
    Other,
}

const COMPARISONS: [&str; 7] = ["IN", "IS", "LIKE", "ILIKE", "BETWEEN", "ANY", "SIMILAR"];
const KEYWORDS: [&str; 8] = [
    "AND", "OR", "NOT", "NULL", "TRUE", "FALSE", "CASE", "ESCAPE",
];

fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => {
                // A string literal, '' inside.
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token::Other);
            }
            '"' | '`' | '_' | 'a'..='z' | 'A'..='Z' => {
                let mut parts = Vec::new();
                loop {
                    let (part, next) = name_part(&chars, i);
                    parts.push(part);
                    i = next;
                    if chars.get(i) == Some(&'.')
                        && chars.get(i + 1).is_some_and(|c| {
                            c.is_alphabetic() || *c == '"' || *c == '`' || *c == '_'
                        })
                    {
                        i += 1;
                        continue;
                    }
                    break;
                }
                let word = parts
                    .last()
                    .map(|p| p.to_ascii_uppercase())
                    .unwrap_or_default();
                let bare = parts.len() == 1 && !matches!(c, '"' | '`');
                out.push(if bare && COMPARISONS.contains(&word.as_str()) {
                    Token::Comparison
                } else if bare && KEYWORDS.contains(&word.as_str()) {
                    Token::Other
                } else {
                    Token::Name(parts)
                });
            }
            ':' if chars.get(i + 1) == Some(&':') => {
                out.push(Token::Cast);
                i += 2;
            }
            '=' | '<' | '>' | '!' | '~' => {
                while i < chars.len() && matches!(chars[i], '=' | '<' | '>' | '!' | '~' | '*') {
                    i += 1;
                }
                out.push(Token::Comparison);
            }
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                out.push(Token::Other);
                i += 1;
            }
        }
    }
    out
}

/// One part of a name at `i`: quoted (`"a""b"`, `` `a` ``) or bare; the part and where
/// the text after it starts.
fn name_part(chars: &[char], mut i: usize) -> (String, usize) {
    let mut part = String::new();
    match chars[i] {
        quote @ ('"' | '`') => {
            i += 1;
            while i < chars.len() {
                if chars[i] == quote {
                    if chars.get(i + 1) == Some(&quote) {
                        part.push(quote);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                part.push(chars[i]);
                i += 1;
            }
        }
        _ => {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                part.push(chars[i]);
                i += 1;
            }
        }
    }
    (part, i)
}

/// The columns a condition compares, each with its qualifier if it has one, in order.
pub(super) fn compared_columns(condition: &str) -> Vec<(Option<String>, String)> {
    let tokens = tokens(condition);
    let mut out = Vec::new();
    let mut after_cast = false;
    for (at, token) in tokens.iter().enumerate() {
        let Token::Name(parts) = token else {
            after_cast = matches!(token, Token::Cast);
            continue;
        };
        // A type name after `::` (`::timestamp with time zone`) is no column.
        if after_cast {
            continue;
        }
        let before = at.checked_sub(1).map(|b| &tokens[b]);
        let next = tokens.get(at + 1);
        let compared =
            matches!(next, Some(Token::Comparison)) || matches!(before, Some(Token::Comparison));
        if compared && !matches!(next, Some(Token::Open)) {
            let column = parts[parts.len() - 1].clone();
            let qualifier = (parts.len() > 1).then(|| parts[parts.len() - 2].clone());
            if !out.iter().any(|(q, c)| *q == qualifier && *c == column) {
                out.push((qualifier, column));
            }
        }
    }
    out
}

/// The first name in a sort key (`rides.at DESC`, `"rides"."at"`).
fn first_identifier(key: &str) -> Option<(Option<String>, String)> {
    tokens(key).into_iter().find_map(|token| match token {
        Token::Name(parts) => {
            let column = parts.last()?.clone();
            let qualifier = (parts.len() > 1).then(|| parts[parts.len() - 2].clone());
            Some((qualifier, column))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(condition: &str) -> Vec<String> {
        compared_columns(condition)
            .into_iter()
            .map(|(q, c)| match q {
                Some(q) => format!("{q}.{c}"),
                None => c,
            })
            .collect()
    }

    #[test]
    fn finds_compared_columns_in_each_backends_words() {
        assert_eq!(names("(status = 'active'::text)"), ["status"]);
        assert_eq!(
            names(
                "((rider_id = 5) AND (created_at > '2026-01-01 00:00:00+00'::timestamp with time zone))"
            ),
            ["rider_id", "created_at"]
        );
        assert_eq!(
            names("rides.`status` = 'a' and rides.fare > 3"),
            ["rides.status", "rides.fare"]
        );
        assert_eq!(
            names(r#""rides"."status" = ? AND "rides"."driver_id" IS NULL"#),
            ["rides.status", "rides.driver_id"]
        );
        assert_eq!(names("(lower(email) = 'x'::text)"), Vec::<String>::new());
        assert_eq!(names("(note ~~ 'a%''b'::text)"), ["note"]);
        assert_eq!(names("id IN (1, 2)"), ["id"]);
    }

    #[test]
    fn reads_the_first_name_of_a_sort_key() {
        assert_eq!(
            first_identifier("rides.created_at DESC"),
            Some((Some("rides".into()), "created_at".into()))
        );
        assert_eq!(first_identifier(r#""at""#), Some((None, "at".into())));
    }

    #[test]
    fn advice_names_its_index_and_quotes_for_the_backend() {
        let advice = IndexAdvice {
            backend: Backend::MySql,
            table: "rides".into(),
            columns: vec!["status".into(), "at".into()],
        };
        assert_eq!(
            advice.to_string(),
            "CREATE INDEX `rides_status_at_idx` ON `rides` (`status`, `at`)"
        );
    }
}
