//! MySQL and MariaDB: errors carry a server error number; the constraint is read from
//! the message.

use super::{Backend, Engine, ServerError};
use crate::error::kind_for_mysql_code;

impl Engine for sqlx::MySql {
    const BACKEND: Backend = Backend::MySql;

    fn read_error(error: &dyn sqlx::error::DatabaseError) -> Option<ServerError> {
        let my = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()?;
        let number = my.number();
        Some(ServerError {
            backend: Backend::MySql,
            kind: kind_for_mysql_code(number),
            code: number.to_string(),
            constraint: constraint_in(number, my.message()),
            table: None,
        })
    }
}

/// MySQL puts the key name in the message: `Duplicate entry 'a' for key 'users.email'`,
/// `... CONSTRAINT `fk_x` FOREIGN KEY ...`, `Check constraint 'positive' is violated`.
fn constraint_in(number: u16, message: &str) -> Option<String> {
    let quoted_after = |marker: &str, quote: char| {
        let rest = &message[message.find(marker)? + marker.len()..];
        let rest = rest.strip_prefix(quote)?;
        rest.split(quote).next().map(str::to_owned)
    };
    match number {
        1062 | 1586 => quoted_after("for key ", '\''),
        1451 | 1452 | 1216 | 1217 => quoted_after("CONSTRAINT ", '`'),
        3819 | 4025 => {
            quoted_after("CONSTRAINT ", '`').or_else(|| quoted_after("constraint ", '\''))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_from_message() {
        assert_eq!(
            constraint_in(1062, "Duplicate entry 'a@b' for key 'users.email'"),
            Some("users.email".into())
        );
        assert_eq!(
            constraint_in(
                1452,
                "Cannot add or update a child row: a foreign key constraint fails (`test`.`rides`, CONSTRAINT `rides_user_fk` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`))"
            ),
            Some("rides_user_fk".into())
        );
        assert_eq!(
            constraint_in(4025, "CONSTRAINT `positive` failed for `test`.`t`"),
            Some("positive".into())
        );
        assert_eq!(
            constraint_in(3819, "Check constraint 'positive' is violated."),
            Some("positive".into())
        );
    }
}
