//! Point queries and a 10k-row select at the wire floor: txova-db's pooled `Db`
//! against tokio-postgres on one connection (the floor) and hand-written sqlx with a
//! default `PgPool`, on the current-thread and the multi-thread runtime.
//!
//! Rows per workload and runtime:
//! - `tokio_postgres`: one `Client`, the statement prepared once, rows decoded by index.
//! - `sqlx_pgpool`: `sqlx::query_as` with `FromRow` (columns by name) on
//!   `PgPool::connect(url)`, sqlx's defaults.
//! - `txova_db`: `User::find` / `User::select()` on `Db::connect(url)`, txova-db's
//!   defaults.
//! - `sqlx_dedicated` (point query only): the statement txova-db runs, on one
//!   `PgConnection` held for the whole run: what the pool costs is the difference.
//!
//! Each row spreads its work over [`CONNECTIONS`] connections used in turn (iteration
//! `i` on connection `i % CONNECTIONS`): on a 2-vCPU guest a point query's cost swings
//! up to 3x with the vCPU the OS gives each connection's server process, so a row on
//! one connection measures its luck. tokio-postgres gets that many clients, sqlx a
//! `PgPool` warmed to that many connections (which it hands out in turn), txova-db that
//! many `Db` handles of one connection each (its pool hands out the most recent idle
//! connection, so one `Db` would use one), the dedicated row that many `PgConnection`s.
//!
//! Each measured loop runs in a spawned task (on the multi-thread runtime, on a worker,
//! as a request handler would). After criterion's report the bench runs every row again
//! in interleaved rounds and prints one table: the median wall time and client CPU time
//! (`CLOCK_PROCESS_CPUTIME_ID`) per query of each row, the ratios to the floor (medians
//! of per-round ratios, so drift on a shared machine cancels), and the pool efficiency
//! (dedicated connection time / pooled time).
//!
//! `cargo bench -p txova-db --bench wire_floor` (needs Postgres: see DEVELOPERS.md);
//! `-- --skip point_query` and the like select criterion rows as usual.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

#[allow(dead_code)] // the bulk-insert helpers are for the other benches
mod common;
mod rounds;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::runtime::Runtime;
use txova_db::{Db, DbConfig, Table, sqlx};

use common::{CREATE_TABLE, SqlxUser, User, find_sql, rows, select_all_sql, tokio_postgres_config};
use rounds::{Body, Rounds, body, interleave, median, nth, ratio, timed_with_cpu};
use txova_db_test_support::{Service, server_url, unique_name};

const ROWS: i64 = 10_000;

/// Connections each row spreads its work over, used in turn.
const CONNECTIONS: usize = 4;

/// One tokio-postgres client with its statements prepared.
type TokioPostgres = (
    tokio_postgres::Client,
    tokio_postgres::Statement,
    tokio_postgres::Statement,
);

/// Everything the rows run on, set up once.
struct Setup {
    schema: String,
    base_url: String,
    tokio_postgres: Arc<Vec<TokioPostgres>>,
    sqlx_pool: PgPool,
    sqlx_dedicated: Arc<Vec<tokio::sync::Mutex<PgConnection>>>,
    dbs: Arc<Vec<Db>>,
}

