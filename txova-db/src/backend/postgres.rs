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
        })
    }
}
