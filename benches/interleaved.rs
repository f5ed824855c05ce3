//! Interleaved rounds with medians: txova-db against hand-written sqlx on a noisy
//! machine.
//!
//! Criterion measures one function after the other, so anything that drifts during
//! the run (autovacuum after the bulk insert, a neighbour on the host) lands on one
//! side only. Here each round runs both sides, alternating which goes first, and the
//! report is the median of the per-round ratios' inputs.
//!
//! `cargo bench -p txova-db --bench interleaved` prints the ratios. With
//! `INTERLEAVED_ONLY=sqlx` or `=txova` it runs 3,000 `find`s of one side and nothing
//! else, for `valgrind --tool=callgrind` or `strace -c` to count that side's work.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

mod common;

use std::hint::black_box;
use std::time::Instant;

use sqlx::PgPool;
use txova_db::{Db, Table, sqlx};

use common::{CREATE_TABLE, SqlxUser, User, find_sql, insert_row_by_row, rows, select_all_sql};
use txova_db_test_support::{Service, server_url, unique_name};

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

async fn sqlx_find(pool: &PgPool, sql: &'static str, id: i64) {
    let user: Option<SqlxUser> = sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap();
    black_box(user.map(|u| (u.id, u.name, u.email, u.age, u.score, u.nickname)));
}

async fn txova_find(db: &Db, id: i64) {
    black_box(User::find(db, id).await.unwrap());
}

fn main() {
    let Some(url) = server_url(Service::Postgres, "interleaved bench") else {
        return;
    };
    let find_sql = find_sql();
    let all_sql = select_all_sql();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let schema = unique_name("bench");
        let admin = PgPool::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();
        let separator = if url.contains('?') { '&' } else { '?' };
        let pool = PgPool::connect(&format!("{url}{separator}options[search_path]={schema}"))
            .await
            .unwrap();
        sqlx::raw_sql(CREATE_TABLE)
        .execute(&pool)
        .await
        .unwrap();
        let db = Db::from(pool.clone());
        let rows = rows(10_000);
        User::insert_many(&rows).execute(&db).await.unwrap();
        sqlx::raw_sql("VACUUM ANALYZE bench_users")
            .execute(&pool)
            .await
            .unwrap();

        match std::env::var("INTERLEAVED_ONLY").as_deref() {
            Ok("sqlx") => {
                for i in 0..3000 {
                    sqlx_find(&pool, find_sql, i % 10_000 + 1).await;
                }
            }
            Ok("txova") => {
                for i in 0..3000 {
                    txova_find(&db, i % 10_000 + 1).await;
                }
            }
            _ => {
                let (mut sqlx_us, mut txova_us) = (Vec::new(), Vec::new());
                for round in 0..80_i64 {
                    for side in [round % 2, (round + 1) % 2] {
                        let started = Instant::now();
                        for i in 0..200 {
                            let id = (i * 7 + round) % 10_000 + 1;
                            if side == 0 {
                                sqlx_find(&pool, find_sql, id).await;
                            } else {
                                txova_find(&db, id).await;
                            }
                        }
                        let micros = started.elapsed().as_secs_f64() / 200.0 * 1e6;
                        if side == 0 {
                            sqlx_us.push(micros)
                        } else {
                            txova_us.push(micros)
                        }
                    }
                }
                let (s, t) = (median(sqlx_us), median(txova_us));
                println!(
                    "find_by_pk: sqlx {s:.1} µs, txova-db {t:.1} µs, ratio {:.3}",
                    t / s
                );

                let (mut sqlx_ms, mut txova_ms) = (Vec::new(), Vec::new());
                for round in 0..24 {
                    for side in [round % 2, (round + 1) % 2] {
                        let started = Instant::now();
                        let n = if side == 0 {
                            let users: Vec<SqlxUser> =
                                sqlx::query_as(all_sql).fetch_all(&pool).await.unwrap();
                            users.len()
                        } else {
                            User::select().fetch_all(&db).await.unwrap().len()
                        };
                        black_box(n);
                        let millis = started.elapsed().as_secs_f64() * 1e3;
                        if side == 0 {
                            sqlx_ms.push(millis)
                        } else {
                            txova_ms.push(millis)
                        }
                    }
                }
                let (s, t) = (median(sqlx_ms), median(txova_ms));
                println!(
                    "select_10k: sqlx {s:.2} ms, txova-db {t:.2} ms, ratio {:.3}",
                    t / s
                );

                let (mut by_row_ms, mut many_ms) = (Vec::new(), Vec::new());
                for round in 0..6 {
                    for side in [round % 2, (round + 1) % 2] {
                        sqlx::query("TRUNCATE bench_users").execute(&pool).await.unwrap();
                        let started = Instant::now();
                        if side == 0 {
                            insert_row_by_row(&pool, &rows).await;
                        } else {
                            User::insert_many(&rows).execute(&db).await.unwrap();
                        }
                        let millis = started.elapsed().as_secs_f64() * 1e3;
                        if side == 0 {
                            by_row_ms.push(millis)
                        } else {
                            many_ms.push(millis)
                        }
                    }
                }
                let (r, m) = (median(by_row_ms), median(many_ms));
                println!(
                    "insert_10k: row by row in one transaction {r:.1} ms, insert_many {m:.1} ms, {:.1}x faster",
                    r / m
                );
            }
        }
        pool.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .unwrap();
    });
}
