#![allow(unreachable_pub, missing_docs, clippy::unwrap_used)]
//! Integration tests against real servers: Postgres and Redis from the environment or
//! this machine's services (see DEVELOPERS.md), SQLite in temporary files, MariaDB
//! with the `mysql` feature. One test binary, so the workspace links it once.

mod support;
mod tcp_proxy;
mod telemetry_capture;

mod builder;
mod bulk_copy;
#[cfg(feature = "redis")]
mod cache;
mod cancellation;
mod connect;
mod connections;
mod db_handle;
#[cfg(feature = "mysql")]
mod errors_mysql;
mod errors_postgres;
mod errors_sqlite;
mod explicit_transactions;
mod faults;
mod golden_sql;
#[cfg(feature = "redis")]
mod kv;
#[cfg(feature = "redis")]
mod listen;
mod locks;
mod migrations;
#[cfg(feature = "persistent-store")]
mod persistent_store;
mod plans;
mod pool;
mod prepared;
mod properties;
mod query_assertions;
#[cfg(feature = "redis")]
mod rate_limits;
mod raw_query;
mod resilience;
#[cfg(feature = "redis")]
mod round_trips;
mod secrets;
#[cfg(feature = "redis")]
mod sessions;
mod soak;
mod streaming;
mod surface;
mod telemetry;
mod timeouts;
mod transactions;
#[cfg(feature = "mysql")]
mod transactions_mysql;
