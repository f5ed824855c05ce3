//! PostgreSQL (and wire-compatible servers): errors carry a SQLSTATE, the constraint
//! and the table.

use super::{Backend, Engine, ServerError};
use crate::error::kind_for_sqlstate;

impl Engine for sqlx::Postgres {
    const BACKEND: Backend = Backend::Postgres;

    fn read_error(error: &dyn sqlx::error::DatabaseError) -> Option<ServerError> {
        let pg = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
        Some(ServerError {
            backend: Backend::Postgres,
            kind: kind_for_sqlstate(pg.code()),
            code: pg.code().to_owned(),
            constraint: pg.constraint().map(str::to_owned),
            table: pg.table().map(str::to_owned),
            message: message_without_values(pg.code(), pg.message()),
        })
    }
}

/// Postgres keeps row values out of its messages (they go in the detail, which errors
/// never show) except in data exceptions, which quote the value they could not take:
/// `invalid input syntax for type integer: "12a"`, `value "99999999999" is out of range
/// for type integer`. Those quoted values become `"***"`.
fn message_without_values(sqlstate: &str, message: &str) -> String {
    if !sqlstate.starts_with("22") {
        return message.to_owned();
    }
    let parts: Vec<&str> = message.split('"').collect();
    match parts.as_slice() {
        [first, .., last] => {
            // With an even number of quotes the last one closes a value and what
            // follows is the server's text; with an odd number (a value holding a
            // quote) nothing after the first quote is kept.
            let after = if parts.len() % 2 == 1 { *last } else { "" };
            format!("{first}\"***\"{after}")
        }
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::message_without_values;

    #[test]
    fn data_exceptions_lose_their_values_and_nothing_else_changes() {
        assert_eq!(
            message_without_values("22P02", r#"invalid input syntax for type integer: "12a""#),
            r#"invalid input syntax for type integer: "***""#
        );
        assert_eq!(
            message_without_values(
                "22003",
                r#"value "99999999999" is out of range for type integer"#
            ),
            r#"value "***" is out of range for type integer"#
        );
        assert_eq!(
            message_without_values("22P02", r#"invalid input value for enum mood: "sa"d""#),
            r#"invalid input value for enum mood: "***""#
        );
        let unique = r#"duplicate key value violates unique constraint "users_email_key""#;
        assert_eq!(message_without_values("23505", unique), unique);
    }

    proptest::proptest! {
        #[test]
        fn no_quoted_value_survives(value in "\\PC{0,30}") {
            for message in [
                format!("invalid input syntax for type uuid: \"§{value}\""),
                format!("value \"§{value}\" is out of range for type integer"),
            ] {
                let shown = message_without_values("22P02", &message);
                proptest::prop_assert!(!shown.contains('§'), "{} -> {}", message, shown);
            }
        }
    }
}
