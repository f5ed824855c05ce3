//! The SQL syntax tree the builders assemble and render: column references,
//! conditions, aggregates and `LIKE` patterns, each written for the backend at hand.
//! The typed builder (`expr`, `column`, `select`, `write`) makes these; only this
//! module knows how they read as SQL.

use std::sync::Arc;

use crate::error::{Backend, Error};
use crate::sql::SqlWriter;
use crate::types::Param;

/// A table and column name, as the SQL will name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColRef {
    pub(crate) table: &'static str,
    pub(crate) name: &'static str,
}

/// A `SELECT` nested in a condition: written into the outer statement's writer, so
/// its placeholders continue the outer statement's numbering.
pub(crate) trait Subquery: Send + Sync {
    fn write_subquery(&self, w: &mut SqlWriter) -> Result<(), Error>;
}

pub(crate) enum Node {
    /// `column [NOT] IN (SELECT …)`.
    InSubquery {
        column: ColRef,
        query: Arc<dyn Subquery>,
        negated: bool,
    },
    /// `column <op> (SELECT …)`, a scalar subquery.
    CompareSubquery {
        column: ColRef,
        op: &'static str,
        query: Arc<dyn Subquery>,
    },
    /// `[NOT] EXISTS (SELECT …)`.
    Exists {
        query: Arc<dyn Subquery>,
        negated: bool,
    },
    Compare {
        column: ColRef,
        op: &'static str,
        value: Arc<dyn Param>,
    },
    ColumnCompare {
        left: ColRef,
        op: &'static str,
        right: ColRef,
    },
    Between {
        column: ColRef,
        low: Arc<dyn Param>,
        high: Arc<dyn Param>,
    },
    In {
        column: ColRef,
        values: Vec<Arc<dyn Param>>,
        negated: bool,
    },
    Like {
        column: ColRef,
        pattern: String,
        insensitive: bool,
    },
    Null {
        column: ColRef,
        negated: bool,
    },
    /// An aggregate compared with a value, for `HAVING`.
    Aggregate {
        aggregate: AggregateRef,
        op: &'static str,
        value: Arc<dyn Param>,
    },
    /// Row-value comparison `(a, b) > ($1, $2)`, for keyset pagination.
    RowCompare {
        columns: Vec<ColRef>,
        op: &'static str,
        values: Vec<Arc<dyn Param>>,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Const(bool),
    Raw {
        sql: &'static str,
        params: Vec<Arc<dyn Param>>,
    },
}

impl Node {
    pub(crate) fn write(&self, w: &mut SqlWriter) -> Result<(), Error> {
        match self {
            Self::Compare { column, op, value } => {
                w.qualified(column.table, column.name);
                w.push(" ");
                w.push(op);
                w.push(" ");
                w.bind(clone_param(value));
            }
            Self::ColumnCompare { left, op, right } => {
                w.qualified(left.table, left.name);
                w.push(" ");
                w.push(op);
                w.push(" ");
                w.qualified(right.table, right.name);
            }
            Self::Between { column, low, high } => {
                w.qualified(column.table, column.name);
                w.push(" BETWEEN ");
                w.bind(clone_param(low));
                w.push(" AND ");
                w.bind(clone_param(high));
            }
            Self::In {
                column,
                values,
                negated,
            } => {
                w.qualified(column.table, column.name);
                // On Postgres, one array for the whole list: one statement text for
                // every length (`NOT IN` is `<> ALL`, NULLs included).
                #[cfg(feature = "postgres")]
                if w.backend() == Backend::Postgres
                    && let Some(array) = crate::types::pg_array::PgArray::of(values)
                {
                    w.push(if *negated { " <> ALL(" } else { " = ANY(" });
                    w.bind(Arc::new(array));
                    w.push(")");
                    return Ok(());
                }
                w.push(if *negated { " NOT IN (" } else { " IN (" });
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        w.push(", ");
                    }
                    w.bind(clone_param(value));
                }
                w.push(")");
            }
            Self::Like {
                column,
                pattern,
                insensitive,
            } => write_like(w, *column, pattern, *insensitive),
            Self::InSubquery {
                column,
                query,
                negated,
            } => {
                w.qualified(column.table, column.name);
                w.push(if *negated { " NOT IN (" } else { " IN (" });
                query.write_subquery(w)?;
                w.push(")");
            }
            Self::CompareSubquery { column, op, query } => {
                w.qualified(column.table, column.name);
                w.push(" ");
                w.push(op);
                w.push(" (");
                query.write_subquery(w)?;
                w.push(")");
            }
            Self::Exists { query, negated } => {
                w.push(if *negated { "NOT EXISTS (" } else { "EXISTS (" });
                query.write_subquery(w)?;
                w.push(")");
            }
            Self::Null { column, negated } => {
                w.qualified(column.table, column.name);
                w.push(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Self::Aggregate {
                aggregate,
                op,
                value,
            } => {
                aggregate.write(w);
                w.push(" ");
                w.push(op);
                w.push(" ");
                w.bind(clone_param(value));
            }
            Self::RowCompare {
                columns,
                op,
                values,
            } => {
                w.push("(");
                for (i, column) in columns.iter().enumerate() {
                    if i > 0 {
                        w.push(", ");
                    }
                    w.qualified(column.table, column.name);
                }
                w.push(") ");
                w.push(op);
                w.push(" (");
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        w.push(", ");
                    }
                    w.bind(clone_param(value));
                }
                w.push(")");
            }
            Self::And(nodes) | Self::Or(nodes) => {
                let joiner = if matches!(self, Self::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                w.push("(");
                for (i, node) in nodes.iter().enumerate() {
                    if i > 0 {
                        w.push(joiner);
                    }
                    node.write(w)?;
                }
                w.push(")");
            }
            Self::Not(inner) => {
                w.push("NOT (");
                inner.write(w)?;
                w.push(")");
            }
            Self::Const(true) => w.push("1 = 1"),
            Self::Const(false) => w.push("1 = 0"),
            Self::Raw { sql, params } => {
                w.push("(");
                w.raw(sql, params.iter().map(clone_param).collect())?;
                w.push(")");
            }
        }
        Ok(())
    }
}

