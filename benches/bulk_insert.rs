//! Bulk inserts on Postgres, side by side in one process: `insert_many` (binary `COPY`
//! from [`COPY_MIN_ROWS`](txova_db::Insert::COPY_MIN_ROWS) rows, one `UNNEST` statement
//! below), the same with `.without_copy()` (always `UNNEST`), one `INSERT` per row in
//! one transaction (sqlx, the baseline the target is stated against), and
//! tokio-postgres' `BinaryCopyInWriter` (the floor for a binary `COPY`).
//!
//! Every row inserts the same 5-column rows into the same table, spread over
//! [`CONNECTIONS`] connections used in turn, in interleaved rounds with rotating order;
//! ratios are medians of per-round ratios, of wall time and of the client's CPU time.
//!
//! `cargo bench -p txova-db --bench bulk_insert` (needs Postgres; about a minute).

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

#[allow(dead_code)] // the point-query helpers are for the other benches
mod common;
#[allow(dead_code)]
mod rounds;

use std::sync::Arc;

use futures_util::pin_mut;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use txova_db::{Db, DbConfig, Table, sqlx};

use common::{CREATE_TABLE, User, insert_row_by_row, rows, tokio_postgres_config};
use rounds::{Body, body, interleave, median, nth, ratio};
use txova_db_test_support::{Service, server_url, unique_name};

/// Connections each row spreads its work over, used in turn.
const CONNECTIONS: usize = 4;

const NAMES: [&str; 4] = [
    "row by row (sqlx, one tx)",
    "insert_many, UNNEST",
    "insert_many",
    "tokio-postgres binary COPY",
];

async fn tokio_postgres_copy(client: &tokio_postgres::Client, rows: &[User]) {
    let sink = client
        .copy_in("COPY bench_users (name, email, age, score, nickname) FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    let types = [Type::TEXT, Type::TEXT, Type::INT4, Type::FLOAT8, Type::TEXT];
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for u in rows {
        let values: [&(dyn ToSql + Sync); 5] = [&u.name, &u.email, &u.age, &u.score, &u.nickname];
        writer.as_mut().write(&values).await.unwrap();
    }
    writer.finish().await.unwrap();
}

fn main() {
    let Some(url) = server_url(Service::Postgres, "bulk_insert bench") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let schema = unique_name("bulk_insert");
    let separator = if url.contains('?') { '&' } else { '?' };
    let in_schema = format!("{url}{separator}options[search_path]={schema}");

    let (pools, dbs, clients) = rt.block_on(async {
        let admin = PgPool::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let db = Db::connect(&in_schema).await.unwrap();
        db.execute_script(CREATE_TABLE).await.unwrap();
        db.close().await;
        let (mut pools, mut dbs, mut clients) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..CONNECTIONS {
            pools.push(
                PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&in_schema)
                    .await
                    .unwrap(),
            );
            dbs.push(
                Db::connect_with(DbConfig {
                    max_connections: 1,
                    ..DbConfig::new(in_schema.as_str())
                })
                .await
                .unwrap(),
            );
            let (client, connection) = tokio_postgres::connect(
                &tokio_postgres_config(&url, &schema),
                tokio_postgres::NoTls,
            )
            .await
            .unwrap();
            tokio::spawn(connection);
            clients.push(client);
        }
        (Arc::new(pools), Arc::new(dbs), Arc::new(clients))
    });

    println!(
        "| rows | row | wall per insert | client CPU | wall vs row by row | wall vs the COPY floor | CPU vs the COPY floor |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (n, batch, rounds) in [(100, 10, 9), (1_000, 3, 9), (3_000, 2, 9), (10_000, 1, 9)] {
        let data = Arc::new(rows(n));
        let by_row: Body = {
            let (pools, data) = (Arc::clone(&pools), Arc::clone(&data));
            body(move |i| {
                let (pools, data) = (Arc::clone(&pools), Arc::clone(&data));
                async move { insert_row_by_row(nth(&pools, i), &data).await }
            })
        };
        let unnest: Body = {
            let (dbs, data) = (Arc::clone(&dbs), Arc::clone(&data));
            body(move |i| {
                let (dbs, data) = (Arc::clone(&dbs), Arc::clone(&data));
                async move {
                    User::insert_many(data.iter())
                        .without_copy()
                        .execute(nth(&dbs, i))
                        .await
                        .unwrap();
                }
            })
        };
        let insert_many: Body = {
            let (dbs, data) = (Arc::clone(&dbs), Arc::clone(&data));
            body(move |i| {
                let (dbs, data) = (Arc::clone(&dbs), Arc::clone(&data));
                async move {
                    User::insert_many(data.iter())
                        .execute(nth(&dbs, i))
                        .await
                        .unwrap();
                }
            })
        };
        let floor: Body = {
            let (clients, data) = (Arc::clone(&clients), Arc::clone(&data));
            body(move |i| {
                let (clients, data) = (Arc::clone(&clients), Arc::clone(&data));
                async move { tokio_postgres_copy(nth(&clients, i), &data).await }
            })
        };
        let rows_of = [by_row, unnest, insert_many, floor];
        // One warm-up round, not counted.
        interleave(&rt, &rows_of, 1, 1);
        let measured = interleave(&rt, &rows_of, batch, rounds);
        for (k, name) in NAMES.iter().enumerate() {
            println!(
                "| {n} | {name} | {:.2} ms | {:.2} ms | {:.1}x faster | {:.2}x | {:.2}x |",
                median(measured.wall[k].clone()) / 1e3,
                median(measured.cpu[k].clone()) / 1e3,
                ratio(&measured.wall, 0, k),
                ratio(&measured.wall, k, 3),
                ratio(&measured.cpu, k, 3),
            );
        }
    }

    rt.block_on(async {
        for db in dbs.iter() {
            db.close().await;
        }
        let admin = PgPool::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .unwrap();
    });
}