fn runtimes() -> [(&'static str, Runtime); 2] {
    [
        (
            "current_thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
        (
            "multi_thread",
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
    ]
}

async fn setup(url: &str) -> Setup {
    let schema = unique_name("wire_floor");
    let admin = PgPool::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let separator = if url.contains('?') { '&' } else { '?' };
    let in_schema = format!("{url}{separator}options[search_path]={schema}");

    let db = Db::connect(&in_schema).await.unwrap();
    db.execute_script(CREATE_TABLE).await.unwrap();
    User::insert_many(&rows(ROWS as i32))
        .execute(&db)
        .await
        .unwrap();
    db.execute("VACUUM ANALYZE bench_users").await.unwrap();

    db.close().await;

    let mut tokio_postgres = Vec::new();
    let mut sqlx_dedicated = Vec::new();
    let mut dbs = Vec::new();
    for _ in 0..CONNECTIONS {
        let (client, connection) =
            tokio_postgres::connect(&tokio_postgres_config(url, &schema), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(connection);
        let find = client.prepare(find_sql()).await.unwrap();
        let all = client.prepare(select_all_sql()).await.unwrap();
        tokio_postgres.push((client, find, all));
        sqlx_dedicated.push(tokio::sync::Mutex::new(
            PgConnection::connect(&in_schema).await.unwrap(),
        ));
        dbs.push(
            Db::connect_with(DbConfig {
                max_connections: 1,
                ..DbConfig::new(in_schema.as_str())
            })
            .await
            .unwrap(),
        );
    }
    let sqlx_pool = PgPoolOptions::new()
        .max_connections(CONNECTIONS as u32)
        .connect(&in_schema)
        .await
        .unwrap();
    // Warm it to all its connections, so it hands each out in turn.
    let warm = (0..CONNECTIONS).map(|_| sqlx::query("SELECT pg_sleep(0.05)").execute(&sqlx_pool));
    for done in futures_util::future::join_all(warm).await {
        done.unwrap();
    }

    Setup {
        schema,
        base_url: url.to_owned(),
        tokio_postgres: Arc::new(tokio_postgres),
        sqlx_pool,
        sqlx_dedicated: Arc::new(sqlx_dedicated),
        dbs: Arc::new(dbs),
    }
}

struct Workload {
    name: &'static str,
    /// Criterion's sample count and measurement time.
    samples: usize,
    measurement: Duration,
    /// Iterations per row per interleaved round, and rounds.
    batch: u64,
    rounds: usize,
    rows: Vec<(&'static str, Body)>,
}

fn workloads(s: &Setup) -> Vec<Workload> {
    let find_sql = find_sql();
    let all_sql = select_all_sql();
    let tp = &s.tokio_postgres;
    let point = vec![
        ("tokio_postgres", {
            let tp = Arc::clone(tp);
            body(move |i| {
                let tp = Arc::clone(&tp);
                async move {
                    let (client, find, _) = nth(&tp, i);
                    let row = client.query_opt(find, &[&id_of(i)]).await.unwrap();
                    black_box(row.as_ref().map(tp_user));
                }
            })
        }),
        ("sqlx_pgpool", {
            let pool = s.sqlx_pool.clone();
            body(move |i| {
                let pool = pool.clone();
                async move {
                    let user: Option<SqlxUser> = sqlx::query_as(find_sql)
                        .bind(id_of(i))
                        .fetch_optional(&pool)
                        .await
                        .unwrap();
                    black_box(user.map(|u| (u.id, u.name, u.email, u.age, u.score, u.nickname)));
                }
            })
        }),
        ("sqlx_dedicated", {
            let conn = Arc::clone(&s.sqlx_dedicated);
            body(move |i| {
                let conn = Arc::clone(&conn);
                async move {
                    let mut conn = nth(&conn, i).lock().await;
                    let user: Option<SqlxUser> = sqlx::query_as(find_sql)
                        .bind(id_of(i))
                        .fetch_optional(&mut *conn)
                        .await
                        .unwrap();
                    black_box(user.map(|u| (u.id, u.name, u.email, u.age, u.score, u.nickname)));
                }
            })
        }),
        ("txova_db", {
            let dbs = Arc::clone(&s.dbs);
            body(move |i| {
                let dbs = Arc::clone(&dbs);
                async move {
                    black_box(User::find(nth(&dbs, i), id_of(i)).await.unwrap());
                }
            })
        }),
    ];
    let select = vec![
        ("tokio_postgres", {
            let tp = Arc::clone(tp);
            body(move |i| {
                let tp = Arc::clone(&tp);
                async move {
                    let (client, _, all) = nth(&tp, i);
                    let rows = client.query(all, &[]).await.unwrap();
                    let users: Vec<User> = rows.iter().map(tp_user).collect();
                    assert_eq!(users.len() as i64, ROWS);
                    black_box(users);
                }
            })
        }),
        ("sqlx_pgpool", {
            let pool = s.sqlx_pool.clone();
            body(move |_| {
                let pool = pool.clone();
                async move {
                    let users: Vec<SqlxUser> =
                        sqlx::query_as(all_sql).fetch_all(&pool).await.unwrap();
                    assert_eq!(users.len() as i64, ROWS);
                    black_box(users);
                }
            })
        }),
        ("txova_db", {
            let dbs = Arc::clone(&s.dbs);
            body(move |i| {
                let dbs = Arc::clone(&dbs);
                async move {
                    let users = User::select().fetch_all(nth(&dbs, i)).await.unwrap();
                    assert_eq!(users.len() as i64, ROWS);
                    black_box(users);
                }
            })
        }),
    ];
    vec![
        Workload {
            name: "point_query",
            samples: 40,
            measurement: Duration::from_secs(4),
            batch: 200,
            rounds: 40,
            rows: point,
        },
        Workload {
            name: "select_10k",
            samples: 20,
            measurement: Duration::from_secs(6),
            batch: 4,
            rounds: 24,
            rows: select,
        },
    ]
}

/// Runs `row` for iterations `0..iters` inside one task of `rt`; returns the time taken.
fn timed(rt: &Runtime, iters: u64, row: &Body) -> Duration {
    timed_with_cpu(rt, iters, row).0
}

fn id_of(i: u64) -> i64 {
    (i as i64 * 7919) % ROWS + 1
}

fn tp_user(row: &tokio_postgres::Row) -> User {
    User {
        id: row.get(0),
        name: row.get(1),
        email: row.get(2),
        age: row.get(3),
        score: row.get(4),
        nickname: row.get(5),
    }
}

fn criterion_rows(c: &mut Criterion, setups: &[(&'static str, Runtime, Vec<Workload>)]) {
    for (rt_name, rt, workloads) in setups {
        for workload in workloads {
            let mut group = c.benchmark_group(format!("{}/{rt_name}", workload.name));
            group
                .sample_size(workload.samples)
                .measurement_time(workload.measurement);
            for (name, row) in &workload.rows {
                group.bench_function(*name, |b| b.iter_custom(|iters| timed(rt, iters, row)));
            }
            group.finish();
        }
    }
}

/// Criterion measures one row after another, so drift on a shared machine lands on
/// one row only. For the ratios, each round runs a batch of every row, in a rotating
/// order; a ratio is the median of the per-round ratios, a time the median of its
/// rounds. Wall time and client CPU time both.
fn interleaved_report(setups: &[(&'static str, Runtime, Vec<Workload>)]) {
    println!();
    println!(
        "wire floor, interleaved rounds (medians), each row over {CONNECTIONS} connections in \
         turn: ratios to tokio-postgres"
    );
    println!(
        "{:<28} {:>5} {:>11} {:>12} {:>11} {:>9} {:>9} {:>10}",
        "workload", "", "tokio-pg", "sqlx PgPool", "txova-db", "sqlx/tp", "txova/tp", "pool eff."
    );
    for (rt_name, rt, workloads) in setups {
        for workload in workloads {
            let bodies: Vec<Body> = workload.rows.iter().map(|(_, b)| Arc::clone(b)).collect();
            let Rounds { wall, cpu } = interleave(rt, &bodies, workload.batch, workload.rounds);
            let index = |row: &str| workload.rows.iter().position(|(name, _)| *name == row);
            let (Some(tp), Some(sqlx), Some(txova)) = (
                index("tokio_postgres"),
                index("sqlx_pgpool"),
                index("txova_db"),
            ) else {
                continue;
            };
            for (measure, micros) in [("wall", &wall), ("cpu", &cpu)] {
                let per_round = |a: usize, b: usize| ratio(micros, a, b);
                let efficiency = index("sqlx_dedicated")
                    .map(|dedicated| format!("{:.3}", per_round(dedicated, txova)))
                    .unwrap_or_else(|| "-".into());
                let time = |row: usize| median(micros[row].clone());
                println!(
                    "{:<28} {:>5} {:>8.1} µs {:>9.1} µs {:>8.1} µs {:>9.3} {:>9.3} {:>10}",
                    format!("{}/{rt_name}", workload.name),
                    measure,
                    time(tp),
                    time(sqlx),
                    time(txova),
                    per_round(sqlx, tp),
                    per_round(txova, tp),
                    efficiency
                );
            }
        }
    }
    println!(
        "pool eff.: sqlx on dedicated PgConnections / txova-db through its pool, same SQL \
         (charges txova-db's whole layer, not only the pool); cpu: the client process's \
         CPU time per query"
    );
}

fn main() {
    let Some(url) = server_url(Service::Postgres, "wire_floor bench") else {
        return;
    };
    let mut setups = Vec::new();
    let mut benched = Vec::new();
    for (name, rt) in runtimes() {
        let setup = rt.block_on(setup(&url));
        benched.push((name, rt, workloads(&setup)));
        setups.push(setup);
    }
    {
        let mut criterion = Criterion::default().configure_from_args();
        criterion_rows(&mut criterion, &benched);
        criterion.final_summary();
    }
    interleaved_report(&benched);
    for ((_, rt, workloads), s) in benched.into_iter().zip(setups) {
        drop(workloads);
        rt.block_on(async {
            for db in s.dbs.iter() {
                db.close().await;
            }
            s.sqlx_pool.close().await;
            let admin = Db::connect(&s.base_url).await.unwrap();
            admin
                .execute(&format!("DROP SCHEMA {} CASCADE", s.schema))
                .await
                .unwrap();
            admin.close().await;
        });
    }
}