/// Builders keep their values so that `to_sql()` and execution can both render them;
/// rendering shares each value.
pub(crate) fn clone_param(param: &Arc<dyn Param>) -> Arc<dyn Param> {
    Arc::clone(param)
}

/// The SQL of an aggregate: function, argument, and the cast that gives every backend
/// the same result type.
#[derive(Clone)]
pub(crate) struct AggregateRef {
    pub(crate) function: &'static str,
    pub(crate) column: Option<ColRef>,
    pub(crate) cast: Option<Cast>,
}

#[derive(Clone, Copy)]
pub(crate) enum Cast {
    Integer,
    Float,
}

impl AggregateRef {
    pub(crate) fn write(&self, w: &mut SqlWriter) {
        let cast = self.cast.map(|cast| match (cast, w.backend()) {
            (Cast::Integer, Backend::MySql) => "SIGNED",
            (Cast::Integer, _) => "BIGINT",
            (Cast::Float, Backend::MySql) => "DOUBLE",
            (Cast::Float, _) => "DOUBLE PRECISION",
        });
        if cast.is_some() {
            w.push("CAST(");
        }
        w.push(self.function);
        w.push("(");
        match &self.column {
            Some(c) => w.qualified(c.table, c.name),
            None => w.push("*"),
        }
        w.push(")");
        if let Some(cast) = cast {
            w.push(" AS ");
            w.push(cast);
            w.push(")");
        }
    }
}

/// Converts a SQL `LIKE` pattern (with `\` escapes) into the equivalent SQLite `GLOB`.
pub(crate) fn like_to_glob(pattern: &str) -> String {
    let mut glob = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => push_glob_literal(&mut glob, escaped),
                None => push_glob_literal(&mut glob, '\\'),
            },
            '%' => glob.push('*'),
            '_' => glob.push('?'),
            other => push_glob_literal(&mut glob, other),
        }
    }
    glob
}

fn push_glob_literal(glob: &mut String, c: char) {
    match c {
        '*' | '?' | '[' => {
            glob.push('[');
            glob.push(c);
            glob.push(']');
        }
        other => glob.push(other),
    }
}

pub(crate) fn write_like(w: &mut SqlWriter, column: ColRef, pattern: &str, insensitive: bool) {
    match (w.backend(), insensitive) {
        (Backend::Postgres, false) | (Backend::MySql, false) => {
            w.qualified(column.table, column.name);
            w.push(" LIKE ");
            w.bind(Arc::new(pattern.to_owned()));
        }
        (Backend::Postgres, true) => {
            w.qualified(column.table, column.name);
            w.push(" ILIKE ");
            w.bind(Arc::new(pattern.to_owned()));
        }
        (Backend::Sqlite, false) => {
            w.qualified(column.table, column.name);
            w.push(" GLOB ");
            w.bind(Arc::new(like_to_glob(pattern)));
        }
        (Backend::Sqlite, true) | (Backend::MySql, true) => {
            w.push("lower(");
            w.qualified(column.table, column.name);
            w.push(") LIKE lower(");
            w.bind(Arc::new(pattern.to_owned()));
            w.push(if w.backend() == Backend::Sqlite {
                ") ESCAPE '\\'"
            } else {
                ")"
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::like_to_glob;

    #[test]
    fn like_patterns_become_globs() {
        assert_eq!(like_to_glob("Ana%"), "Ana*");
        assert_eq!(like_to_glob("_b%"), "?b*");
        assert_eq!(like_to_glob(r"100\%"), "100%");
        assert_eq!(like_to_glob(r"a\_b"), "a_b");
        assert_eq!(like_to_glob("what?*[x]"), "what[?][*][[]x]");
    }
}
