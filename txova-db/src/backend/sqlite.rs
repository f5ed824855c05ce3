//! SQLite: errors carry an extended result code; the constraint and table are read
//! from the message.

use super::{Backend, Engine, ServerError};
use crate::error::{ErrorKind, kind_for_sqlite_code};

impl Engine for sqlx::Sqlite {
    const BACKEND: Backend = Backend::Sqlite;

    fn read_error(error: &dyn sqlx::error::DatabaseError) -> Option<ServerError> {
        error.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
        let code = error.code().map(|c| c.into_owned()).unwrap_or_default();
        let kind = code
            .parse::<i32>()
            .map_or(ErrorKind::Database, kind_for_sqlite_code);
        let (constraint, table) = constraint_in(error.message());
        Some(ServerError {
            backend: Backend::Sqlite,
            kind,
            code,
            constraint,
            table,
            // Names columns and constraints, never values.
            message: error.message().to_owned(),
        })
    }
}

/// SQLite names no constraint, only the columns: `UNIQUE constraint failed: users.email`
/// gives constraint `users.email` and table `users`. A named CHECK gives its name:
/// `CHECK constraint failed: positive_amount`.
fn constraint_in(message: &str) -> (Option<String>, Option<String>) {
    let Some((_, detail)) = message.split_once("constraint failed: ") else {
        return (None, None);
    };
    let detail = detail.trim();
    let table = detail
        .split_once('.')
        .map(|(table, _)| table.to_owned())
        .filter(|t| !t.contains(' '));
    (Some(detail.to_owned()), table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_from_message() {
        assert_eq!(
            constraint_in("UNIQUE constraint failed: users.email"),
            (Some("users.email".into()), Some("users".into()))
        );
        assert_eq!(
            constraint_in("CHECK constraint failed: positive amount"),
            (Some("positive amount".into()), None)
        );
        assert_eq!(constraint_in("database is locked"), (None, None));
    }
}
