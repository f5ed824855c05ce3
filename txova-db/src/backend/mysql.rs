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
            message: message_without_values(number, my.message()),
        })
    }
}

/// MySQL quotes the values it refused in its messages: `Duplicate entry 'ana@x' for key
/// 'users.email'`, `Incorrect integer value: '12a' for column ...`, `Truncated
/// incorrect DOUBLE value: 'x'`. The value becomes `'***'`; names stay. Values are not
/// escaped there, so a value is everything up to the last text that can follow it.
fn message_without_values(number: u16, message: &str) -> String {
    let (start, ends): (&str, &[&str]) = match number {
        // ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME
        1062 | 1586 => ("Duplicate entry '", &["' for key '"]),
        // ER_TRUNCATED_WRONG_VALUE, ER_TRUNCATED_WRONG_VALUE_FOR_FIELD,
        // ER_WRONG_VALUE_FOR_TYPE
        1292 | 1366 | 1411 => (" value: '", &["' for column ", "' for function "]),
        _ => return message.to_owned(),
    };
    let Some(at) = message.find(start) else {
        return message.to_owned();
    };
    let value_at = at + start.len();
    let rest = &message[value_at..];
    let end = ends
        .iter()
        .filter_map(|end| rest.rfind(end))
        .max()
        .or_else(|| rest.rfind('\''))
        .unwrap_or(rest.len());
    format!("{}***{}", &message[..value_at], &rest[end..])
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
    fn refused_values_leave_the_message() {
        assert_eq!(
            message_without_values(1062, "Duplicate entry 'a@b' for key 'users.email'"),
            "Duplicate entry '***' for key 'users.email'"
        );
        assert_eq!(
            message_without_values(
                1366,
                "Incorrect integer value: '12a' for column `test`.`t`.`n` at row 1"
            ),
            "Incorrect integer value: '***' for column `test`.`t`.`n` at row 1"
        );
        assert_eq!(
            message_without_values(1292, "Truncated incorrect DOUBLE value: 'x'y'"),
            "Truncated incorrect DOUBLE value: '***'"
        );
        let unknown = "Unknown column 'nmae' in 'field list'";
        assert_eq!(message_without_values(1054, unknown), unknown);
    }

    proptest::proptest! {
        /// However the value is made (quotes, the text that follows a value), none of
        /// it stays, and the key's name does.
        #[test]
        fn no_refused_value_survives(value in "\\PC{0,30}", quirk in 0usize..3) {
            let value = match quirk {
                0 => format!("§{value}"),
                1 => format!("§{value}' for key 'x"),
                _ => format!("§'{value}'"),
            };
            let duplicate = format!("Duplicate entry '{value}' for key 'users.email'");
            let shown = message_without_values(1062, &duplicate);
            proptest::prop_assert!(!shown.contains('§'), "{}", shown);
            proptest::prop_assert!(shown.ends_with("' for key 'users.email'"), "{}", shown);
            let wrong = format!("Incorrect integer value: '{value}' for column `t`.`n` at row 1");
            let shown = message_without_values(1366, &wrong);
            proptest::prop_assert!(!shown.contains('§'), "{}", shown);
        }
    }

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
