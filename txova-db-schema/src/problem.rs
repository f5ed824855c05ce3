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
        "{at}: the statement does not parse ({error}); fix it, or put `-- txova:schema-skip` on the line before it"
    )]
    Parse {
        /// Where.
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
