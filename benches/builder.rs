//! The typed builder against hand-written sqlx, in the same run on the same pool.
//!
//! - `find_by_pk`: `User::find` vs `sqlx::query_as` with the same SQL (target ≤ 1.02×).
//! - `select_10k`: a 10,000-row typed select vs `sqlx::query_as` (target ≤ 1.02×).
//! - `insert_10k`: `insert_many` vs row-by-row inserts in one transaction (≥ 25× faster).
//! - `sql_generation`: rendering a three-filter select (≤ 1 µs).
//!
//! Postgres comes from `TXOVA_TEST_POSTGRES_URL` or the local default; without one only
//! `sql_generation` runs. Run with `cargo bench -p txova-db --bench builder`.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::runtime::Runtime;
use txova_db::{Db, Table, sqlx};

use common::{CREATE_TABLE, SqlxUser, User, find_sql, insert_row_by_row, rows, select_all_sql};
use txova_db_test_support::{Service, server_url, unique_name};

struct Fixture {
    rt: Runtime,
    pool: PgPool,
    db: Db,
    admin: PgPool,
    schema: String,
}

fn fixture() -> Option<Fixture> {
    let url = server_url(Service::Postgres, "builder bench")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let schema = unique_name("bench");
    let (pool, admin) = rt.block_on(async {
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();
        let separator = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{separator}options[search_path]={schema}");
        let pool = PgPool::connect(&scoped).await.unwrap();
        sqlx::raw_sql(CREATE_TABLE).execute(&pool).await.unwrap();
        (pool, admin)
    });
    let db = Db::from(pool.clone());
    Some(Fixture {
        rt,
        pool,
        db,
        admin,
        schema,
    })
}

fn bench(c: &mut Criterion) {
    sql_generation(c);
    let Some(fx) = fixture() else {
        return;
    };
    let (find, all) = (find_sql(), select_all_sql());
    fx.rt.block_on(async {
        User::insert_many(&rows(10_000))
            .execute(&fx.db)
            .await
            .unwrap();
    });

    let mut group = c.benchmark_group("find_by_pk");
    group.measurement_time(Duration::from_secs(8));
    let mut id = 0_i64;
    group.bench_function("sqlx_query_as", |b| {
        b.iter(|| {
            id = id % 10_000 + 1;
            fx.rt.block_on(async {
                let user: Option<SqlxUser> = sqlx::query_as(find)
                    .bind(id)
                    .fetch_optional(&fx.pool)
                    .await
                    .unwrap();
                black_box(user.map(|u| (u.id, u.name, u.email, u.age, u.score, u.nickname)))
            })
        })
    });
    group.bench_function("txova_find", |b| {
        b.iter(|| {
            id = id % 10_000 + 1;
            fx.rt
                .block_on(async { black_box(User::find(&fx.db, id).await.unwrap()) })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("select_10k");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("sqlx_query_as", |b| {
        b.iter(|| {
            fx.rt.block_on(async {
                let users: Vec<SqlxUser> = sqlx::query_as(all).fetch_all(&fx.pool).await.unwrap();
                black_box(users.len())
            })
        })
    });
    group.bench_function("txova_select", |b| {
        b.iter(|| {
            fx.rt.block_on(async {
                black_box(User::select().fetch_all(&fx.db).await.unwrap().len())
            })
        })
    });
    group.finish();

    let batch = rows(10_000);
    let mut group = c.benchmark_group("insert_10k");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    // Each sample starts from an empty table; only the insert itself is timed.
    let timed_on_empty_table = |iters: u64, insert: &dyn Fn()| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            fx.rt.block_on(async {
                sqlx::query("TRUNCATE bench_users")
                    .execute(&fx.pool)
                    .await
                    .unwrap();
            });
            let started = Instant::now();
            insert();
            total += started.elapsed();
        }
        total
    };
    group.bench_function("sqlx_row_by_row_in_one_transaction", |b| {
        b.iter_custom(|iters| {
            timed_on_empty_table(iters, &|| {
                fx.rt.block_on(insert_row_by_row(&fx.pool, &batch));
            })
        })
    });
    group.bench_function("txova_insert_many", |b| {
        b.iter_custom(|iters| {
            timed_on_empty_table(iters, &|| {
                black_box(
                    fx.rt
                        .block_on(User::insert_many(&batch).execute(&fx.db))
                        .unwrap(),
                );
            })
        })
    });
    group.finish();

    fx.rt.block_on(async {
        fx.pool.close().await;
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            fx.schema
        )))
        .execute(&fx.admin)
        .await;
    });
}

fn sql_generation(c: &mut Criterion) {
    c.bench_function("sql_generation/three_filter_select", |b| {
        b.iter(|| {
            let query = User::select()
                .filter(User::age.ge(black_box(18)))
                .filter(User::name.eq(black_box("Ana")))
                .filter(User::nickname.is_null())
                .order_by(User::id.desc())
                .limit(20);
            black_box(query.to_sql())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
