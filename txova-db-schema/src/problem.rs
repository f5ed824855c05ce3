//! What the replay could not do, each with the statement it met it at.

use std::path::PathBuf;

use crate::model::Origin;

/// A statement the replay could not apply, or a directory it could not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The directory or a file in it could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// What was being read.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// The parser refused the statement.
    #[error(
        "{at}: the statement does not parse ({reason}); fix it, or put `-- txova:schema-skip` on the line before it",
        reason = parse_reason(error)
    )]
    Parse {
        /// Where: the line the parser stopped at.
        at: Origin,
        /// The parser's reason.
        error: sqlparser::parser::ParserError,
    },
    /// The statement parses, but the replay does not know what it does to the schema.
    #[error(
        "{at}: `{statement}` is not understood by the schema replay; put `-- txova:schema-skip` on the line before it if it changes no column the derive checks"
    )]
    Unsupported {
        /// Where.
        at: Origin,
        /// The statement's first words.
        statement: String,
    },
    /// A statement names a table no earlier migration creates.
    #[error("{at}: table `{table}` does not exist at this point of the migrations")]
    NoSuchTable {
        /// Where.
        at: Origin,
        /// The table.
        table: String,
    },
    /// `CREATE TABLE` of a table that exists (without `IF NOT EXISTS`).
    #[error("{at}: table `{table}` already exists at this point of the migrations")]
    TableExists {
        /// Where.
        at: Origin,
        /// The table.
        table: String,
    },
    /// A statement names a column its table does not have.
    #[error("{at}: table `{table}` has no column `{column}` at this point of the migrations")]
    NoSuchColumn {
        /// Where.
        at: Origin,
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// `ADD COLUMN` of a column that exists (without `IF NOT EXISTS`).
    #[error("{at}: table `{table}` already has a column `{column}`")]
    ColumnExists {
        /// Where.
        at: Origin,
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
}

/// The parser's reason without its position, which counts from the statement's start
/// (the problem's [`Origin`] gives the file's line instead).
fn parse_reason(error: &sqlparser::parser::ParserError) -> String {
    let text = error.to_string();
    let text = text.strip_prefix("sql parser error: ").unwrap_or(&text);
    match text.rfind(" at Line: ") {
        Some(at) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

/// The 1-based line, counted from the statement's start, that a parser error names.
pub(crate) fn parse_error_line(error: &sqlparser::parser::ParserError) -> Option<usize> {
    let text = error.to_string();
    let rest = &text[text.rfind(" at Line: ")? + " at Line: ".len()..];
    rest.split(',').next()?.trim().parse().ok()
}
